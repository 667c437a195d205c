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
/// A reader is not thread-safe: give each worker its own. It may be reused for any number of files.
public final class BlockReader {
    public let parameters: ChunkerParameters
    private let hasher = SHA256Hasher()
    private var buffer: UnsafeMutableRawBufferPointer
    /// Reads are issued in pieces of at most this size, so the buffer refills without large stalls.
    private let readSize = 1 << 20

    public init(parameters: ChunkerParameters) {
        self.parameters = parameters
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 0, alignment: 64)
    }

    deinit { buffer.deallocate() }

    /// Makes sure the buffer can hold two maximum-size blocks plus one read.
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
        let base = buffer.baseAddress!
        var start = 0          // first unconsumed byte in the buffer
        var end = 0            // one past the last valid byte
        var atEnd = false
        var offset: UInt64 = 0
        while true {
            // Keep at least one maximum block available unless the file has ended.
            if !atEnd && end - start < maximum {
                if start > 0 {
                    if end > start { memmove(base, base + start, end - start) }
                    end -= start
                    start = 0
                }
                while !atEnd && end < maximum * 2 {
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
