import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Wraps any `BlobStorage` and injects the faults it is given (errors, short reads, latency) into
/// the calls they match; every other call goes to the wrapped storage unchanged, so with no
/// faults it keeps every contract of the storage it wraps. For tests: what a vault does when its
/// storage fails. Thread-safe; faults can be changed while it is in use.
public final class FaultInjectingStorage: BlobStorage {
    public let base: any BlobStorage
    private struct Armed {
        var fault: StorageFault
        var seen = 0
        var hit = 0
    }
    private let armed: Mutex<[Armed]>
    private let hits = Mutex(0)

    public init(_ base: any BlobStorage, faults: [StorageFault] = []) {
        self.base = base
        armed = Mutex(faults.map { Armed(fault: $0) })
    }

    /// Replaces the faults (their counts start again).
    public func setFaults(_ faults: [StorageFault]) {
        armed.withLock { $0 = faults.map { Armed(fault: $0) } }
    }

    /// How many calls a fault has hit so far.
    public var injected: Int { hits.withLock { $0 } }

    /// Runs the faults that match a call of `operation` on `key`: waits out latencies, throws an
    /// injected error, and returns by how much a read is to come up short (0: not at all).
    func inject(_ operation: StorageFault.Operation, _ key: String) throws(StoreError) -> Int {
        let effects: [StorageFault.Effect] = armed.withLock { armed in
            var effects: [StorageFault.Effect] = []
            for index in armed.indices where armed[index].fault.operations.contains(operation) {
                guard armed[index].fault.keys?(key) ?? true else { continue }
                armed[index].seen += 1
                guard armed[index].seen > armed[index].fault.after else { continue }
                if let times = armed[index].fault.times, armed[index].hit >= times { continue }
                armed[index].hit += 1
                effects.append(armed[index].fault.effect)
            }
            return effects
        }
        guard !effects.isEmpty else { return 0 }
        hits.withLock { $0 += effects.count }
        var shortBy = 0
        for effect in effects {
            switch effect {
            case .latency(let seconds): usleep(UInt32(seconds * 1_000_000))
            case .error(let error): throw error
            case .ioError(let code): throw .io(path: base.location(of: key), operation: "injected fault: cannot \(operation.rawValue)", errno: code)
            case .shortRead(let count): shortBy = max(shortBy, count)
            }
        }
        return shortBy
    }

    public func put(_ key: String, _ bytes: UnsafeRawBufferPointer) throws(StoreError) {
        _ = try inject(.put, key)
        try base.put(key, bytes)
    }

    public func createIfAbsent(_ key: String, _ bytes: UnsafeRawBufferPointer) throws(StoreError) -> Bool {
        _ = try inject(.createIfAbsent, key)
        return try base.createIfAbsent(key, bytes)
    }

    public func upload(_ key: String) throws(StoreError) -> any BlobUpload {
        _ = try inject(.upload, key)
        return FaultInjectingUpload(try base.upload(key), key: key, storage: self)
    }

    public func readRange(_ key: String, at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(StoreError) -> Int {
        let shortBy = try inject(.read, key)
        guard shortBy > 0 else { return try base.readRange(key, at: offset, into: buffer) }
        // The backend hands back a truncated range: what it read, less the tail.
        let count = try base.readRange(key, at: offset, into: buffer)
        return max(0, count - shortBy)
    }

    public func size(of key: String) throws(StoreError) -> Int {
        _ = try inject(.size, key)
        return try base.size(of: key)
    }

    public func list(prefix: String) throws(StoreError) -> [String] {
        _ = try inject(.list, prefix)
        return try base.list(prefix: prefix)
    }

    public func delete(_ key: String) throws(StoreError) {
        _ = try inject(.delete, key)
        try base.delete(key)
    }

    public func syncDeletions(prefix: String) throws(StoreError) { try base.syncDeletions(prefix: prefix) }

    public func removeIncompleteUploads(prefix: String) throws(StoreError) { try base.removeIncompleteUploads(prefix: prefix) }

    public func location(of key: String) -> String { base.location(of: key) }
}

