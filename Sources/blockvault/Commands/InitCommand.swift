import ArgumentParser
import Chunker
import Store

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create a new vault.")

    @OptionGroup var vault: VaultOptions

    @Option(help: "How files are cut into blocks: fastcdc (content-defined) or fixed (Syncthing's block sizes).")
    var chunker: ChunkerParameters.Kind = .fastcdc

    @Flag(name: .customLong("receive-only"), help: "Make a receive-only replica (a backup target).")
    var receiveOnly = false

    func run() throws {
        let path = try vault.vaultPath()
        let configuration = try Vault.create(at: path, chunker: .defaults(for: chunker), receiveOnly: receiveOnly)
        if vault.json {
            print(JSON.object([("vault_id", .string(configuration.vaultID)), ("device_id", .string(configuration.deviceID)),
                               ("chunker", .string(configuration.chunker.kind.rawValue)),
                               ("receive_only", .bool(configuration.receiveOnly))]).text)
        } else {
            print("created vault \(configuration.vaultID) at \(path) (chunker \(configuration.chunker.kind.rawValue))")
        }
    }
}
