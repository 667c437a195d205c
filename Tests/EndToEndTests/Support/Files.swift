import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failed system call in a test helper.
struct FileSystemError: Error, CustomStringConvertible {
    let description: String

    init(_ operation: String, _ path: String, errno code: Int32 = errno) {
        description = "\(operation) \(path): \(String(cString: strerror(code)))"
    }
}

/// Throwing wrappers over the POSIX calls tests use to build and change trees. Paths are bytes where
/// a name need not be UTF-8; `String` overloads cover the rest. Modes are set exactly (no umask).
enum Files {
    static func bytes(_ path: String) -> [UInt8] { Array(path.utf8) }

    static func withCPath<R>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        try (path + [0]).withUnsafeBufferPointer { buffer in
            try buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { try body($0) }
        }
    }

    /// A path for messages: UTF-8 where it is, `\xNN` for other bytes.
    static func display(_ path: [UInt8]) -> String {
        if let text = String(validating: path, as: UTF8.self) { return text }
        return path.map { $0 >= 0x20 && $0 < 0x7F ? String(UnicodeScalar($0)) : String(format: "\\x%02x", $0) }.joined()
    }

    // MARK: Files

    /// Creates or replaces a regular file with `contents` and exactly `mode`.
    static func write(_ path: [UInt8], _ contents: [UInt8], mode: mode_t = 0o644) throws {
        let descriptor = withCPath(path) { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600) }
        guard descriptor >= 0 else { throw FileSystemError("cannot create", display(path)) }
        defer { close(descriptor) }
        try writeAll(descriptor, contents, at: 0, path: path)
        guard fchmod(descriptor, mode) == 0 else { throw FileSystemError("cannot chmod", display(path)) }
    }

    static func write(_ path: String, _ contents: [UInt8], mode: mode_t = 0o644) throws {
        try write(bytes(path), contents, mode: mode)
    }

    static func write(_ path: String, text: String, mode: mode_t = 0o644) throws {
        try write(bytes(path), Array(text.utf8), mode: mode)
    }

    static func read(_ path: [UInt8]) throws -> [UInt8] {
        let descriptor = withCPath(path) { open($0, O_RDONLY | O_CLOEXEC) }
        guard descriptor >= 0 else { throw FileSystemError("cannot open", display(path)) }
        defer { close(descriptor) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileSystemError("cannot read", display(path))
            }
            if count == 0 { return result }
            result.append(contentsOf: chunk[0..<count])
        }
    }

    static func read(_ path: String) throws -> [UInt8] { try read(bytes(path)) }

    /// Writes `contents` at `offset`, keeping the rest of the file.
    static func overwrite(_ path: String, at offset: Int, with contents: [UInt8]) throws {
        let descriptor = open(path, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileSystemError("cannot open", path) }
        defer { close(descriptor) }
        try writeAll(descriptor, contents, at: offset, path: bytes(path))
    }

    static func append(_ path: String, _ contents: [UInt8]) throws {
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileSystemError("cannot open", path) }
        defer { close(descriptor) }
        var done = 0
        while done < contents.count {
            let count = contents.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + done, $0.count - done) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileSystemError("cannot append to", path)
            }
            done += count
        }
    }

    /// Inserts `contents` before the file's first byte (rewriting it in place, same inode).
    static func prepend(_ path: String, _ contents: [UInt8]) throws {
        let old = try read(bytes(path))
        let descriptor = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileSystemError("cannot open", path) }
        defer { close(descriptor) }
        try writeAll(descriptor, contents + old, at: 0, path: bytes(path))
    }

    private static func writeAll(_ descriptor: Int32, _ contents: [UInt8], at offset: Int, path: [UInt8]) throws {
        var done = 0
        while done < contents.count {
            let count = contents.withUnsafeBytes { pwrite(descriptor, $0.baseAddress! + done, $0.count - done, off_t(offset + done)) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileSystemError("cannot write", display(path))
            }
            done += count
        }
    }

    /// A file of `size` bytes that is all hole (ftruncate only).
    static func makeSparse(_ path: String, size: Int64) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FileSystemError("cannot create", path) }
        defer { close(descriptor) }
        guard ftruncate(descriptor, off_t(size)) == 0 else { throw FileSystemError("cannot truncate", path) }
    }

    // MARK: Other entries

    static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws {
        guard mkdir(path, 0o700) == 0 else { throw FileSystemError("cannot create directory", path) }
        try setMode(path, mode)
    }

    static func symlink(_ path: String, to target: String) throws {
        guard Glibc.symlink(target, path) == 0 else { throw FileSystemError("cannot create symlink", path) }
    }

    static func hardLink(_ path: String, to existing: String) throws {
        guard link(existing, path) == 0 else { throw FileSystemError("cannot link", path) }
    }

    static func makeFIFO(_ path: String, mode: mode_t = 0o640) throws {
        guard mkfifo(path, 0o600) == 0 else { throw FileSystemError("cannot create FIFO", path) }
        try setMode(path, mode)
    }

    static func setMode(_ path: String, _ mode: mode_t) throws {
        guard chmod(path, mode) == 0 else { throw FileSystemError("cannot chmod", path) }
    }

    /// Sets the modification (and access) time of `path` itself, not of a symlink's target.
    static func setModificationTime(_ path: String, seconds: Int, nanoseconds: Int) throws {
        var times = [timespec(tv_sec: seconds, tv_nsec: nanoseconds), timespec(tv_sec: seconds, tv_nsec: nanoseconds)]
        guard utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW) == 0 else { throw FileSystemError("cannot set times of", path) }
    }

    static func rename(_ path: String, to newPath: String) throws {
        guard Glibc.rename(path, newPath) == 0 else { throw FileSystemError("cannot rename", path) }
    }

    static func remove(_ path: String) throws {
        guard unlink(path) == 0 else { throw FileSystemError("cannot remove", path) }
    }

    /// Removes a directory and everything under it.
    static func removeTree(_ path: String) throws {
        try run("/bin/rm", ["-rf", "--one-file-system", path])
    }

    /// A copy of a tree that keeps modes, times, symlinks, hard links, FIFOs and byte names.
    static func copyTree(_ source: String, to destination: String) throws {
        try run("/bin/cp", ["-a", "--", source, destination])
    }

    /// `lchown` of everything under and including `path`.
    static func changeOwner(_ path: String, uid: uid_t, gid: gid_t) throws {
        try run("/bin/chown", ["-R", "-h", "\(uid):\(gid)", path])
    }

    static func status(_ path: [UInt8]) throws -> stat {
        var result = stat()
        guard withCPath(path, { lstat($0, &result) }) == 0 else { throw FileSystemError("cannot stat", display(path)) }
        return result
    }

    static func status(_ path: String) throws -> stat { try status(bytes(path)) }

    static func exists(_ path: String) -> Bool {
        var result = stat()
        return lstat(path, &result) == 0
    }

    /// Bytes of regular files under `path`, recursively.
    static func totalFileBytes(under path: String) throws -> Int64 {
        try Tree.entries(of: path).values.filter { $0.type == .file }.reduce(0) { $0 + $1.size }
    }

    /// Runs a system tool and fails unless it exits 0.
    static func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw TestFailure("\(executable) \(arguments.joined(separator: " ")) failed with status \(process.terminationStatus)")
        }
    }
}

