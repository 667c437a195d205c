import ArgumentParser
import Foundation
import Store
#if canImport(Glibc)
import Glibc
#endif

struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Record a new snapshot of a directory.",
        discussion: "Exit status 3 means the snapshot was recorded but some files could not be read (each is named on stderr).")

    @OptionGroup var vault: VaultOptions
    @OptionGroup var progress: ProgressOptions

    @Argument(help: "The directory to back up.")
    var directory: String

    @Option(name: .customLong("tag"), help: "A tag for the snapshot (repeatable).")
    var tags: [String] = []

    @Option(name: .customLong("exclude"), help: "Leave out entries whose relative path or name matches this glob (repeatable).")
    var excludes: [String] = []

    @Flag(name: .customLong("allow-empty"), help: "Record an empty directory even though its last snapshot was not empty.")
    var allowEmpty = false

    @Option(name: .customLong("lock-wait"), help: "Seconds to wait for another backup of this vault to finish.")
    var lockWait: Double = 0

    @Option(help: "Reader threads, and as many threads compressing large blocks (default: two readers and one compressor per core).")
    var workers: Int = 0

    // For tests and measurements: store new blocks without a zstd dictionary, and train none.
    @Flag(name: .customLong("no-dictionary"), help: .hidden)
    var noDictionary = false

    func run() throws {
        let opened = try vault.openVault()
        var options = BackupOptions()
        options.tags = tags
        options.excludes = excludes
        options.allowEmpty = allowEmpty
        options.lockWaitSeconds = lockWait
        options.workers = workers
        options.dictionary = !noDictionary
        let backup = Backup(vault: opened, options: options, warn: { printError("blockvault: warning: \($0)") })
        let counters = backup.progress
        let summary = try progress.reporter("backup", json: vault.json) { .backup(counters) }.run { try backup.run(directory: directory) }
        for message in summary.errors where !message.isEmpty { printError("blockvault: error: \(message)") }
        if vault.json {
            print(JSON.object([
                ("snapshot", .string(summary.snapshot.id)), ("files_new", .int(summary.filesNew)),
                ("files_changed", .int(summary.filesChanged)), ("files_unchanged", .int(summary.filesUnchanged)),
                ("files_deleted", .int(summary.filesDeleted)), ("dirs", .int(summary.directories)),
                ("errors", .int(summary.errors.count)), ("bytes_read", .integer(summary.bytesRead)),
                ("bytes_added", .integer(summary.bytesAdded)), ("seconds", .double((summary.seconds * 1000).rounded() / 1000)),
            ]).text)
        } else {
            print("snapshot \(summary.snapshot.id) of \(summary.snapshot.folderDisplay)\(summary.errors.isEmpty ? "" : " (partial)")")
            print("files: \(summary.filesNew) new, \(summary.filesChanged) changed, \(summary.filesUnchanged) unchanged, \(summary.filesDeleted) deleted; \(summary.directories) directories")
            print("read \(Format.bytes(summary.bytesRead)), added \(Format.bytes(summary.bytesAdded)) to the vault in \(String(format: "%.2f", summary.seconds)) s")
            if !summary.errors.isEmpty { print("\(summary.errors.count) entries could not be read") }
        }
        if !summary.errors.isEmpty {
            throw CommandFailure.message("backup is partial: \(summary.errors.count) entries could not be read", exitCode: 3)
        }
    }
}
