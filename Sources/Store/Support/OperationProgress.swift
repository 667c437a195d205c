import Synchronization

/// Live counters of a long operation (restore, check, prune, repair), for a progress display that
/// polls them from another thread while the operation runs. The operation knows nothing of how
/// they are shown.
///
/// Thread contract: any thread may add to the counters at any time (relaxed atomics: one add per
/// file, job or pack, never a lock on the hot path). The phase and the totals are set between the
/// operation's steps, by its own thread. A reader sees each counter exactly, but the counters
/// together only approximately (an add may fall between two loads); once the operation has
/// returned, they are final.
public final class OperationProgress: Sendable {
    /// What the operation is doing now, e.g. "restoring"; set with `enter`.
    public var phase: String { phaseName.withLock { $0 } }
    /// Items (files, packs) finished in this phase.
    public let itemsDone = Atomic<Int64>(0)
    /// Bytes finished in this phase.
    public let bytesDone = Atomic<Int64>(0)
    /// The phase's items and bytes in all; meaningful only while `totalsKnown`.
    public let itemsTotal = Atomic<Int64>(0)
    public let bytesTotal = Atomic<Int64>(0)
    /// Whether the phase's totals were known when it began (a percentage and ETA make sense).
    public let totalsKnown = Atomic<Bool>(false)

    private let phaseName = Mutex("starting")

    public init() {}

    /// Names the phase and keeps the counters (a step of the same work, or one without counts).
    public func enter(_ phase: String) {
        phaseName.withLock { $0 = phase }
    }

    /// Begins a phase whose work is `items` items of `bytes` bytes in all (`nil`: not known before
    /// it ends); the counters start again from zero.
    public func enter(_ phase: String, items: Int64?, bytes: Int64? = nil) {
        itemsDone.store(0, ordering: .relaxed)
        bytesDone.store(0, ordering: .relaxed)
        itemsTotal.store(items ?? 0, ordering: .relaxed)
        bytesTotal.store(bytes ?? 0, ordering: .relaxed)
        totalsKnown.store(items != nil, ordering: .relaxed)
        phaseName.withLock { $0 = phase }
    }

    /// Counts finished work.
    public func add(items: Int64 = 0, bytes: Int64 = 0) {
        if items != 0 { itemsDone.add(items, ordering: .relaxed) }
        if bytes != 0 { bytesDone.add(bytes, ordering: .relaxed) }
    }
}
