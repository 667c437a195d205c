#if canImport(Glibc)
import Glibc
#endif

/// Read-only descriptors of the files a `LocalBlobStorage` reads, kept open between reads so that
/// a restore or a check opens each pack once, not once per block. At most `capacity` are kept;
/// the least recently used goes first. A descriptor in use by a reader is closed only when that
/// reader is done, so no read ever lands on a descriptor number reused for another file.
/// Thread-safe.
final class DescriptorCache: @unchecked Sendable {
    // @unchecked: `state` is behind its mutex; an entry's descriptor is closed exactly once, by
    // whoever drops its last use after it left the table.
    private final class Entry {
        let descriptor: Int32
        var users = 0
        var lastUse: UInt64 = 0
        var evicted = false
        init(_ descriptor: Int32) { self.descriptor = descriptor }
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var clock: UInt64 = 0
    }

    let capacity: Int
    private let state = AdaptiveMutex(State())

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    deinit {
        state.withLock { state in
            for entry in state.entries.values { close(entry.descriptor) }
            state.entries.removeAll()
        }
    }

    /// Calls `body` with a read-only descriptor of `path`, opened on first use and kept for the
    /// next. Throws `.io` when the file cannot be opened; rethrows what `body` throws.
    func withDescriptor<Result>(_ path: String, _ body: (Int32) throws(StoreError) -> Result) throws(StoreError) -> Result {
        let entry = try acquire(path)
        defer { release(entry) }
        return try body(entry.descriptor)
    }

    /// Closes the descriptor of `path`, if one is kept (the file was deleted or replaced), once
    /// no reader uses it.
    func forget(_ path: String) {
        state.withLock { state in
            if let entry = state.entries.removeValue(forKey: path) { evict(entry) }
        }
    }

    private func acquire(_ path: String) throws(StoreError) -> Entry {
        try state.withLock { (state: inout State) throws(StoreError) -> Entry in
            state.clock += 1
            if let entry = state.entries[path] {
                entry.users += 1
                entry.lastUse = state.clock
                return entry
            }
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw .system("cannot open", path) }
            if state.entries.count >= capacity, let oldest = state.entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
                state.entries[oldest.key] = nil
                evict(oldest.value)
            }
            let entry = Entry(descriptor)
            entry.users = 1
            entry.lastUse = state.clock
            state.entries[path] = entry
            return entry
        }
    }

    private func release(_ entry: Entry) {
        state.withLock { _ in
            entry.users -= 1
            if entry.evicted && entry.users == 0 { close(entry.descriptor) }
        }
    }

    /// Called with the lock held, for an entry just taken out of the table.
    private func evict(_ entry: Entry) {
        entry.evicted = true
        if entry.users == 0 { close(entry.descriptor) }
    }
}
