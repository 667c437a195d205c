import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Looks a program up on `PATH` the way a shell does; nil when it is not there.
func executableOnPath(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for directory in path.split(separator: ":") where !directory.isEmpty {
        let candidate = "\(directory)/\(name)"
        if access(candidate, X_OK) == 0 { return candidate }
    }
    return nil
}

/// One `strace` fault: which system calls fail, how, and from which call on.
///
/// strace counts calls per system call and per thread: `when=2+` fails every thread's second and later
/// calls. With `paths`, only calls on those paths are traced, counted and failed (`-P`; a descriptor
/// matches by the path it was opened with), which keeps faults away from the dynamic loader, the Swift
/// runtime's start-up and the error message on stderr.
struct SyscallFault: CustomStringConvertible {
    /// Comma-separated system calls (`write`, `pread64,pwrite64`).
    var syscalls: String
    /// What the call does instead: `error=ENOSPC`, `signal=KILL`.
    var action: String
    /// strace's `when=` expression: `5+`, `1..1`, `1+2`.
    var when: String
    var paths: [String] = []

    var description: String {
        "inject=\(syscalls):\(action):when=\(when)" + (paths.isEmpty ? "" : " on \(paths.count) paths")
    }

    /// `strace` on PATH, or a failure that says how to get it: the fault tests must not pass by
    /// testing nothing.
    static func strace() throws -> String {
        guard let strace = executableOnPath("strace") else {
            throw TestFailure("strace is not on PATH, so no fault can be injected: install it (apt-get install strace; "
                              + "`make deps` does) and run the fault tests again")
        }
        return strace
    }

    /// The command-line prefix that runs a command under this fault, strace's log going to `log`
    /// (never to the command's stderr). Swift's crash backtracer is turned off: when writes fail it
    /// cannot write its report and waits for its time limit instead.
    func wrapper(log: String) throws -> [String] {
        [try Self.strace(), "-f", "-o", log, "-E", "SWIFT_BACKTRACE=enable=no",
         "-e", "trace=\(syscalls)", "-e", "inject=\(syscalls):\(action):when=\(when)"]
            + paths.flatMap { ["-P", $0] }
    }

    /// How many calls strace failed, from its log.
    static func injectedCount(log: String) -> Int {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").filter { $0.contains("(INJECTED)") }.count
    }

    /// The log's lines that show an injected failure (for messages).
    static func injectedCalls(log: String, limit: Int = 3) -> [String] {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").filter { $0.contains("(INJECTED)") }.prefix(limit).map { String($0.prefix(200)) }
    }
}

/// A small tmpfs mounted in a private mount namespace that only this object's commands see: a disk
/// that really fills up, without touching the machine's mounts. A holder process (`unshare` running
/// `sleep`) keeps the namespace alive; commands join it with `nsenter`. `close()` kills the holder, and
/// the tmpfs vanishes with the namespace.
final class PrivateTmpfs {
    let mountPoint: String
    private let holder: Process
    /// Prepended to a command line to run it inside the namespace.
    let wrapper: [String]

    /// Why a private tmpfs cannot be mounted here, or nil when it can (`unshare` and `nsenter` exist
    /// and the mount works); tried, not guessed.
    static func unavailableReason(scratch: ScratchDirectory) -> String? {
        do {
            let probe = try PrivateTmpfs(at: scratch.child("probe-mount"), size: "1m")
            probe.close()
            return nil
        } catch {
            return "\(error)"
        }
    }

    init(at mountPoint: String, size: String) throws {
        guard let unshare = executableOnPath("unshare"), let nsenter = executableOnPath("nsenter") else {
            throw TestFailure("unshare or nsenter (util-linux) is not on PATH")
        }
        try Files.makeDirectory(mountPoint)
        self.mountPoint = mountPoint
        let ready = mountPoint + ".ready"
        let errors = mountPoint + ".errors"
        guard FileManager.default.createFile(atPath: errors, contents: nil), let errorHandle = FileHandle(forWritingAtPath: errors) else {
            throw TestFailure("cannot create \(errors)")
        }
        defer { try? errorHandle.close() }
        holder = Process()
        holder.executableURL = URL(fileURLWithPath: unshare)
        holder.arguments = ["-m", "--propagation", "private", "/bin/sh", "-c",
                            "mount -t tmpfs -o size=\"$1\" tmpfs \"$2\" && : > \"$3\" && exec sleep 3600",
                            "sh", size, mountPoint, ready]
        holder.standardInput = FileHandle.nullDevice
        holder.standardOutput = FileHandle.nullDevice
        holder.standardError = errorHandle
        try holder.run()
        wrapper = [nsenter, "-t", String(holder.processIdentifier), "-m", "--"]
        let deadline = Clock.seconds() + 20
        while !Files.exists(ready) {
            if !holder.isRunning || Clock.seconds() > deadline {
                close()
                let message = (try? String(contentsOfFile: errors, encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                throw TestFailure("`unshare -m --propagation private` + `mount -t tmpfs` failed: "
                                  + (message.isEmpty ? "no message" : message))
            }
            usleep(10_000)
        }
    }

    /// `path` as this process can read it: through the holder's root (`/proc/PID/root`), which
    /// resolves in the holder's mount namespace, tmpfs included.
    func visiblePath(_ path: String) -> String { "/proc/\(holder.processIdentifier)/root\(path)" }

    /// Runs `/bin/sh -c script` inside the namespace; fails unless it exits 0.
    func shell(_ script: String) throws {
        try Files.run(wrapper[0], Array(wrapper.dropFirst()) + ["/bin/sh", "-c", script])
    }

    /// Ends the namespace (and with it the tmpfs). Idempotent.
    func close() {
        if holder.isRunning {
            kill(holder.processIdentifier, SIGKILL)
            holder.waitUntilExit()
        }
    }

    deinit { close() }
}
