#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fresh, uniquely named directory under `/tmp` that lives exactly as long as this object.
///
/// Tests run in parallel, so each one needs a directory nobody else writes into: `mkdtemp` picks
/// the name atomically. The whole tree is removed in `deinit` (read-only subdirectories included,
/// since error-path tests like to chmod things), so a test only has to keep the object alive while
/// it uses the files. Removal never follows symbolic links out of the directory.
///
/// Immutable after creation, hence `Sendable`: hand it to a helper thread freely.
public final class TemporaryDirectory: Sendable {
    /// The absolute path of the directory, without a trailing slash.
    public let path: String

    /// Creates `/tmp/<prefix>-XXXXXX`. Throws `TestSupportError` if `mkdtemp` fails.
    public init(prefix: String = "blockvault-test") throws(TestSupportError) {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard let created else {
            throw TestSupportError(operation: "mkdtemp", path: "/tmp/\(prefix)-XXXXXX", errno: errno)
        }
        path = String(cString: created)
    }

    deinit { TemporaryDirectory.removeTree(path) }

    /// The path of `name` inside the directory (which need not exist yet).
    public func path(for name: String) -> String { "\(path)/\(name)" }

    /// Writes `bytes` to `name` inside the directory, replacing any file of that name, and returns
    /// its path. Parent directories must exist. Throws `TestSupportError` on any system call error.
    @discardableResult
    public func write(_ bytes: [UInt8], to name: String) throws(TestSupportError) -> String {
        let target = path(for: name)
        let descriptor = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw TestSupportError(operation: "open", path: target, errno: errno) }
        defer { close(descriptor) }
        let failure: Int32? = bytes.withUnsafeBytes { buffer in
            var written = 0
            while written < buffer.count {
                let count = systemWrite(descriptor, buffer.baseAddress! + written, buffer.count - written)
                if count < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                written += count
            }
            return nil
        }
        if let failure { throw TestSupportError(operation: "write", path: target, errno: failure) }
        return target
    }

    /// Creates the subdirectory `name` (mode 0755) and returns its path.
    @discardableResult
    public func makeDirectory(_ name: String) throws(TestSupportError) -> String {
        let target = path(for: name)
        guard mkdir(target, 0o755) == 0 else { throw TestSupportError(operation: "mkdir", path: target, errno: errno) }
        return target
    }

    /// Removes `path` and everything below it, best effort: a test's leftovers must never fail the
    /// test that made them. Directories are made writable first so that their entries can go.
    private static func removeTree(_ path: String) {
        var status = stat()
        guard lstat(path, &status) == 0 else { return }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            unlink(path)
            return
        }
        chmod(path, 0o700)
        // Collect the names first: POSIX leaves readdir's behaviour unspecified while entries vanish.
        var names: [String] = []
        if let directory = opendir(path) {
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(directory)
        }
        for name in names { removeTree("\(path)/\(name)") }
        rmdir(path)
    }
}

/// The C `write`, named apart from `TemporaryDirectory.write(_:to:)`.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}

/// A failed system call in test support code: which call, on which path, and why.
public struct TestSupportError: Error, CustomStringConvertible, Equatable {
    public let operation: String
    public let path: String
    public let errno: Int32

    public init(operation: String, path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String { "\(operation) \(path): \(String(cString: strerror(errno)))" }
}
