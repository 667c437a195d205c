import ArgumentParser
import Store

struct RepairCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Rebuild a missing or damaged catalog from the packs and drop references to lost blocks.",
        discussion: "A dry run unless --apply is given: it prints what it would do. Lost blocks are stored again by the next backup of a source that still has them.")

    @OptionGroup var vault: VaultOptions
    @OptionGroup var progress: ProgressOptions

    @Flag(help: "Make the changes (without it, only report them).")
    var apply = false

    @Flag(name: .customLong("read-data"), help: "Also read every block, to find damaged ones.")
    var readData = false

    func run() throws {
        var options = RepairOptions()
        options.apply = apply
        options.readData = readData
        let repair = Repair(vaultPath: try vault.vaultPath(), options: options)
        let counters = repair.progress
        let report = try progress.reporter("repair", json: vault.json) { .operation(counters, noun: "packs") }.run { try repair.run() }
        if vault.json {
            print(JSON.object([("applied", .bool(report.applied)), ("rebuilt", .bool(report.rebuilt)),
                               ("actions", .array(report.actions.map { .string($0) })),
                               ("broken", .array(report.broken.map { .string($0) }))]).text)
            return
        }
        for action in report.actions { print(action) }
        for line in report.broken { print("lost: \(line)") }
        if !apply && report.actions != ["nothing to repair"] { print("(dry run: nothing was changed; run again with --apply)") }
    }
}
