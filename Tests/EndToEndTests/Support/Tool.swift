import Foundation

/// Runs system tools (`sqlite3`, `strace`, …) that tests use to inspect or damage a vault.
enum Tool {
    /// Runs `executable arguments…` and returns its stdout; throws unless it exits 0.
    static func output(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let name = "/tmp/blockvault-e2e-tool-\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: name + ".out", contents: nil),
              FileManager.default.createFile(atPath: name + ".err", contents: nil),
              let stdout = FileHandle(forWritingAtPath: name + ".out"),
              let stderr = FileHandle(forWritingAtPath: name + ".err") else {
            throw TestFailure("cannot create \(name).out or .err")
        }
        defer {
            unlink(name + ".out")
            unlink(name + ".err")
        }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        process.waitUntilExit()
        try? stdout.close()
        try? stderr.close()
        let output = String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: name + ".out"))) ?? Data(), as: UTF8.self)
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let errors = String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: name + ".err"))) ?? Data(), as: UTF8.self)
            throw TestFailure("\(executable) \(arguments.joined(separator: " ")) failed with status \(process.terminationStatus): \(errors)")
        }
        return output
    }

    static func isAvailable(_ executable: String) -> Bool { FileManager.default.isExecutableFile(atPath: executable) }
}

/// Queries a catalog with the `sqlite3` command-line tool, behind the back of `blockvault`.
enum SQLiteShell {
    static let executable = "/usr/bin/sqlite3"

    /// The rows of `sql`, each as its columns (separated by `|` in sqlite3's default list mode).
    static func rows(_ database: String, _ sql: String) throws -> [[String]] {
        try Tool.output(executable, [database, sql]).split(separator: "\n").map {
            $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        }
    }

    /// Runs statements whose output does not matter.
    static func execute(_ database: String, _ sql: String) throws {
        _ = try Tool.output(executable, [database, sql])
    }
}
