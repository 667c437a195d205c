import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Small POSIX helpers. Paths of backed-up files are bytes (`[UInt8]`), never `String`, so names that
/// are not UTF-8 round-trip exactly; vault-internal paths are `String`.
enum FileSystem {
    /// Calls `body` with a NUL-terminated copy of `path`.
    static func withCString<R>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        var terminated = path
        terminated.append(0)
        return try terminated.withUnsafeBufferPointer { buffer in
            try buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { try body($0) }
        }
    }

    static func display(_ path: [UInt8]) -> String { String(decoding: path, as: UTF8.self) }

    /// `lstat` of a byte path; nil with `errno` set on failure.
    static func lstat(_ path: [UInt8]) -> stat? {
        var status = stat()
        let result = withCString(path) { Glibc.lstat($0, &status) }
        return result == 0 ? status : nil
    }

    /// `lstat` of `name` in the directory open as `directory`: no walk of a full path per entry.
    static func lstat(_ name: [UInt8], in directory: Int32) -> stat? {
        var status = stat()
        let result = withCString(name) { fstatat(directory, $0, &status, AT_SYMLINK_NOFOLLOW) }
        return result == 0 ? status : nil
    }

    /// The names in a directory, excluding `.` and `..`, sorted bytewise unless `sorted` is false
    /// (then in the order the file system gives them).
    static func listDirectory(_ path: [UInt8], sorted: Bool = true) throws(StoreError) -> [[UInt8]] {
        guard let directory = withCString(path, { opendir($0) }) else {
            throw .system("cannot list", display(path))
        }
        return try listDirectory(directory, path: path, sorted: sorted)
    }

    /// The names in the directory open as `descriptor` (which stays open: the caller closes it),
    /// as `listDirectory(_:sorted:)` gives them; `path` names it in errors.
    static func listDirectory(descriptor: Int32, path: [UInt8], sorted: Bool = true) throws(StoreError) -> [[UInt8]] {
        let copy = dup(descriptor)
        guard copy >= 0, let directory = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            throw .system("cannot list", display(path))
        }
        return try listDirectory(directory, path: path, sorted: sorted)
    }

    /// The names of an open directory stream, which it closes.
    private static func listDirectory(_ directory: OpaquePointer, path: [UInt8], sorted: Bool) throws(StoreError) -> [[UInt8]] {
        defer { closedir(directory) }
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 { throw .system("cannot list", display(path)) }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> [UInt8] in
                let bytes = raw.bindMemory(to: UInt8.self)
                let length = bytes.firstIndex(of: 0) ?? bytes.count
                return Array(bytes[0..<length])
            }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            names.append(name)
        }
        if sorted { names.sort(by: bytewiseLess) }
        return names
    }

    /// Whether the kernel offers openat2 (Linux 5.6; a seccomp filter may refuse it): tried once.
    static let hasOpenat2: Bool = {
        let descriptor = blockvault_openat2(AT_FDCWD, "/", UInt64(O_RDONLY | O_DIRECTORY | O_CLOEXEC), 0)
        if descriptor >= 0 { close(descriptor) }
        return descriptor >= 0
    }()

    /// Opens `relative`, names as a walk lists them joined by `/` (no `.`, `..` or empty name), in
    /// the directory open as `root`, through real directories only: a symlink anywhere on the way,
    /// the last name included, is never followed, so whatever is swapped in for a directory, nothing
    /// outside `root` is opened. One `openat2` (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS); without it,
    /// one `openat` per name. Returns the descriptor, or -1 with `errno` set, ELOOP (or ENOTDIR, or
    /// EXDEV) when a name on the way is not, or is no longer, a real directory (see `isSwapped`).
    static func openBeneath(_ root: Int32, _ relative: [UInt8], flags: Int32) -> Int32 {
        if hasOpenat2 {
            let resolve = UInt64(BLOCKVAULT_RESOLVE_BENEATH | BLOCKVAULT_RESOLVE_NO_SYMLINKS)
            for _ in 0..<3 {
                let descriptor = withCString(relative) { blockvault_openat2(root, $0, UInt64(UInt32(bitPattern: flags | O_NOFOLLOW)), resolve) }
                // EAGAIN: the kernel saw a rename race it could not rule out; the man page says retry.
                if descriptor >= 0 || errno != EAGAIN { return descriptor }
            }
            return -1
        }
        return openNameByName(root, relative, flags: flags)
    }

    /// `openBeneath` without openat2: one `openat` per name, each refusing a symlink (O_PATH for
    /// the directories on the way, which needs only search permission, as openat2 does).
    static func openNameByName(_ root: Int32, _ relative: [UInt8], flags: Int32) -> Int32 {
        let names = relative.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        var directory = root
        for name in names.dropLast() {
            let next = withCString(Array(name)) { openat(directory, $0, BLOCKVAULT_O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            let code = errno
            if directory != root { close(directory) }
            guard next >= 0 else {
                errno = code
                return -1
            }
            directory = next
        }
        let descriptor = withCString(Array(names.last ?? [])) { openat(directory, $0, flags | O_NOFOLLOW) }
        let code = errno
        if directory != root { close(directory) }
        errno = code
        return descriptor
    }

    /// Whether `openBeneath` failed with `code` because something on the path is not the real
    /// directory it was (a symlink or a file swapped in), rather than for want of permission or the like.
    static func isSwapped(_ code: Int32) -> Bool { code == ELOOP || code == ENOTDIR || code == EXDEV }

    /// The target of the symlink `name` in the directory open as `directory`; `path` names it in errors.
    static func readLink(_ name: [UInt8], in directory: Int32, path: [UInt8]) throws(StoreError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = withCString(name) { cName in
            buffer.withUnsafeMutableBytes { readlinkat(directory, cName, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
        }
        guard count >= 0 else { throw .system("cannot read link", display(path)) }
        return Array(buffer[0..<count])
    }

    static func readLink(_ path: [UInt8]) throws(StoreError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = withCString(path) { cPath in
            buffer.withUnsafeMutableBytes { readlink(cPath, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
        }
        guard count >= 0 else { throw .system("cannot read link", display(path)) }
        return Array(buffer[0..<count])
    }

    /// Writes all of `bytes` at the current position, retrying short writes and EINTR.
    static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(StoreError) {
        try transferAll(bytes.count, path: path) { done in write(descriptor, bytes.baseAddress! + done, bytes.count - done) }
    }

    /// Writes all of `bytes` at `offset`, retrying short writes and EINTR.
    static func pwriteAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, offset: Int64, path: String) throws(StoreError) {
        try transferAll(bytes.count, path: path) { done in pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + done) }
    }

    /// Calls `write` with the count done so far until `count` bytes are written.
    private static func transferAll(_ count: Int, path: String, _ write: (Int) -> Int) throws(StoreError) {
        var done = 0
        while done < count {
            let written = write(done)
            if written < 0 {
                if errno == EINTR { continue }
                throw .system("cannot write", path)
            }
            done += written
        }
    }

    /// Reads exactly `buffer.count` bytes at `offset`; throws on error or early end of file.
    static func preadAll(_ descriptor: Int32, _ buffer: UnsafeMutableRawBufferPointer, offset: Int64, path: String) throws(StoreError) {
        var done = 0
        while done < buffer.count {
            let count = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + done)
            if count < 0 {
                if errno == EINTR { continue }
                throw .system("cannot read", path)
            }
            if count == 0 { throw .corrupt("\(path) is shorter than expected (truncated?)") }
            done += count
        }
    }

    static func fsyncOrThrow(_ descriptor: Int32, path: String) throws(StoreError) {
        while fsync(descriptor) != 0 {
            if errno == EINTR { continue }
            throw .system("cannot fsync", path)
        }
    }

    /// Makes a rename or a new file in `directory` durable.
    static func fsyncDirectory(_ directory: String) throws(StoreError) {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .system("cannot open", directory) }
        defer { close(descriptor) }
        try fsyncOrThrow(descriptor, path: directory)
    }

    /// Creates `path` and any missing parents (mode 0755 before umask).
    static func makeDirectories(_ path: String) throws(StoreError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST { throw .system("cannot create directory", current) }
        }
    }

    /// Creates a byte path and any missing parents.
    static func makeDirectories(_ path: [UInt8]) throws(StoreError) {
        var current: [UInt8] = path.first == UInt8(ascii: "/") ? [] : [UInt8(ascii: ".")]
        for component in path.split(separator: UInt8(ascii: "/")) {
            current += [UInt8(ascii: "/")] + component
            if withCString(current, { mkdir($0, 0o755) }) != 0 && errno != EEXIST {
                throw .system("cannot create directory", display(current))
            }
        }
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func readFile(_ path: String) throws(StoreError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .system("cannot open", path) }
        defer { close(descriptor) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
            if count < 0 { if errno == EINTR { continue }; throw .system("cannot read", path) }
            if count == 0 { return result }
            result.append(contentsOf: chunk[0..<count])
        }
    }

    /// Writes `contents` to `final` so that readers see the old or the new file, never a mix, and
    /// the new one survives a crash: temporary name, fsync, rename, directory fsync. On any failure
    /// the temporary file is removed. (Packs, which are larger, stream through `LocalBlobUpload`.)
    static func writeDurably(_ contents: UnsafeRawBufferPointer, to final: String, temporary: String) throws(StoreError) {
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .system("cannot create", temporary) }
        do throws(StoreError) {
            try writeAll(descriptor, contents, path: temporary)
            try fsyncOrThrow(descriptor, path: temporary)
        } catch {
            close(descriptor)
            unlink(temporary)
            throw error
        }
        close(descriptor)
        guard rename(temporary, final) == 0 else {
            unlink(temporary)
            throw .system("cannot rename into", final)
        }
        try fsyncDirectory(parent(of: final))
    }

    /// `writeDurably` for a small file given as bytes.
    static func writeFileAtomically(_ path: String, _ bytes: [UInt8]) throws(StoreError) {
        let temporary = parent(of: path) + "/.tmp-" + String(getpid()) + "-" + (path.split(separator: "/").last.map(String.init) ?? "file")
        var failure: StoreError?
        bytes.withUnsafeBytes { buffer in
            do throws(StoreError) { try writeDurably(buffer, to: path, temporary: temporary) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Nanoseconds since the epoch of a `timespec`.
    static func nanoseconds(_ time: timespec) -> Int64 { Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec) }

    static func nowNanoseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return nanoseconds(time)
    }

    static func monotonicSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
