import Foundation

/// `backup --json`.
struct BackupReport: Decodable {
    var snapshot: String
    var filesNew: Int
    var filesChanged: Int
    var filesUnchanged: Int
    var filesDeleted: Int
    var dirs: Int
    var errors: Int
    var bytesRead: Int64
    var bytesAdded: Int64
    var seconds: Double
}

/// One element of `snapshots --json`.
struct SnapshotInfo: Decodable {
    var id: String
    var time: String
    var host: String
    var path: String
    var tags: [String]
    var files: Int64
    var bytes: Int64
    var partial: Bool
}

/// One element of `versions PATH --json`.
struct VersionInfo: Decodable {
    var sequence: Int64
    var snapshot: String?
    var time: String
    var size: Int64
    var type: String
    var deleted: Bool
    var version: String
    var blocksHash: String?
}

/// `stats --json`.
struct StatsReport: Decodable {
    var snapshots: Int
    var versions: Int64
    var blocks: Int64
    var packs: Int64
    var logicalBytes: Int64
    var uniqueBytes: Int64
    var storedBytes: Int64
    var dedupRatio: Double
    var compressionRatio: Double
}

/// `restore --json`.
struct RestoreReport: Decodable {
    var snapshot: String?
    var files: Int
    var dirs: Int
    var bytes: Int64
    var seconds: Double
}

/// One element of `diff --json`.
struct DiffEntry: Decodable, Hashable, CustomStringConvertible {
    var path: String
    var change: String
    var description: String { "\(change) \(path)" }
}

/// One element of `blocks --json`.
struct BlockInfo: Decodable {
    var offset: Int64
    var length: Int64
    var id: String
}

/// One element of `ls --json`.
struct ListEntry: Decodable {
    var path: String
    var type: String
    var size: Int64
    var mode: String
    var mtime: String
}

/// Any JSON value, for outputs read only in part.
enum JSONValue: Decodable, Equatable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }
}

/// A vault the tests drive through the command line. Helpers that expect success throw a
/// `TestFailure` describing the command otherwise.
struct TestVault {
    let path: String
    /// Prepended to every command line (e.g. `setpriv` to run as another user).
    var wrapper: [String] = []

    /// Creates a vault with `init`.
    static func create(at path: String, wrapper: [String] = [], chunker: String? = nil) throws -> TestVault {
        let vault = TestVault(path: path, wrapper: wrapper)
        try vault.expectSuccess(vault.run("init", chunker.map { ["--chunker", $0] } ?? []))
        return vault
    }

    /// `blockvault SUBCOMMAND --repo VAULT arguments…`.
    func run(_ subcommand: String, _ arguments: [String] = [], timeout: Double = 180) throws -> CommandResult {
        try Blockvault.run([subcommand, "--repo", path] + arguments, wrapper: wrapper, timeout: timeout)
    }

    func start(_ subcommand: String, _ arguments: [String] = []) throws -> RunningCommand {
        try Blockvault.start([subcommand, "--repo", path] + arguments, wrapper: wrapper)
    }

    @discardableResult
    func expectSuccess(_ result: CommandResult) throws -> CommandResult {
        guard result.succeeded else { throw TestFailure("expected success: \(result)") }
        return result
    }

    func backup(_ directory: String, _ arguments: [String] = []) throws -> BackupReport {
        try expectSuccess(run("backup", arguments + ["--json", directory])).decode(BackupReport.self)
    }

    func snapshots() throws -> [SnapshotInfo] {
        try expectSuccess(run("snapshots", ["--json"])).decode([SnapshotInfo].self)
    }

    @discardableResult
    func restore(_ snapshot: String, to target: String, _ arguments: [String] = []) throws -> RestoreReport {
        try expectSuccess(run("restore", ["--target", target, "--json"] + arguments + [snapshot])).decode(RestoreReport.self)
    }

    func stats() throws -> StatsReport {
        try expectSuccess(run("stats", ["--json"])).decode(StatsReport.self)
    }

    func versions(_ path: String) throws -> [VersionInfo] {
        try expectSuccess(run("versions", ["--json", path])).decode([VersionInfo].self)
    }

    func diff(_ first: String, _ second: String) throws -> [DiffEntry] {
        try expectSuccess(run("diff", ["--json", first, second])).decode([DiffEntry].self)
    }

    func list(_ snapshot: String) throws -> [ListEntry] {
        try expectSuccess(run("ls", ["--json", snapshot])).decode([ListEntry].self)
    }

    /// Bytes of all files under `packs/`.
    func packBytes() throws -> Int64 { try Files.totalFileBytes(under: path + "/packs") }
}
