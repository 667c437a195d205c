import Chunker
import Testing
import TestSupport
@testable import Replication
@testable import Store

/// Blocks the master keeps in shared zstd frames reach a replica each on its own, and restore there.
@Suite struct SharedFrameReplicationTests {
    @Test func blocksOfSharedFramesTravelAloneAndRestoreOnTheReplica() throws {
        let directory = try TemporaryDirectory()
        try directory.makeDirectory("src")
        let content = DeterministicData.textLikeBytes(count: 5 << 20, seed: 21)
        try directory.write(content, to: "src/big")
        try Vault.create(at: directory.path(for: "master"))
        try Vault.create(at: directory.path(for: "replica"), receiveOnly: true)
        let master = try Vault(path: directory.path(for: "master"))
        _ = try Backup(vault: master).run(directory: directory.path(for: "src"))
        let shared = "SELECT count(*) FROM blocks WHERE encoding = \(PackFormat.Encoding.zstdShared.rawValue)"
        #expect(try master.catalog.database.scalar(shared) ?? 0 > 1, "the master keeps the file in shared frames")

        let replica = try Vault(path: directory.path(for: "replica"))
        do {   // the sink holds the replica's write lock until it goes
            let sender = SenderDriver(source: VaultSource(vault: master))
            let receiver = ReceiverDriver(sink: try VaultSink(vault: replica))
            #expect(pump(sender, receiver) == nil)
        }
        #expect(try replica.catalog.database.scalar(shared) == 0)
        #expect(try replica.catalog.database.scalar("SELECT count(*) FROM blocks") == master.catalog.database.scalar("SELECT count(*) FROM blocks"))
        // Sent compressed, not raw.
        #expect(try replica.statistics().storedDataBytes < Int64(content.count) / 2)
        let (folder, snapshot) = try #require(try master.catalog.snapshots().last)
        _ = try Restorer(vault: replica).run(snapshot: snapshot, folder: folder, target: directory.path(for: "out"))
        #expect(try FileSystem.readFile(directory.path(for: "out/big")) == content)
    }
}
