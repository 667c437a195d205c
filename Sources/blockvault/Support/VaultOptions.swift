import ArgumentParser
import Foundation
import Store

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

    func openVault() throws -> Vault { try Vault(path: try vaultPath()) }
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
    static func parseTime(_ text: String) throws -> Int64 {
        if text.hasPrefix("@"), let seconds = Double(text.dropFirst()) { return Int64(seconds * 1e9) }
        let plain = ISO8601DateFormatter()
        for candidate in [text, text + "T00:00:00Z", text.replacingOccurrences(of: " ", with: "T") + "Z",
                          text.replacingOccurrences(of: " ", with: "T") + ":00Z"] {
            if let date = formatter.date(from: candidate) ?? plain.date(from: candidate) {
                return Int64((date.timeIntervalSince1970 * 1e9).rounded())
            }
        }
        throw CommandFailure.message("cannot read time '\(text)'; use 2026-11-21T10:00:00Z, '2026-11-21 10:00' or @UNIXSECONDS", exitCode: 2)
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

/// Writes a line to stderr.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
