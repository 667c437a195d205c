import ArgumentParser
import Store

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "diff", abstract: "Show what changed between two snapshots.")

    @OptionGroup var vault: VaultOptions

    @Argument(help: "The older snapshot.")
    var first: String

    @Argument(help: "The newer snapshot.")
    var second: String

    func run() throws {
        let opened = try vault.openVault(readOnly: true)
        let changes = try opened.diff(from: try opened.snapshot(first), to: try opened.snapshot(second))
        if vault.json {
            print(JSON.array(changes.map { .object([("path", .string(Format.path($0.path))), ("change", .string($0.kind.rawValue))]) }).text)
            return
        }
        let output = OutputBuffer()
        for change in changes {
            let mark = switch change.kind { case .added: "+"; case .removed: "-"; case .modified: "M" }
            output.write("\(mark) \(Format.path(change.path))\n")
        }
        output.flush()
    }
}
