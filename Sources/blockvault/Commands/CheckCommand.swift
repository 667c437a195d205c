import ArgumentParser
import Foundation
import Store

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check the vault's structure and, with --read-data, every stored block.",
        discussion: "Each problem names the pack, the block and the file versions it breaks. Exit status 1 when anything is wrong.")

    @OptionGroup var vault: VaultOptions
    @OptionGroup var progress: ProgressOptions

    @Flag(name: .customLong("read-data"), help: "Decompress and re-hash every block.")
    var readData = false

    @Option(name: .customLong("read-data-subset"), help: "Read only part of the packs: a percentage (10%) or a part (2/5).")
    var subset: String?

    func run() throws {
        let opened = try vault.openVault(readOnly: true)
        var options = CheckOptions()
        options.readData = readData || subset != nil
        options.subset = try subset.map(CheckSubset.parse)
        let checker = Checker(vault: opened, options: options)
        let (counters, reading) = (checker.progress, options.readData)
        let report = try progress.reporter("check", json: vault.json) { .operation(counters, noun: "packs", bytes: reading) }.run { try checker.run() }
        if vault.json {
            print(JSON.object([
                ("ok", .bool(report.problems.isEmpty)), ("problems", .array(report.problems.map { .string($0) })),
                ("notes", .array(report.notes.map { .string($0) })), ("packs_checked", .int(report.packsChecked)),
                ("packs_read", .int(report.packsRead)), ("blocks_read", .int(report.blocksRead)),
                ("bytes_read", .integer(report.bytesRead)), ("seconds", .double((report.seconds * 1000).rounded() / 1000)),
            ]).text)
        } else {
            for note in report.notes { print("note: \(note)") }
            for problem in report.problems { print("error: \(problem)") }
            var summary = "checked \(report.packsChecked) packs"
            if options.readData {
                let rate = report.seconds > 0 ? Double(report.bytesRead) / report.seconds / 1e6 : 0
                summary += ", read \(report.packsRead) packs (\(report.blocksRead) blocks, \(Format.bytes(report.bytesRead)), \(String(format: "%.0f", rate)) MB/s)"
            }
            print("\(summary) in \(String(format: "%.2f", report.seconds)) s: \(report.problems.isEmpty ? "no problems" : "\(report.problems.count) problems")")
        }
        if !report.problems.isEmpty {
            throw CommandFailure.message("check found \(report.problems.count) problems; 'blockvault repair' shows what it can do")
        }
    }
}
