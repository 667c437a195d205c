#if canImport(Glibc)
import Glibc
#endif

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
