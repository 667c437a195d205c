import ArgumentParser
import Chunker
import Foundation
import Replication
import Store

@main
struct BlockvaultCommand: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "blockvault",
        abstract: "A content-addressed, deduplicated, versioned backup vault.",
        version: version,
        subcommands: [
            InitCommand.self, BackupCommand.self, SnapshotsCommand.self, ListCommand.self, VersionsCommand.self,
            RestoreCommand.self, DiffCommand.self, StatsCommand.self, ForgetCommand.self, PruneCommand.self, CheckCommand.self, RepairCommand.self,
            PushCommand.self, ServeCommand.self, BlocksCommand.self,
        ]
    )

    /// Runs the command; every failure becomes one line on stderr (`blockvault: …`) and an exit status.
    static func main() {
        // A peer that dies must become an error on write (EPIPE), not a silent death by SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let failure as CommandFailure {
            printError("blockvault: \(failure.description)")
            Foundation.exit(failure.exitCode)
        } catch let error as StoreError {
            printError("blockvault: \(error.description)")
            Foundation.exit(1)
        } catch let error as ReplicationError {
            printError("blockvault: \(error.description)")
            Foundation.exit(1)
        } catch let error as ChunkerError {
            printError("blockvault: \(error.description)")
            Foundation.exit(1)
        } catch {
            // Usage mistakes exit with 2 (as docs/CLI.md says); --help and --version still exit 0.
            if exitCode(for: error) == .validationFailure {
                printError(fullMessage(for: error))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
