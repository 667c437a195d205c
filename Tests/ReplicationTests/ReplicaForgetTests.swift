import Chunker
import Testing
import TestSupport
@testable import Replication
@testable import Store

/// A replica forgets snapshots on its own (`forget --keep-last 1 --prune`): the next push must not
/// bring them back, because the versions they name are gone from the replica; and no snapshot is
/// ever listed whose files the replica's catalog does not hold.
@Suite struct ReplicaForgetTests {
    /// One exchange from the master into the replica (opened afresh, so its lock goes with it).
    func push(_ pair: Pair) throws -> (error: Error?, added: Int, skipped: [String]) {
        let sender = SenderDriver(source: VaultSource(vault: pair.master))
        let receiver = ReceiverDriver(sink: try VaultSink(vault: try Vault(path: pair.directory.path(for: "replica"))))
        let error = pump(sender, receiver)
        return (error, receiver.snapshotsAdded, receiver.snapshotsSkipped)
    }

    func forgetAllButLast(_ path: String) throws -> [String] {
        let vault = try Vault(path: path)
        var options = ForgetOptions()
        options.policy.keepLast = 1
        let report = try Forget(vault: vault, options: options).run()
        _ = try Prune(vault: vault).run()
        return report.decisions.filter { !$0.keep }.map(\.snapshot.id)
    }

    @Test func snapshotsForgottenOnTheReplicaStayForgottenAfterTheNextPush() throws {
        let pair = try Pair()
        #expect(try push(pair).added == 3)
        let forgotten = try forgetAllButLast(pair.directory.path(for: "replica"))
        #expect(forgotten.count == 2)
        let replica = try Vault(path: pair.directory.path(for: "replica"))
        #expect(try replica.catalog.forgottenSnapshotIDs() == Set(forgotten))

        let again = try push(pair)
        #expect(again.error == nil)
        #expect(again.added == 0, "forgotten snapshots came back")
        let listed = try Vault(path: pair.directory.path(for: "replica")).catalog.snapshots().map(\.snapshot.id)
        #expect(listed == [try pair.master.catalog.snapshots().last!.snapshot.id])

        // A later snapshot of the master still arrives, and restores exactly.
        try pair.directory.write(Array("four".utf8), to: "src/note")
        _ = try Backup(vault: pair.master).run(directory: pair.directory.path(for: "src"))
        #expect(try push(pair).added == 1)
        let (folder, snapshot) = try #require(try Vault(path: pair.directory.path(for: "replica")).catalog.snapshots().last)
        _ = try Restorer(vault: try Vault(path: pair.directory.path(for: "replica")))
            .run(snapshot: snapshot, folder: folder, target: pair.directory.path(for: "out"))
        #expect(try FileSystem.readFile(pair.directory.path(for: "out/note")) == Array("four".utf8))
    }

    /// A replica forgotten before forgotten snapshots were remembered: the table is empty, yet no
    /// snapshot whose files the replica lacks is listed again; each one skipped is named.
    @Test func aSnapshotWhoseFilesTheReplicaLacksIsSkippedAndNamed() throws {
        let pair = try Pair()
        _ = try push(pair)
        let forgotten = try forgetAllButLast(pair.directory.path(for: "replica"))
        let replica = try Vault(path: pair.directory.path(for: "replica"))
        try replica.catalog.database.execute("DELETE FROM forgotten_snapshots")

        let again = try push(pair)
        #expect(again.error == nil)
        #expect(again.added == 0)
        #expect(again.skipped.count == 2)
        for id in forgotten { #expect(again.skipped.contains { $0.contains(id) }, "\(again.skipped)") }
        #expect(try Vault(path: pair.directory.path(for: "replica")).catalog.snapshots().count == 1)
    }

    /// `repair` rebuilds the catalog from the packs: the forget record refills the table.
    @Test func aRebuiltCatalogRemembersForgottenSnapshots() throws {
        let pair = try Pair()
        _ = try push(pair)
        let forgotten = try forgetAllButLast(pair.directory.path(for: "replica"))
        let replica = try Vault(path: pair.directory.path(for: "replica"))
        let rebuilt = pair.directory.path(for: "rebuilt.db")
        _ = try CatalogRebuilder(configuration: replica.configuration, storage: replica.storage).build(at: rebuilt)
        #expect(try Catalog(path: rebuilt).forgottenSnapshotIDs() == Set(forgotten))
    }
}

@Suite struct FileTotalsTests {
    /// What a backup records as a snapshot's files and bytes is what the catalog holds as of its
    /// sequence, whether counted whole or carried from the snapshot before.
    @Test func theCatalogCountsWhatEachSnapshotRecords() throws {
        let pair = try Pair()
        let snapshots = try pair.master.catalog.snapshots()
        #expect(snapshots.count == 3)
        var previous: (sequence: Int64, files: Int64, bytes: Int64)?
        for (folder, snapshot) in snapshots {
            let whole = try pair.master.catalog.fileTotals(folder: folder, asOf: snapshot.sequence)
            #expect(whole.files == snapshot.files && whole.bytes == snapshot.bytes, "\(whole) vs \(snapshot)")
            if let previous {
                let change = try pair.master.catalog.fileTotalsChange(folder: folder, after: previous.sequence, through: snapshot.sequence)
                #expect(previous.files + change.files == whole.files && previous.bytes + change.bytes == whole.bytes)
            }
            previous = (snapshot.sequence, whole.files, whole.bytes)
        }
    }
}
