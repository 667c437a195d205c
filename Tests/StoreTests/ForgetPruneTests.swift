import Chunker
import Testing
import TestSupport
@testable import Store
#if canImport(Glibc)
import Glibc
#endif

/// forget keeps exactly what kept snapshots need (deletions included), and prune reclaims the rest
/// without touching what they need.
@Suite struct ForgetPruneTests {
    /// Three backups: {a1, b, big1} → {a2, big2} (b deleted) → {a3, big2}.
    func makeHistory(_ directory: TemporaryDirectory) throws -> (Vault, [Snapshot]) {
        try directory.makeDirectory("src")
        try Vault.create(at: directory.path(for: "v"))
        let vault = try Vault(path: directory.path(for: "v"))
        var snapshots: [Snapshot] = []
        try directory.write(Array("a1".utf8), to: "src/a")
        try directory.write(Array("b".utf8), to: "src/b")
        try directory.write(DeterministicData.randomBytes(count: 2 << 20, seed: 1), to: "src/big")
        snapshots.append(try Backup(vault: vault).run(directory: directory.path(for: "src")).snapshot)
        try directory.write(Array("a2".utf8), to: "src/a")
        unlink(directory.path(for: "src/b"))
        try directory.write(DeterministicData.randomBytes(count: 2 << 20, seed: 2), to: "src/big")
        snapshots.append(try Backup(vault: vault).run(directory: directory.path(for: "src")).snapshot)
        try directory.write(Array("a3".utf8), to: "src/a")
        snapshots.append(try Backup(vault: vault).run(directory: directory.path(for: "src")).snapshot)
        return (vault, snapshots)
    }

    func state(_ vault: Vault, _ snapshot: Snapshot) throws -> [String: Int64] {
        let (folder, found) = try vault.snapshot(snapshot.id)
        return Dictionary(uniqueKeysWithValues: try vault.entries(of: found, folder: folder).map { ($0.displayPath, $0.size) })
    }

    @Test func keptSnapshotsKeepTheirExactStateThroughForgetAndPrune() throws {
        let directory = try TemporaryDirectory()
        let (vault, snapshots) = try makeHistory(directory)
        let middle = try state(vault, snapshots[1])
        let last = try state(vault, snapshots[2])
        #expect(middle["b"] == nil, "b was deleted before the second backup")

        var options = ForgetOptions()
        options.policy.keepLast = 2
        let report = try Forget(vault: vault, options: options).run()
        #expect(report.decisions.map(\.keep) == [false, true, true])
        #expect(try vault.catalog.snapshots().map(\.snapshot.id) == [snapshots[1].id, snapshots[2].id])
        // b's deletion is still needed by the second snapshot: without it, b would come back.
        #expect(try state(vault, snapshots[1]) == middle)
        #expect(try state(vault, snapshots[2]) == last)

        let before = try vault.statistics().storedBytes
        let pruned = try Prune(vault: vault, options: { var o = PruneOptions(); o.maxUnusedPercent = 0; return o }()).run()
        #expect(pruned.blocksUnused > 0)
        #expect(try vault.statistics().storedBytes < before, "the first big file's data is reclaimed")
        let (folder, kept) = try vault.snapshot(snapshots[1].id)
        _ = try Restorer(vault: vault).run(snapshot: kept, folder: folder, target: directory.path(for: "out"))
        #expect(try FileSystem.readFile(directory.path(for: "out/big")) == DeterministicData.randomBytes(count: 2 << 20, seed: 2))
        #expect(try FileSystem.readFile(directory.path(for: "out/a")) == Array("a2".utf8))
        #expect(try Checker(vault: vault, options: { var o = CheckOptions(); o.readData = true; return o }()).run().problems.isEmpty)
    }

    @Test func dryRunChangesNothingAndAnEmptyPolicyIsRefused() throws {
        let directory = try TemporaryDirectory()
        let (vault, _) = try makeHistory(directory)
        var options = ForgetOptions()
        options.policy.keepLast = 1
        options.dryRun = true
        let versions = try vault.catalog.database.scalar("SELECT count(*) FROM versions")
        let report = try Forget(vault: vault, options: options).run()
        #expect(report.versionsForgotten > 0)
        #expect(try vault.catalog.snapshots().count == 3)
        #expect(try vault.catalog.database.scalar("SELECT count(*) FROM versions") == versions)
        #expect(throws: StoreError.self) { _ = try Forget(vault: vault, options: ForgetOptions()).run() }
    }

    @Test func aRebuiltCatalogKeepsForgottenHistoryForgotten() throws {
        let directory = try TemporaryDirectory()
        let (vault, snapshots) = try makeHistory(directory)
        var options = ForgetOptions()
        options.policy.keepLast = 1
        _ = try Forget(vault: vault, options: options).run()
        let versions = try vault.catalog.database.scalar("SELECT count(*) FROM versions")
        vault.catalog.database.close()
        for suffix in ["", "-wal", "-shm"] { unlink(directory.path(for: "v/catalog.db" + suffix)) }
        var repair = RepairOptions()
        repair.apply = true
        _ = try Repair(vaultPath: directory.path(for: "v"), options: repair).run()
        let rebuilt = try Vault(path: directory.path(for: "v"))
        #expect(try rebuilt.catalog.snapshots().map(\.snapshot.id) == [snapshots[2].id])
        #expect(try rebuilt.catalog.database.scalar("SELECT count(*) FROM versions") == versions)
    }

    /// Packs an interrupted prune had unreferenced are deleted by the next writer, never adopted.
    @Test func pendingDeletionsAreFinishedNotAdopted() throws {
        let directory = try TemporaryDirectory()
        let (vault, _) = try makeHistory(directory)
        let doomed = try PackTests.writePacks(PackTests.sampleBlocks(), storage: vault.storage)
        try vault.catalog.transaction {
            for pack in doomed { try vault.catalog.database.prepare("INSERT INTO pending_deletions(name) VALUES(?)").run([.text(pack.name)]) }
        }
        #expect(try vault.recoverInterruptedWrites() == 0)
        let present = Set(try vault.storage.packNames())
        #expect(doomed.allSatisfy { !present.contains($0.name) })
        #expect(try vault.catalog.pendingDeletions().isEmpty)
    }
}
