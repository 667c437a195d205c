import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The machine's processes as /proc lists them, to find one a test did not start itself (the
/// `blockvault serve` that push or sshd started) and signal it by its id.
enum ProcessTable {
    /// The ids of processes whose argument list contains `arguments` as consecutive elements
    /// (e.g. `["serve", "--stdio", "--repo", replica]`). A shell running them as one `-c` string
    /// does not match. Processes that exit while the table is read are left out.
    static func processes(withArguments arguments: [String]) -> [pid_t] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        let own = getpid()
        return names.compactMap { name -> pid_t? in
            guard let pid = pid_t(name), pid != own else { return nil }
            guard let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline"), !data.isEmpty else { return nil }
            let argv = data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            guard argv.count >= arguments.count else { return nil }
            for start in 0...(argv.count - arguments.count) where Array(argv[start..<(start + arguments.count)]) == arguments {
                return isZombie(pid) ? nil : pid
            }
            return nil
        }
    }

    /// Waits up to `timeout` seconds for `pick()` to return a non-empty list, polling every 2 ms.
    static func waitFor(timeout: Double, _ pick: () -> [pid_t]) -> [pid_t] {
        let deadline = Clock.seconds() + timeout
        repeat {
            let found = pick()
            if !found.isEmpty { return found }
            usleep(2_000)
        } while Clock.seconds() < deadline
        return []
    }

    /// Waits up to `timeout` seconds until `pick()` returns an empty list; true when it did.
    static func waitUntilGone(timeout: Double, _ pick: () -> [pid_t]) -> Bool {
        let deadline = Clock.seconds() + timeout
        repeat {
            if pick().isEmpty { return true }
            usleep(10_000)
        } while Clock.seconds() < deadline
        return false
    }

    /// True when the process has exited but not been reaped (state `Z` in /proc/PID/stat).
    static func isZombie(_ pid: pid_t) -> Bool {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return true }
        let text = String(decoding: data, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return false }
        return text[text.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }
}
