import ArgumentParser
import Foundation
import Store

struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete data no recorded file version uses; repack partly used packs when worth it.")

    @OptionGroup var vault: VaultOptions
    @OptionGroup var progress: ProgressOptions

    @Option(name: .customLong("max-unused"), help: "Percent of the vault's data that may stay unused before packs are repacked.")
    var maxUnused: Double = 5

    @Flag(name: .customLong("dry-run"), help: "Only report what would be reclaimed.")
    var dryRun = false

    func run() throws {
        guard maxUnused >= 0 && maxUnused <= 100 else { throw CommandFailure.message("--max-unused must be between 0 and 100", exitCode: 2) }
        var options = PruneOptions()
        options.maxUnusedPercent = maxUnused
        options.dryRun = dryRun
        let prune = Prune(vault: try vault.openVault(), options: options)
        let counters = prune.progress
        let report = try progress.reporter("prune", json: vault.json) { .operation(counters, noun: "packs") }.run { try prune.run() }
        if vault.json { print(PruneCommand.json(report).text) } else { PruneCommand.printReport(report, dryRun: dryRun) }
    }

    static func json(_ report: PruneReport) -> JSON {
        .object([("blocks_used", .int(report.blocksUsed)), ("blocks_unused", .int(report.blocksUnused)),
                 ("packs_deleted", .int(report.packsDeleted)), ("packs_repacked", .int(report.packsRepacked)),
                 ("packs_written", .int(report.packsWritten)),
                 ("dictionaries_removed", .int(report.dictionariesRemoved)), ("bytes_before", .integer(report.bytesBefore)),
                 ("bytes_after", .integer(report.bytesAfter)), ("damaged", .array(report.damaged.map { .string($0) })),
                 ("seconds", .double((report.seconds * 1000).rounded() / 1000))])
    }

    static func printReport(_ report: PruneReport, dryRun: Bool) {
        for line in report.damaged { printError("blockvault: warning: \(line)") }
        print("\(report.blocksUsed) blocks in use, \(report.blocksUnused) unused")
        print("\(dryRun ? "would delete" : "deleted") \(report.packsDeleted) packs, \(dryRun ? "would repack" : "repacked") \(report.packsRepacked) into \(report.packsWritten)")
        if report.dictionariesRemoved > 0 {
            print("\(dryRun ? "would remove" : "removed") \(report.dictionariesRemoved) zstd dictionar\(report.dictionariesRemoved == 1 ? "y" : "ies") no block uses")
        }
        print("data packs: \(Format.bytes(report.bytesBefore)) → \(Format.bytes(report.bytesAfter)) in \(String(format: "%.2f", report.seconds)) s")
    }
}
