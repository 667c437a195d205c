import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs `blockvault` with its stderr on a real pseudo-terminal (so `isatty(2)` is true, as for a
/// user at a terminal) and its stdout in a file, and collects what the terminal received.
enum PseudoTerminal {
    struct Result: CustomStringConvertible {
        var status: Int32
        var stdout: String
        /// Every byte written to the terminal, escape sequences and carriage returns included.
        var transcript: String

        /// The terminal's lines as a screen shows them at the end: `\r` returns to the line's start,
        /// ESC [ K clears to its end, other escape sequences change nothing visible.
        var screen: [String] {
            var lines: [[Character]] = [[]]
            var column = 0
            var characters = Array(transcript)[...]
            while let character = characters.popFirst() {
                switch character {
                case "\r\n", "\n":
                    lines.append([])
                    column = 0
                case "\r":
                    column = 0
                case "\u{1B}":
                    guard characters.first == "[" else { continue }
                    characters.removeFirst()
                    var sequence = ""
                    while let next = characters.popFirst() {
                        sequence.append(next)
                        if next.isLetter { break }
                    }
                    if sequence == "K" { lines[lines.count - 1].removeSubrange(min(column, lines[lines.count - 1].count)...) }
                default:
                    if column < lines[lines.count - 1].count {
                        lines[lines.count - 1][column] = character
                    } else {
                        lines[lines.count - 1].append(character)
                    }
                    column += 1
                }
            }
            return lines.map { String($0) }
        }

        var description: String {
            "exit status \(status)\nstdout: \(stdout.prefix(2000))\nterminal: \(transcript.debugDescription.prefix(3000))"
        }
    }

    // unlockpt(3) and ptsname(3): Swift's Glibc module leaves out their declarations (they need
    // _XOPEN_SOURCE), so they are looked up at run time.
    private static let unlockTerminal: @convention(c) (Int32) -> Int32 = unsafeBitCast(dlsym(nil, "unlockpt"), to: (@convention(c) (Int32) -> Int32).self)
    private static let terminalName: @convention(c) (Int32) -> UnsafeMutablePointer<CChar>? =
        unsafeBitCast(dlsym(nil, "ptsname"), to: (@convention(c) (Int32) -> UnsafeMutablePointer<CChar>?).self)

    /// Runs `blockvault arguments…` (killed after `timeout` seconds) in the environment the other
    /// end-to-end tests use, plus `environment`.
    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 120) throws -> Result {
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard master >= 0 else { throw TestFailure("cannot open /dev/ptmx: \(String(cString: strerror(errno)))") }
        guard unlockTerminal(master) == 0, let name = terminalName(master) else {
            close(master)
            throw TestFailure("cannot open a pseudo-terminal: \(String(cString: strerror(errno)))")
        }
        defer { close(master) }
        let terminal = open(name, O_RDWR | O_NOCTTY)
        guard terminal >= 0 else { throw TestFailure("cannot open \(String(cString: name)): \(String(cString: strerror(errno)))") }
        let stdoutPath = "/tmp/blockvault-e2e-pty-\(UUID().uuidString).out"
        guard FileManager.default.createFile(atPath: stdoutPath, contents: nil), let stdout = FileHandle(forWritingAtPath: stdoutPath) else {
            close(terminal)
            throw TestFailure("cannot create \(stdoutPath)")
        }
        defer { unlink(stdoutPath) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Blockvault.executable)
        process.arguments = arguments
        process.environment = Blockvault.environment(environment)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdout
        process.standardError = FileHandle(fileDescriptor: terminal, closeOnDealloc: false)
        do { try process.run() } catch {
            close(terminal)
            try? stdout.close()
            throw error
        }
        // Only the child holds the terminal now: reading ends (EIO) when it and its children exit.
        close(terminal)
        try? stdout.close()
        var transcript: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let deadline = Clock.seconds() + timeout
        while true {
            var poller = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 200)
            if ready < 0 && errno == EINTR { continue }
            if ready == 0 {
                if Clock.seconds() > deadline { kill(process.processIdentifier, SIGKILL) }
                continue
            }
            let count = read(master, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            transcript += buffer[..<count]
        }
        var status: Int32 = 0
        var reaped: Int32?
        while process.isRunning {
            if waitpid(process.processIdentifier, &status, WNOHANG) == process.processIdentifier {
                reaped = (status >> 8) & 0xff
                break
            }
            usleep(2_000)
        }
        return Result(status: reaped ?? process.terminationStatus,
                      stdout: (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "",
                      transcript: String(decoding: transcript, as: UTF8.self))
    }
}
