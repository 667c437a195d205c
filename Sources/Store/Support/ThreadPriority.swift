#if canImport(Glibc)
import Glibc
#endif

/// Scheduling weight of pipeline threads. A pipeline's serial stages (the walker, the catalog
/// committer) set the pace; its parallel stages (readers, compressors) only fill the cores that are
/// left. Lowering the parallel stages' priority lets the serial ones run whenever they have work, so
/// they do not fall behind and finish alone after everything else.
enum ThreadPriority {
    /// How much lower than the process's priority a parallel stage runs (Linux nice levels, per thread).
    static let parallelStage: Int32 = 4

    /// Lowers the calling thread's priority by `steps` nice levels. Best effort: failure changes nothing.
    static func lowerCurrentThread(by steps: Int32 = parallelStage) {
        guard let thread = currentThreadID() else { return }
        errno = 0
        let current = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), thread)
        guard errno == 0 else { return }
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), thread, min(19, current + steps))
    }

    /// The kernel's id of the calling thread, from `/proc/thread-self` (a link to `PID/task/TID`):
    /// Glibc's `gettid` is not visible to Swift.
    private static func currentThreadID() -> id_t? {
        var buffer = [CChar](repeating: 0, count: 64)
        let count = readlink("/proc/thread-self", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let link = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return link.split(separator: "/").last.flatMap { id_t($0) }
    }
}
