import ArgumentParser
import Foundation
import Store
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The options every vault command shares.
struct VaultOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The vault's path (or set BLOCKVAULT_REPO).", valueName: "vault"))
    var repo: String?

    @Flag(help: "Print machine-readable JSON on stdout.")
    var json = false

    /// The vault path from `--repo` or `BLOCKVAULT_REPO`.
    func vaultPath() throws -> String {
        if let repo, !repo.isEmpty { return repo }
        if let fromEnvironment = ProcessInfo.processInfo.environment["BLOCKVAULT_REPO"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        throw CommandFailure.message("no vault given; pass --repo PATH or set BLOCKVAULT_REPO", exitCode: 2)
    }

    /// Opens the vault; `readOnly` for commands that only read it (they then work on a read-only
    /// mount or a full disk, and never run recovery of interrupted writes).
    func openVault(readOnly: Bool = false) throws -> Vault { try Vault(path: try vaultPath(), readOnly: readOnly) }
}

enum Format {
    // Used from the main thread only (commands are synchronous).
    nonisolated(unsafe) private static let formatter: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()

    /// RFC 3339 UTC with milliseconds.
    static func time(_ nanoseconds: Int64) -> String {
        formatter.string(from: Date(timeIntervalSince1970: Double(nanoseconds) / 1e9))
    }

    /// Parses `--at`: RFC 3339, `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]` (UTC), or `@UNIXSECONDS`.
    ///
    /// A time means the whole of its last unit: `10:00` is up to 10:00:59.999999999 and a time printed
    /// by `snapshots` (milliseconds) includes the snapshot taken within that millisecond. A bare date
    /// means its midnight.
    static func parseTime(_ text: String) throws -> Int64 {
        if text.hasPrefix("@"), let seconds = Double(text.dropFirst()) {
            let whole = text.contains(".") ? 0 : 999_999_999
            return Int64((seconds * 1e9).rounded()) + Int64(whole)
        }
        let plain = ISO8601DateFormatter()
        let spaced = text.replacingOccurrences(of: " ", with: "T")
        let candidates: [(String, Int64)] = [
            (text, Format.unitRemainder(text)), (text + "T00:00:00Z", 0),
            (spaced + "Z", Format.unitRemainder(spaced)), (spaced + ":00Z", 59_999_999_999),
        ]
        for (candidate, remainder) in candidates {
            if let date = formatter.date(from: candidate) ?? plain.date(from: candidate) {
                return Int64((date.timeIntervalSince1970 * 1000).rounded()) * 1_000_000 + remainder
            }
        }
        throw CommandFailure.message("cannot read time '\(text)'; use 2026-11-21T10:00:00Z, '2026-11-21 10:00' or @UNIXSECONDS", exitCode: 2)
    }

    /// Nanoseconds to add to the start of a written time to reach the end of its last unit.
    static func unitRemainder(_ text: String) -> Int64 {
        guard let dot = text.firstIndex(of: ".") else { return 999_999_999 }
        let digits = text[text.index(after: dot)...].prefix { $0.isNumber }.count
        var unit: Int64 = 1_000_000_000
        for _ in 0..<min(digits, 9) { unit /= 10 }
        return unit - 1
    }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    static func path(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    static func mode(_ mode: UInt32) -> String {
        let octal = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - octal.count)) + octal
    }

    /// A path argument as the catalog stores it: relative, `/`-separated, no leading `./` or `/`.
    static func relativePath(_ argument: String) -> [UInt8] {
        var text = Substring(argument)
        while text.hasPrefix("./") { text = text.dropFirst(2) }
        while text.hasPrefix("/") { text = text.dropFirst() }
        while text.hasSuffix("/") { text = text.dropLast() }
        return Array(text.utf8)
    }
}

/// Writes a line to stderr (erasing a progress line first; it is drawn again at its next tick).
/// Never traps: a closed or broken stderr loses the line, not the run. Any thread may call it.
func printError(_ text: String) {
    Console.writeError(text + "\n")
}

/// Writes a command's failure to stderr as exactly one line, whatever its parts held (a peer's
/// reason, a file name or a statement with line breaks).
func printFailure(_ text: String) {
    printError(text.split(whereSeparator: \.isNewline).joined(separator: " "))
}

/// Writes a line to stdout, retrying interrupted and short writes (print() does neither).
func print(_ text: String) {
    Console.write(text + "\n", to: 1)
}

enum Console {
    /// Whether a progress line is on the terminal now; every write to stderr holds this lock, so a
    /// line of text and the progress line never interleave.
    private static let progressShown = Mutex(false)

    /// Writes to stderr, erasing the progress line first if one is shown. On a terminal the line
    /// is always cleared first: the progress line there may be another process's (a push's, whose
    /// `serve` on a local path shares its stderr).
    static func writeError(_ text: String) {
        progressShown.withLock { shown in
            write((shown || stderrIsTerminal ? "\r\u{1B}[K" : "") + text, to: 2)
            shown = false
        }
    }

    private static let stderrIsTerminal = isatty(2) == 1

    /// Draws `line` as the terminal's progress line, replacing the one shown. Autowrap is off while
    /// it is written, so that a line wider than the terminal is cut at its edge instead of wrapping
    /// (which `\r` could not take back).
    static func drawProgress(_ line: String) {
        progressShown.withLock { shown in
            write("\u{1B}[?7l\r\u{1B}[K" + line + "\u{1B}[?7h", to: 2)
            shown = true
        }
    }

    /// Erases the progress line, if one is shown.
    static func eraseProgress() {
        progressShown.withLock { shown in
            if shown { write("\r\u{1B}[K", to: 2) }
            shown = false
        }
    }

    /// Writes a JSON status line to stderr.
    static func writeStatus(_ line: String) {
        progressShown.withLock { _ in write(line + "\n", to: 2) }
    }

    /// Writes all of `text` to `descriptor`, retrying EINTR and short writes; gives up silently on
    /// any other error (EPIPE, EBADF), since there is nowhere left to report it.
    static func write(_ text: String, to descriptor: Int32) { write(Array(text.utf8), to: descriptor) }

    static func write(_ bytes: [UInt8], to descriptor: Int32) {
        var done = 0
        bytes.withUnsafeBytes { raw in
            while done < raw.count {
                let count = Glibc.write(descriptor, raw.baseAddress! + done, raw.count - done)
                if count < 0 {
                    if errno == EINTR { continue }
                    return
                }
                done += count
            }
        }
    }
}
