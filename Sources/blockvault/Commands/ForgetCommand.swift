import ArgumentParser
import Store

struct ForgetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forget",
        abstract: "Forget snapshots by a retention policy, and the file versions no kept snapshot needs.",
        discussion: """
            Snapshot rules work per backed-up directory, as restic's do (calendar buckets in UTC). A file version \
            stays while it is the latest of its path or some kept snapshot shows it. With --staggered, archived \
            versions are thinned the Syncthing way (one per 30 s for the first hour, per hour for a day, per day \
            for 30 days, per week up to --max-age) instead of all being forgotten. Data is reclaimed by prune \
            (or --prune).
            """)

    @OptionGroup var vault: VaultOptions
    @OptionGroup var progress: ProgressOptions

    @Option(name: .customLong("keep-last"), help: "Keep the N newest snapshots.") var keepLast: Int?
    @Option(name: .customLong("keep-hourly"), help: "Keep the newest snapshot of each of the last N hours that have one.") var keepHourly: Int?
    @Option(name: .customLong("keep-daily"), help: "… of each of the last N days.") var keepDaily: Int?
    @Option(name: .customLong("keep-weekly"), help: "… of each of the last N ISO weeks.") var keepWeekly: Int?
    @Option(name: .customLong("keep-monthly"), help: "… of each of the last N months.") var keepMonthly: Int?
    @Option(name: .customLong("keep-yearly"), help: "… of each of the last N years.") var keepYearly: Int?
    @Option(name: .customLong("keep-within"), help: "Keep snapshots newer than this before the newest (e.g. 7d, 1y2m, 36h).") var keepWithin: String?
    @Option(name: .customLong("keep-tag"), help: "Keep every snapshot with this tag (repeatable).") var keepTags: [String] = []
    @Flag(help: "Thin archived file versions the Syncthing way instead of forgetting them all.") var staggered = false
    @Option(name: .customLong("max-age"), help: "With --staggered: archived versions older than this go (e.g. 365d).") var maxAge: String?
    @Flag(name: .customLong("dry-run"), help: "Only list what would be forgotten.") var dryRun = false
    @Flag(help: "Run prune afterwards.") var prune = false

    func run() throws {
        let opened = try vault.openVault()
        var options = ForgetOptions()
        options.policy.keepLast = keepLast
        options.policy.keepHourly = keepHourly
        options.policy.keepDaily = keepDaily
        options.policy.keepWeekly = keepWeekly
        options.policy.keepMonthly = keepMonthly
        options.policy.keepYearly = keepYearly
        options.policy.keepWithin = try keepWithin.map(RetentionDuration.parse)
        options.policy.keepTags = keepTags
        options.staggered = staggered
        options.maxAge = try maxAge.map(RetentionDuration.parse)
        options.dryRun = dryRun
        guard maxAge == nil || staggered else { throw CommandFailure.message("--max-age needs --staggered", exitCode: 2) }
        let report = try Forget(vault: opened, options: options).run()
        var pruneReport: PruneReport?
        if prune && !dryRun {
            let pruning = Prune(vault: opened)
            let counters = pruning.progress
            pruneReport = try progress.reporter("prune", json: vault.json) { .operation(counters, noun: "packs") }.run { try pruning.run() }
        }
        if vault.json {
            var fields: [(String, JSON)] = [
                ("dry_run", .bool(dryRun)),
                ("snapshots", .array(report.decisions.map { decision in
                    .object([("id", .string(decision.snapshot.id)), ("time", .string(Format.time(decision.snapshot.time))),
                             ("keep", .bool(decision.keep)), ("reasons", .array(decision.reasons.map { .string($0) }))])
                })),
                ("versions_forgotten", .int(report.versionsForgotten)), ("versions_kept", .int(report.versionsKept)),
            ]
            if let pruneReport { fields.append(("prune", PruneCommand.json(pruneReport))) }
            print(JSON.object(fields).text)
            return
        }
        for decision in report.decisions {
            let what = decision.keep ? "keep   " : (dryRun ? "would forget" : "forget ")
            print("\(what) \(decision.snapshot.id)  \(Format.time(decision.snapshot.time))  \(decision.snapshot.folderDisplay)\(decision.keep ? "  (\(decision.reasons.joined(separator: ", ")))" : "")")
        }
        print("\(dryRun ? "would forget" : "forgot") \(report.versionsForgotten) file versions; \(report.versionsKept) stay")
        if let pruneReport { PruneCommand.printReport(pruneReport, dryRun: false) }
    }
}
