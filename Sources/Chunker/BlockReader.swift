import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One block of a stream: where it sits, its ID, and (only for the duration of the callback that
/// receives it) its bytes.
public struct Block {
    public let offset: UInt64
    public let length: Int
    public let id: BlockID
    /// Valid only inside the callback; copy what must outlive it.
    public let bytes: UnsafeRawBufferPointer
}

/// Cuts a stream into blocks and hashes each, reading through one reused buffer so that a
/// multi-GiB file never sits in memory and no block costs an allocation.
///
/// With `parallelHashing`, a file read from a descriptor is cut a window of several MiB at a time
/// and the window's blocks are hashed by this thread and one more from the global thread pool, so
/// one large file no longer waits on one core's SHA-256 (cut points, 4–5× faster than hashing, stay
/// on this thread). Blocks still reach `body` in order, with the same cut points and IDs.
///
/// A reader is not thread-safe: give each worker its own. It may be reused for any number of files.
public final class BlockReader {
    public let parameters: ChunkerParameters
    public let parallelHashing: Bool
    private let hasher = SHA256Hasher()
    private var buffer: UnsafeMutableRawBufferPointer
    /// Reads are issued in pieces of at most this size, so the buffer refills without large stalls.
    private let readSize = 1 << 20
    /// A window is hashed on two threads only when it holds at least this many blocks: below it,
    /// handing work over costs more than it saves.
    static let parallelMinimumBlocks = 4

    public init(parameters: ChunkerParameters, parallelHashing: Bool = false) {
        self.parameters = parameters
        self.parallelHashing = parallelHashing
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 0, alignment: 64)
    }

    deinit { buffer.deallocate() }

    /// Makes sure the buffer can hold two maximum-size blocks plus one read, and at least 4 MiB (with
    /// parallel hashing, a window of about 3 MiB: 18 blocks of the default mean 167 KiB). An 8 MiB
    /// buffer hashed no faster, and four readers' buffers are the largest part of a backup's memory.
    private func ensureCapacity(forMaximumBlock maximum: Int) {
        let wanted = max(2 * maximum + readSize, 4 << 20)
        guard buffer.count < wanted else { return }
        buffer.deallocate()
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: wanted, alignment: 64)
    }

    /// Reads `fileDescriptor` from its current position to end of file and calls `body` for each
    /// block, in order. `fileSize` picks the fixed chunker's block size (nil: unknown).
    /// Returns the number of bytes read. Throws `ChunkerError.readFailed` on a read error (EINTR is
    /// retried), or whatever `body` throws.
    @discardableResult
    public func forEachBlock(fileDescriptor: Int32, fileSize: UInt64?,
                             _ body: (Block) throws -> Void) throws -> UInt64 {
        let finder = parameters.makeCutPointFinder(fileSize: fileSize)
        let maximum = finder.maximumBlockSize
        ensureCapacity(forMaximumBlock: maximum)
        // Sequentially, a refill keeps two maximum blocks ahead; in parallel, it fills the buffer.
        let fillTarget = parallelHashing ? buffer.count - readSize : maximum * 2
        let base = buffer.baseAddress!
        var start = 0          // first unconsumed byte in the buffer
        var end = 0            // one past the last valid byte
        var atEnd = false
        var offset: UInt64 = 0
        var window: HashWindow?
        while true {
            // Keep at least one maximum block available unless the file has ended.
            if !atEnd && end - start < maximum {
                if start > 0 {
                    if end > start { memmove(base, base + start, end - start) }
                    end -= start
                    start = 0
                }
                while !atEnd && end < fillTarget {
                    let want = min(readSize, buffer.count - end)
                    let count = read(fileDescriptor, base + end, want)
                    if count < 0 {
                        let code = errno
                        if code == EINTR { continue }
                        throw ChunkerError.readFailed(errno: code, message: String(cString: strerror(code)))
                    }
                    if count == 0 { atEnd = true } else { end += count }
                }
            }
            if start == end { return offset }
            if parallelHashing && end - start >= 2 * maximum {
                // Cut every block that is complete in the buffer, hash them on two threads, hand them on.
                let cuts = window ?? HashWindow()
                window = cuts
                cuts.reset()
                var position = start
                while position < end {
                    let available = UnsafeRawBufferPointer(start: base + position, count: end - position)
                    if !atEnd && available.count < maximum { break }
                    let length = finder.cutPoint(in: available, atEnd: atEnd)
                    cuts.append(start: position, length: length)
                    position += length
                }
                if cuts.count >= BlockReader.parallelMinimumBlocks {
                    cuts.hash(base: UnsafeRawPointer(base), with: hasher)
                    for index in 0..<cuts.count {
                        let (blockStart, length) = cuts.range(index)
                        try body(Block(offset: offset, length: length, id: cuts.id(index),
                                       bytes: UnsafeRawBufferPointer(start: base + blockStart, count: length)))
                        offset += UInt64(length)
                    }
                    start = position
                    continue
                }
            }
            let available = UnsafeRawBufferPointer(start: base + start, count: end - start)
            let length = finder.cutPoint(in: available, atEnd: atEnd)
            let bytes = UnsafeRawBufferPointer(rebasing: available[0..<length])
            let block = Block(offset: offset, length: length, id: hasher.hash(bytes), bytes: bytes)
            try body(block)
            start += length
            offset += UInt64(length)
        }
    }

    /// Cuts an in-memory buffer exactly as `forEachBlock(fileDescriptor:fileSize:)` cuts the same bytes
    /// when given their real size (with `fileSize: nil` the fixed chunker must assume 128 KiB blocks).
    public func forEachBlock(in bytes: UnsafeRawBufferPointer, _ body: (Block) throws -> Void) rethrows {
        let finder = parameters.makeCutPointFinder(fileSize: UInt64(bytes.count))
        var start = 0
        while start < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[start...])
            let window = UnsafeRawBufferPointer(rebasing: rest.prefix(finder.maximumBlockSize))
            let length = finder.cutPoint(in: window, atEnd: window.count == rest.count)
            let block = UnsafeRawBufferPointer(rebasing: rest[0..<length])
            try body(Block(offset: UInt64(start), length: length, id: hasher.hash(block), bytes: block))
            start += length
        }
    }
}

