/// Frames on the wire: a 4-byte big-endian length, then that many bytes (a type byte and the
/// message's payload). Anything longer than `maximumLength` is refused before it is read.
public enum Frame {
    /// Big enough for a batch of block responses (`Message.responseBudget`) with headroom.
    public static let maximumLength = 40 << 20

    public static func encode(type: UInt8, payload: [UInt8]) -> [UInt8] {
        let length = UInt32(payload.count + 1)
        var bytes: [UInt8] = [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type]
        bytes.append(contentsOf: payload)
        return bytes
    }
}

/// Reassembles frames from a byte stream, checking each length before buffering it.
public struct FrameDecoder {
    private var buffer: [UInt8] = []
    private var start = 0

    public init() {}

    public mutating func append(_ bytes: ArraySlice<UInt8>) {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame as (type, payload), nil when more bytes are needed.
    public mutating func next() throws(ReplicationError) -> (UInt8, [UInt8])? {
        guard buffer.count - start >= 4 else { return nil }
        let length = Int(buffer[start]) << 24 | Int(buffer[start + 1]) << 16 | Int(buffer[start + 2]) << 8 | Int(buffer[start + 3])
        guard length >= 1, length <= Frame.maximumLength else {
            throw .protocolViolation("frame of \(length) bytes (the limit is \(Frame.maximumLength))")
        }
        guard buffer.count - start >= 4 + length else { return nil }
        let type = buffer[start + 4]
        let payload = Array(buffer[(start + 5)..<(start + 4 + length)])
        start += 4 + length
        if start > 1 << 20 && start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        return (type, payload)
    }
}
