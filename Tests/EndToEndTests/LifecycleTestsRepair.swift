import Foundation
import Testing

extension EndToEndTests.LifecycleTests {
    /// What the read commands print, to compare a rebuilt catalog with the one it replaces.
    struct Listings: Equatable {
        var snapshots: String
        var versions: [String: String]
        var latest: String
        var stats: String

        static let paths = ["docs/note-1.txt", "docs/note-2.txt", "data/big.bin", "data/target.bin", "link", "empty"]

        init(_ vault: TestVault) throws {
            snapshots = try vault.expectSuccess(vault.run("snapshots", ["--json"])).output
            var versions: [String: String] = [:]
            for path in Self.paths { versions[path] = try vault.expectSuccess(vault.run("versions", ["--json", path])).output }
            self.versions = versions
            latest = try vault.expectSuccess(vault.run("ls", ["--json", "latest"])).output
            stats = try vault.expectSuccess(vault.run("stats", ["--json"])).output
        }

        /// One line per listing that differs.
        func differences(from other: Listings) -> [String] {
            var result: [String] = []
            if snapshots != other.snapshots { result.append("snapshots --json:\n\(other.snapshots)\nexpected:\n\(snapshots)") }
            for path in Self.paths where versions[path] != other.versions[path] {
                result.append("versions \(path) --json:\n\(other.versions[path] ?? "")\nexpected:\n\(versions[path] ?? "")")
            }
            if latest != other.latest { result.append("ls --json latest differs") }
            if stats != other.stats { result.append("stats --json: \(other.stats), expected \(stats)") }
            return result
        }
    }

    @Test("catalog.db removed: repair is a dry run, repair --apply gives back snapshots, versions and restores")
    func rebuildRemovedCatalog() throws {
        let life = try LifecycleVault("life-rebuild")
        defer { life.scratch.remove() }
        try life.writeHistoryWithEdits()
        let before = try Listings(life.vault)
        #expect(try life.vault.versions("docs/note-1.txt").count == 2, "the edited file has two versions to give back")
        life.removeCatalog()

        let refused = try life.vault.run("ls", ["latest"])
        #expect(refused.status == 1 && refused.errorLines.count == 1 && refused.errorOutput.contains("repair"), "\(refused)")

        let dryRun = try life.vault.run("repair")
        #expect(dryRun.succeeded && dryRun.output.contains("would rebuild"), "\(dryRun)")
        #expect(!Files.exists(life.catalog), "a dry run must not create catalog.db")
        let dryJSON = try life.vault.run("repair", ["--json"])
        let dryReport = try dryJSON.decode(RepairJSON.self)
        #expect(dryJSON.succeeded && !dryReport.applied && dryReport.rebuilt && dryReport.broken.isEmpty, "\(dryJSON)")
        #expect(!Files.exists(life.catalog) && !Files.exists(life.catalog + ".rebuild"))

        let applied = try life.vault.run("repair", ["--apply", "--json"])
        let report = try applied.decode(RepairJSON.self)
        #expect(applied.succeeded && report.applied && report.rebuilt && report.broken.isEmpty, "\(applied)")
        #expect(report.actions.first?.contains("\(life.taken.count) snapshots") == true, "\(applied)")
        let after = try Listings(life.vault)
        #expect(before.differences(from: after).isEmpty, "\(before.differences(from: after))")
        let check = try life.check(["--read-data"])
        #expect(check.succeeded, "\(check)")
        try life.expectSnapshotsRestore()

        // The rebuilt vault goes on: an edit is backed up as a third version and restores.
        try Files.append(life.source + "/docs/note-1.txt", Array("after the rebuild\n".utf8))
        let next = try life.backup()
        #expect(next.filesChanged == 1 && next.filesNew == 0, "\(next)")
        #expect(try life.vault.versions("docs/note-1.txt").count == 3)
        try life.expectSnapshotsRestore()
    }

