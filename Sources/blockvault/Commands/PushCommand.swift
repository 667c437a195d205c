import ArgumentParser
import Foundation
import Replication
import Store

struct PushCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Send the vault's whole history to receive-only replicas.",
        discussion: "PEER is a path or ssh://[user@]host[:port]/path (the far side runs 'blockvault serve --stdio'). Only what a replica lacks is sent; an interrupted push resumes where it stopped.")

    @OptionGroup var vault: VaultOptions
    @OptionGroup var progress: ProgressOptions

    @Option(name: .customLong("to"), help: "A replica: a path or ssh://[user@]host[:port]/path (repeatable).")
    var peers: [String] = []

    @Option(name: .customLong("ssh-command"), help: "The ssh command and its options, split on spaces.")
    var sshCommand = "ssh"

    @Option(name: .customLong("remote-command"), help: "The blockvault binary on the far side of ssh.")
    var remoteCommand = "blockvault"

    /// Pushes to every peer, one after the other, whatever happens to the others: each is reported
    /// (a failed one on stderr, and in the JSON with an "error"), and the exit status is 1 if any failed.
    func run() throws {
        guard !peers.isEmpty else { throw CommandFailure.message("no replica given; pass --to PATH or --to ssh://host/path", exitCode: 2) }
        let opened = try vault.openVault()
        var results: [JSON] = []
        var failed = 0
        for peer in peers {
            let started = Date()
            do {
                let counters = SenderProgress()
                let (session, stream) = try progress.reporter("push", json: vault.json) { .push(counters, peer: peer) }.run {
                    try push(opened, to: peer, progress: counters)
                }
                let seconds = Date().timeIntervalSince(started)
                if vault.json {
                    results.append(.object([("peer", .string(peer)), ("blocks_sent", .int(session.blocksSent)),
                                            ("bytes_sent", .integer(stream.bytesWritten)),
                                            ("bytes_received", .integer(stream.bytesRead)),
                                            ("seconds", .double((seconds * 1000).rounded() / 1000))]))
                } else {
                    print("pushed to \(peer): \(session.blocksSent) blocks, \(Format.bytes(stream.bytesWritten)) sent, \(Format.bytes(stream.bytesRead)) received in \(String(format: "%.2f", seconds)) s")
                }
            } catch {
                failed += 1
                let why = (error as? CommandFailure)?.description ?? "\(error)"
                printError("blockvault: push to \(peer) failed: \(why)")
                if vault.json { results.append(.object([("peer", .string(peer)), ("error", .string(why))])) }
            }
        }
        if vault.json { print(JSON.array(results).text) }
        if failed > 0 { throw ExitCode.failure }
    }

    /// One push; throws why it failed.
    private func push(_ opened: Vault, to peer: String, progress: SenderProgress) throws -> (SenderSession, FileDescriptorStream) {
        let process = try PeerProcess(arguments: try PeerProcess.arguments(for: peer, sshCommand: sshCommand, remoteCommand: remoteCommand))
        let driver = SenderDriver(source: VaultSource(vault: opened), progress: progress)
        var failure: Error?
        do { try driver.run(over: Connection(stream: process.stream)) } catch { failure = error }
        let status = process.finish()
        if let failure { throw failure }
        guard status == 0 else { throw CommandFailure.message("the replica side exited with status \(status)") }
        return (driver.session, process.stream)
    }
}
