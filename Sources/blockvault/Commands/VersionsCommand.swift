import ArgumentParser
import Store

struct VersionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "versions", abstract: "Show every recorded version of one file.")

    @OptionGroup var vault: VaultOptions

    @Argument(help: "The file's path, relative to the backed-up directory (or absolute).")
    var path: String

    func run() throws {
        let bytes = path.hasPrefix("/") ? Array(path.utf8) : Format.relativePath(path)
        let history = try vault.openVault(readOnly: true).history(of: bytes)
        guard !history.isEmpty else { throw CommandFailure.message("no version of \(path) is recorded in the vault") }
        if vault.json {
            print(JSON.array(history.map { item in
                JSON.object([("sequence", .integer(item.version.sequence)),
                             ("snapshot", item.snapshot.map { .string($0.id) } ?? .null),
                             ("time", .string(Format.time(item.version.modificationTime))),
                             ("snapshot_time", item.snapshot.map { .string(Format.time($0.time)) } ?? .null),
                             ("size", .integer(item.version.size)), ("type", .string(item.version.type.name)),
                             ("deleted", .bool(item.version.deleted)), ("version", .string(item.version.version.description)),
                             ("blocks_hash", item.version.blockListHash.map { .string($0.hex) } ?? .null),
                             ("folder", .string(Format.path(item.folderPath)))])
            }).text)
            return
        }
        for item in history {
            let state = item.version.deleted ? "deleted" : "\(item.version.type.name) \(Format.bytes(item.version.size))"
            print("#\(item.version.sequence)  snapshot \(item.snapshot?.id ?? "(none yet)")  mtime \(Format.time(item.version.modificationTime))  \(state)  version \(item.version.version)")
        }
    }
}