    @Test("a page of catalog.db overwritten: a read fails pointing at repair, repair --apply rebuilds it")
    func rebuildDamagedCatalog() throws {
        let life = try LifecycleVault("life-damaged")
        defer { life.scratch.remove() }
        try life.writeHistoryWithEdits()
        let before = try Listings(life.vault)
        try life.overwriteCatalogPage()
        let damagedBytes = try Files.read(life.catalog)

        let list = try life.vault.run("ls", ["latest"])
        #expect(list.status == 1 && list.errorLines.count == 1 && list.errorOutput.contains("repair"), "\(list)")
        let check = try life.check()
        #expect(check.status == 1 && (check.output + check.errorOutput).contains("repair"), "\(check)")

        let dryJSON = try life.vault.run("repair", ["--json"])
        let dryReport = try dryJSON.decode(RepairJSON.self)
        #expect(dryJSON.succeeded && !dryReport.applied && dryReport.rebuilt, "\(dryJSON)")
        #expect(try Files.read(life.catalog) == damagedBytes, "a dry run must leave catalog.db as it was")

        let applied = try life.vault.run("repair", ["--apply", "--json"])
        let report = try applied.decode(RepairJSON.self)
        #expect(applied.succeeded && report.applied && report.rebuilt, "\(applied)")
        #expect(Files.exists(life.catalog + ".damaged"), "the damaged catalog is kept aside")
        let after = try Listings(life.vault)
        #expect(before.differences(from: after).isEmpty, "\(before.differences(from: after))")
        let readData = try life.check(["--read-data"])
        #expect(readData.succeeded, "\(readData)")
        try life.expectSnapshotsRestore()
        let again = try life.vault.run("repair", ["--json"])
        #expect(try again.decode(RepairJSON.self).actions == ["nothing to repair"], "\(again)")
    }

    @Test("repair --read-data --apply drops a damaged block; a backup of the unchanged source heals it")
    func repairDropsDamagedBlockAndBackupHeals() throws {
        let life = try LifecycleVault("life-dropblock")
        defer { life.scratch.remove() }
        try life.writeHistoryWithEdits()
        let id = try Blockvault.run(["blocks", "--json", life.source + "/data/target.bin"]).decode([BlockInfo].self)[0].id
        let block = try life.storedBlock(id: id)
        try life.flipBit(in: block)
        let versionsBefore = try life.vault.expectSuccess(life.vault.run("versions", ["--json", "data/target.bin"])).output

        let dryRun = try life.vault.run("repair", ["--read-data", "--json"])
        let dryReport = try dryRun.decode(RepairJSON.self)
        #expect(dryRun.succeeded && !dryReport.applied, "\(dryRun)")
        #expect(dryReport.actions.contains { $0.contains(String(id.prefix(16))) }, "\(dryRun)")
        #expect(dryReport.broken.contains { $0.contains("data/target.bin") }, "\(dryRun)")
        let unchanged = try life.check()
        #expect(unchanged.succeeded, "the dry run dropped nothing: \(unchanged)")

        let applied = try life.vault.run("repair", ["--read-data", "--apply", "--json"])
        let report = try applied.decode(RepairJSON.self)
        #expect(applied.succeeded && report.applied && !report.rebuilt, "\(applied)")
        #expect(report.broken.count == 1 && report.broken.first?.contains("data/target.bin") == true, "\(applied)")

        // Until a backup stores it again, the version that needs the block is reported as missing it.
        let missing = try life.check()
        let problems = Self.problemLines(missing)
        #expect(missing.status == 1 && problems.count == 1, "\(missing)")
        #expect(problems.first.map { $0.contains(String(id.prefix(16))) && $0.contains("missing") && $0.contains("data/target.bin") } == true,
                "\(missing)")

        let healing = try life.backup()
        #expect(healing.filesNew == 0 && healing.filesChanged == 0 && healing.errors == 0, "\(healing)")
        #expect(healing.bytesAdded >= 48 << 10, "the lost block is stored again: \(healing)")
        let versionsAfter = try life.vault.expectSuccess(life.vault.run("versions", ["--json", "data/target.bin"])).output
        #expect(versionsAfter == versionsBefore, "healing records no new version")
        let healed = try life.check()
        #expect(healed.succeeded, "\(healed)")
        let readData = try life.check(["--read-data"])
        #expect(readData.succeeded, "after healing, check --read-data should be clean: \(readData)")
        try life.expectSnapshotsRestore(nil, "after healing")

        // Repairing again must not drop the healed copy (the damaged bytes are still in the old pack).
        let again = try life.vault.run("repair", ["--read-data", "--apply", "--json"])
        let againReport = try again.decode(RepairJSON.self)
        #expect(again.succeeded && againReport.broken.isEmpty, "a second repair finds nothing lost: \(again)")
        let afterAgain = try life.check()
        #expect(afterAgain.succeeded, "\(afterAgain)")
        try life.expectSnapshotsRestore(nil, "after a second repair --read-data --apply")
    }
}
