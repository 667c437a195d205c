import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What one run of a command produced.
struct CommandResult: CustomStringConvertible {
    var arguments: [String]
    var status: Int32
    /// True when the process ended by a signal (then `status` is the signal number).
    var signaled: Bool
    /// True when the process outlived its time limit and was killed for it.
    var timedOut: Bool
    var stdout: Data
    var stderr: Data
    /// Wall-clock seconds from start to exit.
    var seconds: Double

    var output: String { String(decoding: stdout, as: UTF8.self) }
    var errorOutput: String { String(decoding: stderr, as: UTF8.self) }
    /// Lines of stderr; "\r\n" (one Character in Swift, as ssh ends its messages) ends a line too.
    var errorLines: [String] { errorOutput.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map(String.init) }
    var succeeded: Bool { !signaled && !timedOut && status == 0 }

    var description: String {
        let how = timedOut ? "timed out" : signaled ? "killed by signal \(status)" : "exit status \(status)"
        return "`\(arguments.joined(separator: " "))` → \(how) after \(String(format: "%.2f", seconds)) s\n"
            + "stdout: \(output.prefix(2000))\nstderr: \(errorOutput.prefix(2000))"
    }

    /// Decodes stdout as JSON with snake_case keys.
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(type, from: stdout)
        } catch {
            throw TestFailure("cannot decode \(type) from \(self): \(error)")
        }
    }
}

/// A failure of a test helper, with enough context to see what went wrong.
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A command started and not yet waited for.
final class RunningCommand {
    let arguments: [String]
    private let process: Process
    private let stdoutPath: String
    private let stderrPath: String
    private let started: Double

    fileprivate init(arguments: [String], process: Process, stdoutPath: String, stderrPath: String, started: Double) {
        self.arguments = arguments
        self.process = process
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
        self.started = started
    }

    /// Sends SIGKILL (the process cannot clean up).
    func killHard() { _ = kill(process.processIdentifier, SIGKILL) }

    /// Waits for the process to end; past `timeout` seconds it is killed and the result says so.
    ///
    /// Foundation's `Process` sometimes misses a child's exit on Linux: the child stays a zombie,
    /// `isRunning` stays true and `waitUntilExit` never returns (seen once here, after a backup had
    /// finished and written its report). So the loop also reaps the child itself with
    /// `waitpid(WNOHANG)`; whichever sees the exit first provides the status.
    func wait(timeout: Double) -> CommandResult {
        let deadline = Clock.seconds() + timeout
        var timedOut = false
        var reaped: (status: Int32, signaled: Bool)?
        while process.isRunning {
            var status: Int32 = 0
            if waitpid(process.processIdentifier, &status, WNOHANG) == process.processIdentifier {
                let signal = status & 0x7f
                reaped = signal == 0 ? ((status >> 8) & 0xff, false) : (signal, true)
                break
            }
            if Clock.seconds() >= deadline && !timedOut {
                timedOut = true
                killHard()
            }
            usleep(2_000)
        }
        if reaped == nil { process.waitUntilExit() }
        let seconds = Clock.seconds() - started
        let stdout = (try? Data(contentsOf: URL(fileURLWithPath: stdoutPath))) ?? Data()
        let stderr = (try? Data(contentsOf: URL(fileURLWithPath: stderrPath))) ?? Data()
        unlink(stdoutPath)
        unlink(stderrPath)
        return CommandResult(arguments: arguments, status: reaped?.status ?? process.terminationStatus,
                             signaled: reaped?.signaled ?? (process.terminationReason == .uncaughtSignal), timedOut: timedOut,
                             stdout: stdout, stderr: stderr, seconds: seconds)
    }
}

enum Clock {
    static func seconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

/// Runs the `blockvault` binary the way a user does.
enum Blockvault {
    /// The package root, from this file's place in it (`Tests/EndToEndTests/Support/`).
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// `.build/debug/blockvault` under the package root, or else `BLOCKVAULT_BINARY`.
    static let executable: String = {
        let built = packageRoot + "/.build/debug/blockvault"
        if access(built, X_OK) == 0 { return built }
        return ProcessInfo.processInfo.environment["BLOCKVAULT_BINARY"] ?? built
    }()

    /// The environment commands run with: this process's, without `BLOCKVAULT_REPO` (tests say which
    /// vault they mean) and with progress off (`BLOCKVAULT_PROGRESS=0`: with `--json`, status lines
    /// would share stderr with the lines the tests read there; ProgressTests turn it on), plus `extra`.
    static func environment(_ extra: [String: String]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "BLOCKVAULT_REPO")
        environment["BLOCKVAULT_PROGRESS"] = "0"
        environment.merge(extra) { $1 }
        return environment
    }

    /// Starts `blockvault arguments…`, or `wrapper… blockvault arguments…` (e.g. `setpriv …`).
    static func start(_ arguments: [String], environment extra: [String: String] = [:], wrapper: [String] = []) throws -> RunningCommand {
        guard access(executable, X_OK) == 0 else {
            throw TestFailure("no blockvault binary at \(executable); run `swift build --build-tests` first or set BLOCKVAULT_BINARY")
        }
        let process = Process()
        let commandLine = wrapper + [executable] + arguments
        process.executableURL = URL(fileURLWithPath: commandLine[0])
        process.arguments = Array(commandLine.dropFirst())
        process.environment = environment(extra)
        // Output goes to files (removed once read), so a chatty command never blocks on a full pipe.
        let name = "/tmp/blockvault-e2e-output-\(UUID().uuidString)"
        let stdoutPath = name + ".out"
        let stderrPath = name + ".err"
        guard FileManager.default.createFile(atPath: stdoutPath, contents: nil),
              FileManager.default.createFile(atPath: stderrPath, contents: nil),
              let stdout = FileHandle(forWritingAtPath: stdoutPath),
              let stderr = FileHandle(forWritingAtPath: stderrPath) else {
            throw TestFailure("cannot create \(stdoutPath) or \(stderrPath)")
        }
        defer {
            try? stdout.close()
            try? stderr.close()
        }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdout
        process.standardError = stderr
        let started = Clock.seconds()
        try process.run()
        return RunningCommand(arguments: ["blockvault"] + arguments, process: process, stdoutPath: stdoutPath,
                              stderrPath: stderrPath, started: started)
    }

    /// Runs `blockvault arguments…` to completion (killed after `timeout` seconds).
    static func run(_ arguments: [String], environment: [String: String] = [:], wrapper: [String] = [],
                    timeout: Double = 180) throws -> CommandResult {
        try start(arguments, environment: environment, wrapper: wrapper).wait(timeout: timeout)
    }
}
