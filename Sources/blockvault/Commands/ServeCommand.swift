import ArgumentParser
import Replication
import Store

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Receive a push into this receive-only vault over stdin/stdout (what push and ssh start).")

    @OptionGroup var vault: VaultOptions

    @Flag(help: "Speak the protocol on stdin and stdout.")
    var stdio = false

    func run() throws {
        guard stdio else { throw CommandFailure.message("serve needs --stdio (TLS listening is not built yet)", exitCode: 2) }
        let connection = Connection(stream: FileDescriptorStream(input: 0, output: 1))
        let sink: VaultSink
        do {
            sink = try VaultSink(vault: try vault.openVault())
        } catch {
            // Tell the pushing side why, so its own error says it (ssh carries our stderr too).
            try? connection.send(.close(reason: "\(error)"))
            throw error
        }
        let driver = ReceiverDriver(sink: sink)
        try driver.run(over: connection)
        let session = driver.session
        // Refused snapshots are named: a replica never drops one silently.
        for skipped in session.snapshotsSkipped { printError("blockvault serve: skipped snapshot \(skipped)") }
        let skipped = session.snapshotsSkipped.isEmpty ? "" : ", \(session.snapshotsSkipped.count) skipped"
        printError("blockvault serve: received \(session.versionsRecorded) versions, \(session.blocksReceived) blocks (\(Format.bytes(session.bytesReceived))), \(session.snapshotsAdded) new snapshots\(skipped)")
    }
}
