import Synchronization

/// Live counters of one push, published by its `SenderDriver` after every event and read by a
/// progress display on another thread (relaxed atomics: each counter is exact, the set of them
/// only approximately consistent while the push runs; final once it has returned).
public final class SenderProgress: Sendable {
    /// Versions sent in index batches, and the sequences that frame them: the receiver held
    /// `startSequence`, this push goes up to `highestSequence`, and has sent up to `sentSequence`.
    public let versionsSent = Atomic<Int64>(0)
    public let startSequence = Atomic<Int64>(0)
    public let sentSequence = Atomic<Int64>(0)
    public let highestSequence = Atomic<Int64>(0)
    /// Whether the receiver has asked for versions yet (`startSequence` is known).
    public let started = Atomic<Bool>(false)
    /// Blocks the receiver asked for so far (it asks batch by batch), those sent, and their stored bytes.
    public let blocksRequested = Atomic<Int64>(0)
    public let blocksSent = Atomic<Int64>(0)
    public let blockBytesSent = Atomic<Int64>(0)

    public init() {}

    /// Copies the session's counters.
    public func update(from session: SenderSession) {
        highestSequence.store(session.highestSequence, ordering: .relaxed)
        if let start = session.startSequence {
            startSequence.store(start, ordering: .relaxed)
            started.store(true, ordering: .relaxed)
        }
        sentSequence.store(session.sentSequence, ordering: .relaxed)
        versionsSent.store(Int64(session.versionsSent), ordering: .relaxed)
        blocksRequested.store(Int64(session.blocksRequested), ordering: .relaxed)
        blocksSent.store(Int64(session.blocksSent), ordering: .relaxed)
        blockBytesSent.store(session.blockBytesSent, ordering: .relaxed)
    }

    /// The part of the push done, 0 to 1, once the receiver has asked for versions: the part of
    /// the history sent (by sequence numbers) times the part of the blocks asked for so far that
    /// were sent; below 1 until the receiver has had everything it asked for.
    public var fraction: Double? {
        guard started.load(ordering: .relaxed) else { return nil }
        let start = startSequence.load(ordering: .relaxed)
        let span = highestSequence.load(ordering: .relaxed) - start
        let history = span > 0 ? Double(sentSequence.load(ordering: .relaxed) - start) / Double(span) : 1
        let requested = blocksRequested.load(ordering: .relaxed)
        let blocks = requested > 0 ? Double(blocksSent.load(ordering: .relaxed)) / Double(requested) : 1
        return min(0.999, max(0, history * blocks))
    }
}
