import ArgumentParser
import Store

struct SnapshotsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "snapshots", abstract: "List snapshots, oldest first.")

    @OptionGroup var vault: VaultOptions

    func run() throws {
        let snapshots = try vault.openVault(readOnly: true).catalog.snapshots().map(\.snapshot)
        if vault.json {
            print(JSON.array(snapshots.map { snapshot in
                JSON.object([("id", .string(snapshot.id)), ("time", .string(Format.time(snapshot.time))),
                             ("host", .string(snapshot.host)), ("path", .string(snapshot.folderDisplay)),
                             ("tags", .array(snapshot.tags.map { .string($0) })), ("files", .integer(snapshot.files)),
                             ("bytes", .integer(snapshot.bytes)), ("partial", .bool(snapshot.partial))])
            }).text)
            return
        }
        for snapshot in snapshots {
            let tags = snapshot.tags.isEmpty ? "" : " [\(snapshot.tags.joined(separator: ","))]"
            print("\(snapshot.id)  \(Format.time(snapshot.time))  \(snapshot.host)  \(snapshot.folderDisplay)  \(snapshot.files) files, \(Format.bytes(snapshot.bytes))\(snapshot.partial ? " (partial)" : "")\(tags)")
        }
    }
}
