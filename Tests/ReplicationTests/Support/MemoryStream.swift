import Foundation
@testable import Replication

/// One direction of an in-memory pipe: bytes written wait until read; a read waits for bytes or
/// the end. Unbounded, which a test can afford. Shared between two threads, guarded by its condition.
final class MemoryPipe: @unchecked Sendable {
    private let condition = NSCondition()
    private var buffer: [UInt8] = []
    private var closed = false

    func write(_ bytes: [UInt8]) throws(ReplicationError) {
        condition.lock()
        defer { condition.unlock() }
        guard !closed else { throw .transport("write to a closed memory pipe") }
        buffer += bytes
        condition.broadcast()
    }

    /// Up to `maximum` bytes; empty once the pipe is closed and drained.
    func read(maximum: Int) -> ArraySlice<UInt8> {
        condition.lock()
        defer { condition.unlock() }
        while buffer.isEmpty && !closed { condition.wait() }
        let count = min(maximum, buffer.count)
        let bytes = Array(buffer[..<count])
        buffer.removeFirst(count)
        return bytes[...]
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}

/// One end of a duplex pipe in memory: what one end writes, the other reads, each on its own
/// thread. Closing an end is what a process exiting does: its peer reads the end of the stream,
/// and its peer's writes fail.
final class MemoryStream: ByteStream, @unchecked Sendable {
    private let inbound: MemoryPipe
    private let outbound: MemoryPipe

    private init(inbound: MemoryPipe, outbound: MemoryPipe) {
        self.inbound = inbound
        self.outbound = outbound
    }

    /// Two connected ends.
    static func pair() -> (MemoryStream, MemoryStream) {
        let (forth, back) = (MemoryPipe(), MemoryPipe())
        return (MemoryStream(inbound: back, outbound: forth), MemoryStream(inbound: forth, outbound: back))
    }

    func read(maximum: Int) throws(ReplicationError) -> ArraySlice<UInt8> { inbound.read(maximum: maximum) }
    func write(_ bytes: [UInt8]) throws(ReplicationError) { try outbound.write(bytes) }

    func close() {
        outbound.close()
        inbound.close()
    }
}
