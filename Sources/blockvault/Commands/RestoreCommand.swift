import ArgumentParser
import Foundation
import Store

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restore", abstract: "Restore a snapshot, a subtree or one file.")

    @OptionGroup var vault: VaultOptions
    @OptionGroup var progress: ProgressOptions

    @Option(help: "The directory to restore into (created if missing).")
    var target: String

    @Argument(help: "A snapshot id, unique prefix, or 'latest'.")
    var snapshot: String

    @Option(name: .customLong("include"), help: "Restore only this path and what is under it, relative to the backed-up directory or absolute under it (repeatable).")
    var includes: [String] = []

    @Option(help: "Restore the newest snapshot taken at or before this time (RFC 3339, 'YYYY-MM-DD HH:MM', or @UNIXSECONDS).")
    var at: String?

    @Flag(help: "Replace files that already exist in the target.")
    var overwrite = false

    @Option(help: "Threads that read and verify blocks (default: one per core); one more writes the files.")
    var workers: Int = 0

    func run() throws {
        let opened = try vault.openVault(readOnly: true)
        let (folder, found) = try opened.snapshot(snapshot, at: try at.map(Format.parseTime))
        var options = RestoreOptions()
        let paths = try includes.map { try opened.entryPath(Array($0.utf8), in: folder) }
        // The backed-up directory itself (or `.`) names the whole snapshot.
        options.includes = paths.contains([]) ? [] : paths
        options.overwrite = overwrite
        options.workers = workers
        let counters = OperationProgress()
        let reporter = progress.reporter("restore", json: vault.json) { .operation(counters, noun: "files") }
        options.countFirst = reporter.mode != .off   // totals for the display, at the cost of one more pass
        let restorer = Restorer(vault: opened, options: options, progress: counters)
        let summary = try reporter.run { try restorer.run(snapshot: found, folder: folder, target: target) }
        for warning in summary.warnings { printError("blockvault: \(warning)") }
        if vault.json {
            print(JSON.object([("snapshot", .string(found.id)), ("files", .int(summary.files)), ("dirs", .int(summary.directories)),
                               ("symlinks", .int(summary.symlinks)), ("bytes", .integer(summary.bytes)),
                               ("seconds", .double((summary.seconds * 1000).rounded() / 1000))]).text)
        } else {
            print("restored snapshot \(found.id) to \(target): \(summary.files) files, \(summary.directories) directories, \(summary.symlinks) symlinks, \(Format.bytes(summary.bytes)) in \(String(format: "%.2f", summary.seconds)) s")
        }
        if !summary.warnings.isEmpty {
            throw CommandFailure.message("restore is partial: \(summary.warnings.count) entries could not be restored as recorded", exitCode: 3)
        }
    }
}
