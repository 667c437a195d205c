#if canImport(Glibc)
import Glibc
#endif

/// A duplex byte stream: the one thing the protocol runs over (pipes, an SSH session, memory).
public protocol ByteStream: AnyObject {
    /// Up to `maximum` bytes; empty at end of stream.
    func read(maximum: Int) throws(ReplicationError) -> ArraySlice<UInt8>
    func write(_ bytes: [UInt8]) throws(ReplicationError)
}

/// A stream over two file descriptors (a child's pipes, or stdin/stdout), counting bytes.
public final class FileDescriptorStream: ByteStream {
    private let input: Int32
    private let output: Int32
    private var buffer = [UInt8](repeating: 0, count: 1 << 20)
    public private(set) var bytesRead: Int64 = 0
    public private(set) var bytesWritten: Int64 = 0

    public init(input: Int32, output: Int32) {
        self.input = input
        self.output = output
    }

    public func read(maximum: Int) throws(ReplicationError) -> ArraySlice<UInt8> {
        let wanted = min(maximum, buffer.count)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress!, wanted) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .transport("read failed: \(String(cString: strerror(errno)))")
            }
            bytesRead += Int64(count)
            return buffer[0..<count]
        }
    }

    public func write(_ bytes: [UInt8]) throws(ReplicationError) {
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(output, $0.baseAddress! + done, $0.count - done) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .transport("write failed: \(String(cString: strerror(errno)))")
            }
            done += count
        }
        bytesWritten += Int64(bytes.count)
    }
}

/// Messages over a byte stream.
public final class Connection {
    public let stream: any ByteStream
    private var decoder = FrameDecoder()

    public init(stream: any ByteStream) { self.stream = stream }

    public func send(_ message: Message) throws(ReplicationError) { try stream.write(message.encoded()) }

    /// The next message; throws when the stream ends first.
    public func receive() throws(ReplicationError) -> Message {
        while true {
            if let (type, payload) = try decoder.next() { return try Message.decode(type: type, payload: payload) }
            let bytes = try stream.read(maximum: 1 << 20)
            guard !bytes.isEmpty else { throw .transport("the peer closed the connection") }
            decoder.append(bytes)
        }
    }
}
