import ArgumentParser
import Store

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the entries of a snapshot.")

    @OptionGroup var vault: VaultOptions

    @Argument(help: "A snapshot id, unique prefix, or 'latest'.")
    var snapshot: String

    @Argument(help: "Only entries at or under this path (relative to the backed-up directory, or absolute under it).")
    var path: String?

    func run() throws {
        let opened = try vault.openVault(readOnly: true)
        let (folder, found) = try opened.snapshot(snapshot)
        let entries = try opened.entries(of: found, folder: folder, under: try opened.entryPath(Array((path ?? "").utf8), in: folder))
        if vault.json {
            print(JSON.array(entries.map { entry in
                JSON.object([("path", .string(entry.displayPath)), ("type", .string(entry.type.name)),
                             ("size", .integer(entry.size)), ("mode", .string(Format.mode(entry.mode))),
                             ("mtime", .string(Format.time(entry.modificationTime)))])
            }).text)
        } else {
            let output = OutputBuffer()
            for entry in entries { output.write(entry.displayPath + (entry.type == .directory ? "/" : "") + "\n") }
            output.flush()
        }
    }
}
