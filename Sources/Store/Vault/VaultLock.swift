import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An advisory lock on a vault, held with `flock` so it vanishes with its process: a kill -9 never
/// leaves a stale lock. The lock file names the holder (host, pid, start time) for error messages.
public final class VaultLock {
    private let descriptor: Int32
    public let path: String

    /// Takes the lock, waiting up to `waitSeconds`; throws `StoreError.locked` naming the holder.
    ///
    /// `optional` (a shared lock only): when the lock file cannot be opened for writing for want of
    /// write access or space (EROFS, EACCES, ENOSPC, EDQUOT), it is opened read-only, and when it
    /// does not exist either, the lock is not held (`held` is false) and no error is thrown.
    public init(directory: String, name: String = "write", exclusive: Bool = true, waitSeconds: Double = 0,
                optional: Bool = false) throws(StoreError) {
        path = "\(directory)/\(name)"
        var descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if descriptor < 0 && optional && !exclusive && [EROFS, EACCES, EPERM, ENOSPC, EDQUOT].contains(errno) {
            descriptor = open(path, O_RDONLY | O_CLOEXEC)
            if descriptor < 0 && [ENOENT, EACCES, EPERM].contains(errno) {
                self.descriptor = -1
                return
            }
        }
        self.descriptor = descriptor
        guard descriptor >= 0 else { throw .system("cannot open lock", path) }
        let deadline = FileSystem.monotonicSeconds() + waitSeconds
        while flock(descriptor, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                close(descriptor)
                throw .system("cannot lock", path)
            }
            if FileSystem.monotonicSeconds() >= deadline {
                let holder = (try? FileSystem.readFile(path)).map { String(decoding: $0, as: UTF8.self) } ?? ""
                close(descriptor)
                let who = holder.trimmingCharacters(in: .whitespacesAndNewlines)
                throw .locked("vault is locked by \(who.isEmpty ? "another process" : who); try again when it has finished")
            }
            usleep(100_000)
        }
        if exclusive {
            let host = ProcessInfo.processInfo.hostName
            let since = ISO8601DateFormatter().string(from: Date())
            let text = Array("\(host) pid \(getpid()) since \(since)\n".utf8)
            ftruncate(descriptor, 0)
            _ = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        }
    }

    /// False for an optional lock that could not be taken for want of write access.
    public var held: Bool { descriptor >= 0 }

    deinit {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