/// The blocks of one window of a `BlockReader`'s buffer and their IDs, hashed by the reader's thread
/// and one helper from the global pool, which take blocks from a shared counter. The reader hashes
/// until the counter runs out, then waits only for the block the helper is in the middle of; a helper
/// that starts late finds nothing left and touches nothing, so the window's memory is the reader's
/// again as soon as `hash` returns.
final class HashWindow: @unchecked Sendable {
    // @unchecked: `starts`, `lengths` and `ids` are written by the reader before `hash` and read after
    // it; during `hash`, each index is claimed exactly once through `next` and written by its claimer.
    private var starts: UnsafeMutableBufferPointer<Int> = .allocate(capacity: 0)
    private var lengths: UnsafeMutableBufferPointer<Int> = .allocate(capacity: 0)
    private var ids: UnsafeMutableBufferPointer<BlockID> = .allocate(capacity: 0)
    private(set) var count = 0

    deinit {
        starts.deallocate()
        lengths.deallocate()
        ids.deallocate()
    }

    func reset() { count = 0 }

    func append(start: Int, length: Int) {
        if count == starts.count {
            let capacity = max(64, 2 * count)
            let newStarts = UnsafeMutableBufferPointer<Int>.allocate(capacity: capacity)
            let newLengths = UnsafeMutableBufferPointer<Int>.allocate(capacity: capacity)
            _ = newStarts.initialize(from: starts)
            _ = newLengths.initialize(from: lengths)
            starts.deallocate()
            lengths.deallocate()
            ids.deallocate()
            starts = newStarts
            lengths = newLengths
            ids = .allocate(capacity: capacity)
        }
        starts[count] = start
        lengths[count] = length
        count += 1
    }

    func range(_ index: Int) -> (start: Int, length: Int) { (starts[index], lengths[index]) }
    func id(_ index: Int) -> BlockID { ids[index] }

    /// One window's shared progress; a fresh one per window, so a helper still holding an old one
    /// can never claim blocks of the next window.
    private final class Claims: Sendable {
        let next = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
    }

    /// Hashes every block of the window (bytes at `base + start`) into `ids`, on this thread and one
    /// pool thread.
    func hash(base: UnsafeRawPointer, with hasher: SHA256Hasher) {
        let claims = Claims()
        let total = count
        let work = { [self] (hasher: SHA256Hasher) in
            while true {
                let index = claims.next.add(1, ordering: .relaxed).oldValue
                guard index < total else { return }
                (ids.baseAddress! + index).initialize(to: hasher.hash(UnsafeRawBufferPointer(start: base + starts[index], count: lengths[index])))
                claims.finished.add(1, ordering: .releasing)
            }
        }
        let unsafeWork = UncheckedSendable(work)
        DispatchQueue.global().async { unsafeWork.value(SHA256Hasher()) }
        work(hasher)
        while claims.finished.load(ordering: .acquiring) < total { sched_yield() }
    }
}

/// Carries a closure that captures raw pointers into a pool thread; `HashWindow.hash` guarantees the
/// pointers are only used while the reader waits for it.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
