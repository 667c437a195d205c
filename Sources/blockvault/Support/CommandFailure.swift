import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// A command's failure: one line for stderr and an exit status.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    let exitCode: Int32

    static func message(_ text: String, exitCode: Int32 = 1) -> CommandFailure {
        CommandFailure(description: text, exitCode: exitCode)
    }

    static func system(_ what: String, errno code: Int32) -> CommandFailure {
        CommandFailure(description: "\(what): \(String(cString: strerror(code)))", exitCode: 1)
    }
}

/// Buffered writes to stdout: `print` per line is too slow for large block lists.
final class OutputBuffer {
    private var bytes: [UInt8] = []

    func write(_ text: String) {
        bytes.append(contentsOf: text.utf8)
        if bytes.count >= 1 << 16 { flush() }
    }

    func flush() {
        Console.write(bytes, to: 1)
        bytes.removeAll(keepingCapacity: true)
    }
}