/// Reproducible pseudo-random bytes (SplitMix64), so a failing test sees the same data again.
enum DeterministicData {
    static func bytes(count: Int, seed: UInt64) -> [UInt8] {
        // Start from a mixed seed: with `state = seed` itself, seed n + 1 would give seed n's stream
        // shifted by one word, and content-defined chunking would deduplicate the two.
        var mixer = seed
        var state = next(&mixer)
        var result = [UInt8](repeating: 0, count: count)
        result.withUnsafeMutableBytes { raw in
            let words = raw.count / 8
            let base = raw.baseAddress!
            for index in 0..<words {
                base.storeBytes(of: next(&state), toByteOffset: index * 8, as: UInt64.self)
            }
            var tail = next(&state)
            for index in (words * 8)..<raw.count {
                raw[index] = UInt8(truncatingIfNeeded: tail)
                tail >>= 8
            }
        }
        return result
    }

    /// Lines of readable text, different for each seed.
    static func text(lines: Int, seed: UInt64) -> String {
        var mixer = seed
        var state = next(&mixer)
        let words = ["vault", "block", "pack", "snapshot", "restore", "chunk", "hash", "catalog", "version", "tree"]
        return (0..<lines).map { line in
            let count = Int(next(&state) % 8) + 3
            return "\(line): " + (0..<count).map { _ in words[Int(next(&state) % UInt64(words.count))] }.joined(separator: " ")
        }.joined(separator: "\n") + "\n"
    }

    static func next(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}
