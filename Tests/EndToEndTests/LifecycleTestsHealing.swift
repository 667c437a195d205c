import Foundation
import Testing

extension EndToEndTests.LifecycleTests {
    /// Two snapshots that only add files, so every snapshot's files are still in the source.
    static func historyOfAdditions(_ life: LifecycleVault) throws {
        try life.writeBaseTree()
        try life.backup()
        try Files.write(life.source + "/docs/added.txt", text: DeterministicData.text(lines: 40, seed: 931))
        try Files.write(life.source + "/data/more.bin", DeterministicData.bytes(count: 300_000, seed: 932))
        try life.backup()
    }

    /// `versions --json` of files the healing backups must not touch.
    static func versionListings(_ vault: TestVault) throws -> [String] {
        try ["data/target.bin", "data/big.bin", "docs/note-3.txt", "docs/added.txt"].map {
            try vault.expectSuccess(vault.run("versions", ["--json", $0])).output
        }
    }

    @Test("a data pack deleted: check names the files, the next backup of the unchanged source stores them again")
    func backupHealsDeletedDataPack() throws {
        let life = try LifecycleVault("life-heal-data")
        defer { life.scratch.remove() }
        try Self.historyOfAdditions(life)
        let block = try life.storedBlock(ofSourceFile: "data/target.bin")
        let versionsBefore = try Self.versionListings(life.vault)
        try Files.remove(life.packPath(block.pack))

        let broken = try life.check()
        #expect(broken.status == 1, "\(broken)")
        #expect(Self.problemLines(broken).contains { $0.contains("data/target.bin") && $0.contains("missing") }, "\(broken)")

        let healing = try life.backup()
        #expect(healing.filesNew == 0 && healing.filesChanged == 0 && healing.filesDeleted == 0 && healing.errors == 0, "\(healing)")
        #expect(healing.bytesAdded >= 1_500_000, "the lost blocks are stored again: \(healing)")
        #expect(try Self.versionListings(life.vault) == versionsBefore, "healing records no new versions")
        let readData = try life.check(["--read-data"])
        #expect(readData.succeeded, "\(readData)")
        try life.expectSnapshotsRestore(nil, "after healing")

        // Healed for good: one more backup stores nothing.
        let quiet = try life.backup()
        #expect(quiet.bytesAdded == 0 && quiet.bytesRead == 0, "\(quiet)")
    }

    @Test("a metadata pack deleted: the next backup writes the metadata again, so a rebuilt catalog has every snapshot")
    func backupRewritesDeletedMetadataPack() throws {
        let life = try LifecycleVault("life-heal-meta")
        defer { life.scratch.remove() }
        try life.writeHistoryWithEdits()
        let metadata = try life.recordedPacks().filter { $0.kind == 1 }
        try #require(metadata.count >= 3, "one metadata pack per snapshot at least: \(metadata)")
        try Files.remove(life.packPath(metadata[0].name))   // the first snapshot's records

        let broken = try life.check()
        #expect(broken.status == 1 && Self.problemLines(broken).contains { $0.contains("metadata pack \(metadata[0].name)") }, "\(broken)")

        let next = try life.backup()
        #expect(next.filesNew == 0 && next.filesChanged == 0 && next.errors == 0, "\(next)")
        let readData = try life.check(["--read-data"])
        #expect(readData.succeeded, "\(readData)")

        let before = try Listings(life.vault)
        life.removeCatalog()
        let repair = try life.vault.run("repair", ["--apply", "--json"])
        let report = try repair.decode(RepairJSON.self)
        #expect(repair.succeeded && report.rebuilt && report.broken.isEmpty, "\(repair)")
        #expect(report.actions.first?.contains("\(life.taken.count) snapshots") == true, "\(repair)")
        let after = try Listings(life.vault)
        #expect(before.differences(from: after).isEmpty, "\(before.differences(from: after))")
        try life.expectSnapshotsRestore(nil, "after the rebuild")
    }

    @Test("a data pack and catalog.db both lost: repair --apply names what is lost, the next backup heals it")
    func backupHealsAfterRebuildWithLostPack() throws {
        let life = try LifecycleVault("life-heal-rebuilt")
        defer { life.scratch.remove() }
        try Self.historyOfAdditions(life)
        let block = try life.storedBlock(ofSourceFile: "data/target.bin")
        try Files.remove(life.packPath(block.pack))
        life.removeCatalog()

        let repair = try life.vault.run("repair", ["--apply", "--json"])
        let report = try repair.decode(RepairJSON.self)
        #expect(repair.succeeded && report.rebuilt, "\(repair)")
        #expect(report.broken.contains { $0.contains("data/target.bin") }, "repair should say which files lost data: \(repair)")
        let snapshots = try life.vault.snapshots().map(\.id)
        #expect(snapshots == life.taken.map(\.id))

        let healing = try life.backup()
        #expect(healing.filesNew == 0 && healing.filesChanged == 0 && healing.errors == 0, "\(healing)")
        #expect(healing.bytesAdded >= 1_500_000, "the lost blocks should be stored again: \(healing)")
        let check = try life.check()
        #expect(check.succeeded, "after a backup of the unchanged source, nothing should be missing: \(check)")
        let readData = try life.check(["--read-data"])
        #expect(readData.succeeded, "\(readData)")
        try life.expectSnapshotsRestore(nil, "after healing")
    }
}
