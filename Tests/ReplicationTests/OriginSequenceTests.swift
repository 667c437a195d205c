import Chunker
import Foundation
import Testing
import TestSupport
@testable import Replication
@testable import Store

/// Each vault numbers its own versions; a version received from a peer keeps the peer's device and
/// sequence as its origin, and the vault keeps the highest sequence seen from each device.
@Suite struct OriginSequenceTests {
    static let peer = String(repeating: "ab", count: 32)

    func push(_ pair: Pair) -> Error? {
        do {
            let sender = SenderDriver(source: VaultSource(vault: pair.master))
            let receiver = ReceiverDriver(sink: try VaultSink(vault: try Vault(path: pair.directory.path(for: "replica"))))
            return pump(sender, receiver)
        } catch {
            return error
        }
    }

    func received(_ path: String, originSequence: Int64, device: String = OriginSequenceTests.peer) -> FileVersion {
        var version = FileVersion(path: Array(path.utf8), type: .file, size: 1, mode: 0o644)
        version.origin = VersionOrigin(device: device, sequence: originSequence)
        return version
    }

    @Test func aReplicaNumbersItsVersionsAsItsMasterAndRecordsTheMasterAsTheirOrigin() throws {
        let pair = try Pair()
        #expect(push(pair) == nil)
        let master = pair.master.configuration.deviceID
        let mastered = try pair.master.catalog.versionBatch(after: 0, limit: 1000).map(\.version)
        let replica = try Vault(path: pair.directory.path(for: "replica"))
        let copied = try replica.catalog.versionBatch(after: 0, limit: 1000).map(\.version)
        #expect(copied.map(\.sequence) == mastered.map(\.sequence))
        #expect(copied.map(\.origin) == mastered.map { VersionOrigin(device: master, sequence: $0.sequence) })
        #expect(mastered.allSatisfy { $0.origin == nil }, "the master made its versions itself")
        #expect(try replica.catalog.seenSequence(from: master) == pair.master.catalog.maximumSequence())
        #expect(try replica.catalog.seenSequence(from: Self.peer) == 0)
        #expect(try replica.catalog.snapshots().map(\.snapshot.sequence) == pair.master.catalog.snapshots().map(\.snapshot.sequence))
    }

    @Test func aReceivedVersionTakesTheNextLocalSequenceOrItsOriginsWhenThatIsAhead() throws {
        let directory = try TemporaryDirectory()
        let catalog = try Catalog(path: directory.path(for: "catalog.db"))
        let folder = try #require(try catalog.folderID(path: Array("/src".utf8), create: true))
        func name(_ path: String) throws -> Int64 { try catalog.nameID(folder: folder, parent: 0, name: Array(path.utf8)) }
        try catalog.transaction {
            for index in 1...3 { try catalog.insertVersion(FileVersion(path: Array("own\(index)".utf8), type: .file), nameID: try name("own\(index)")) }
        }
        let (behind, ahead) = try catalog.transaction {
            (try catalog.insertReceivedVersion(received("a", originSequence: 2), nameID: try name("a")),
             try catalog.insertReceivedVersion(received("b", originSequence: 10), nameID: try name("b")))
        }
        #expect(behind == 4, "behind the local numbering: the next local sequence")
        #expect(ahead == 10, "ahead of it: the origin's sequence")
        #expect(try catalog.version(sequence: 4, path: Array("a".utf8)).origin == VersionOrigin(device: Self.peer, sequence: 2))
        #expect(try catalog.version(sequence: 1, path: Array("own1".utf8)).origin == nil)
        #expect(try catalog.hasVersion(origin: VersionOrigin(device: Self.peer, sequence: 10)))
        #expect(try !catalog.hasVersion(origin: VersionOrigin(device: Self.peer, sequence: 4)))
        // What was recorded from the peer is told in its numbering, not by the local highest.
        #expect(try catalog.seenSequence(from: Self.peer) == 10)
        try catalog.transaction { try catalog.insertVersion(FileVersion(path: Array("own4".utf8), type: .file), nameID: try name("own4")) }
        #expect(try catalog.maximumSequence() == 11)
        #expect(try catalog.seenSequence(from: Self.peer) == 10)
        // The peer's points map to local ones between the versions received.
        #expect(try catalog.localSequence(of: 2, from: Self.peer) == 4)
        #expect(try catalog.localSequence(of: 5, from: Self.peer) == 7)
        #expect(try catalog.localSequence(of: 10, from: Self.peer) == 10)
        #expect(try catalog.localSequence(of: 1, from: Self.peer) == 0, "before the first version received, and before own1")
    }

    @Test func theUniqueIndexRefusesASecondVersionWithTheSameOrigin() throws {
        let directory = try TemporaryDirectory()
        let catalog = try Catalog(path: directory.path(for: "catalog.db"))
        let folder = try #require(try catalog.folderID(path: Array("/src".utf8), create: true))
        let a = try catalog.nameID(folder: folder, parent: 0, name: Array("a".utf8))
        try catalog.transaction { try catalog.insertReceivedVersion(received("a", originSequence: 5), nameID: a) }
        #expect(throws: StoreError.self) {
            try catalog.transaction { try catalog.insertReceivedVersion(received("a", originSequence: 5), nameID: a) }
        }
        #expect(try catalog.database.scalar("SELECT count(*) FROM versions") == 1, "the refused transaction left nothing")
        // The same sequence from another device is another version.
        try catalog.transaction {
            try catalog.insertReceivedVersion(received("a", originSequence: 5, device: String(repeating: "cd", count: 32)), nameID: a)
        }
        #expect(try catalog.database.scalar("SELECT count(*) FROM versions") == 2)
        #expect(throws: StoreError.self) {
            try catalog.transaction { try catalog.insertReceivedVersion(FileVersion(path: Array("a".utf8), type: .file), nameID: a) }
        }
    }

    @Test func originsTravelInAVersionsRecordOfTheirOwnThatOlderDecodersReadAsEmpty() throws {
        var plain = FileVersion(path: Array("a".utf8), type: .file, size: 3)
        plain.sequence = 7
        var received = plain
        received.origin = VersionOrigin(device: Self.peer, sequence: 3)
        let folder = Array("/src".utf8)
        // The records a snapshot lists are what the master wrote, origins or not.
        #expect(MetadataRecord.encodeVersions([(folder, received)], blockLists: []) == MetadataRecord.encodeVersions([(folder, plain)], blockLists: []))

        let other = String(repeating: "cd", count: 32)
        let bytes = MetadataRecord.encodeOrigins([(7, received.origin!), (9, VersionOrigin(device: other, sequence: 4)),
                                                  (12, VersionOrigin(device: Self.peer, sequence: 5))])
        // A decoder that predates origins reads no folders, versions or block lists, an empty
        // extras section, and stops.
        #expect(Array(bytes.prefix(5)) == [MetadataRecord.versionsKind, 0, 0, 0, 0])
        let decoded = try MetadataRecord.decodeVersions(bytes)
        #expect(decoded.versions.isEmpty && decoded.blockLists.isEmpty)
        #expect(decoded.origins == [7: received.origin!, 9: VersionOrigin(device: other, sequence: 4),
                                    12: VersionOrigin(device: Self.peer, sequence: 5)])
        #expect(try MetadataRecord.decodeVersions(MetadataRecord.encodeVersions([(folder, plain)], blockLists: [])).origins.isEmpty)
        for cut in 6..<bytes.count {
            #expect(throws: StoreError.self) { _ = try MetadataRecord.decodeVersions(Array(bytes[0..<cut])) }
        }
    }

    @Test func aRebuiltReplicaKeepsItsOriginsSeenSequencesAndMaster() throws {
        let pair = try Pair()
        #expect(push(pair) == nil)
        let replica = try Vault(path: pair.directory.path(for: "replica"))
        let rebuilt = pair.directory.path(for: "rebuilt.db")
        var rebuilder = CatalogRebuilder(configuration: replica.configuration, storage: replica.storage)
        rebuilder.masterDevice = CatalogRebuilder.masterDevice(ofCatalogAt: replica.catalogPath, vaultID: replica.configuration.vaultID)
        _ = try rebuilder.build(at: rebuilt)
        let catalog = try Catalog(path: rebuilt)
        let master = pair.master.configuration.deviceID
        #expect(rebuilder.masterDevice == master)
        #expect(try catalog.versionBatch(after: 0, limit: 1000).map(\.version) == replica.catalog.versionBatch(after: 0, limit: 1000).map(\.version))
        #expect(try catalog.versionBatch(after: 0, limit: 1000).map(\.version.origin) == replica.catalog.versionBatch(after: 0, limit: 1000).map(\.version.origin))
        #expect(try catalog.versionBatch(after: 0, limit: 1000).allSatisfy { $0.version.origin?.device == master })
        #expect(try catalog.seenSequence(from: master) == replica.catalog.seenSequence(from: master))
        #expect(try catalog.settingText("master_device") == master)
    }

    /// Versions not numbered as the master numbered them (from another device, or behind the local
    /// numbering) keep their origins in the records; the rest get the master from the old catalog.
    @Test func originsARebuildCannotDeriveAreInTheRecords() throws {
        let directory = try TemporaryDirectory()
        try Vault.create(at: directory.path(for: "replica"), receiveOnly: true)
        let vault = try Vault(path: directory.path(for: "replica"))
        let catalog = vault.catalog
        let other = String(repeating: "cd", count: 32)
        let folderPath = Array("/src".utf8)
        let folder = try catalog.transaction { try catalog.folderID(path: folderPath, create: true)! }
        func name(_ path: String) throws -> Int64 { try catalog.nameID(folder: folder, parent: 0, name: Array(path.utf8)) }
        try catalog.transaction {
            try catalog.setSettingText("master_device", Self.peer)
            try catalog.insertReceivedVersion(received("a", originSequence: 5), nameID: try name("a"))
            try catalog.insertReceivedVersion(received("b", originSequence: 2, device: other), nameID: try name("b"))
            try catalog.insertReceivedVersion(received("c", originSequence: 3), nameID: try name("c"))
            try catalog.insertReceivedVersion(received("d", originSequence: 9), nameID: try name("d"))
        }
        let expected: [VersionOrigin?] = [VersionOrigin(device: Self.peer, sequence: 5), VersionOrigin(device: other, sequence: 2),
                                          VersionOrigin(device: Self.peer, sequence: 3), VersionOrigin(device: Self.peer, sequence: 9)]
        #expect(try catalog.versionBatch(after: 0, limit: 10).map(\.version.sequence) == [5, 6, 7, 9])
        #expect(try catalog.versionBatch(after: 0, limit: 10).map(\.version.origin) == expected)
        let snapshot = Snapshot(id: "00000000000000aa", folderPath: folderPath, time: 1, host: "h", tags: [], sequence: 9,
                                files: 4, bytes: 4, partial: false, metadataID: nil)
        _ = try MetadataWriter(writer: VaultWriter(vault: vault)).writeSnapshot(snapshot, folder: folder)

        var rebuilder = CatalogRebuilder(configuration: vault.configuration, storage: vault.storage)
        rebuilder.masterDevice = Self.peer
        _ = try rebuilder.build(at: directory.path(for: "rebuilt.db"))
        let rebuilt = try Catalog(path: directory.path(for: "rebuilt.db"))
        #expect(try rebuilt.versionBatch(after: 0, limit: 10).map(\.version.origin) == expected)
        #expect(try rebuilt.seenSequence(from: Self.peer) == 9)
        #expect(try rebuilt.seenSequence(from: other) == 2)

        // Without the master, only what the records hold comes back.
        rebuilder.masterDevice = nil
        _ = try rebuilder.build(at: directory.path(for: "orphan.db"))
        let orphan = try Catalog(path: directory.path(for: "orphan.db"))
        #expect(try orphan.versionBatch(after: 0, limit: 10).map(\.version.origin) == [nil, expected[1], expected[2], nil])
    }

    /// The vaults 0.6.0 made (`Fixtures/migration/`), unpacked into `directory`: (master, replica path).
    func unpack060(into directory: TemporaryDirectory) throws -> (master: Vault, replica: String) {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
        tar.arguments = ["-xzf", root.path + "/Fixtures/migration/vaults-0.6.0.tar.gz", "-C", directory.path]
        try tar.run()
        tar.waitUntilExit()
        try #require(tar.terminationStatus == 0)
        return (try Vault(path: directory.path(for: "master")), directory.path(for: "replica"))
    }

    func push(from master: Vault, to replica: String) -> Error? {
        do {
            let sender = SenderDriver(source: VaultSource(vault: master))
            let receiver = ReceiverDriver(sink: try VaultSink(vault: try Vault(path: replica)))
            return pump(sender, receiver)
        } catch {
            return error
        }
    }

    /// Migration 7 → 8 of a replica made by 0.6.0: its versions get its master as origin, under the
    /// numbers they had; the seen sequence is its highest; its master's versions get none.
    @Test func aReplicaCatalogOf060MigratesWithItsMasterAsOrigin() throws {
        let directory = try TemporaryDirectory()
        let (masterVault, replicaPath) = try unpack060(into: directory)
        let master = masterVault.configuration.deviceID
        let replica = try Vault(path: replicaPath)
        #expect(try replica.catalog.database.scalar("PRAGMA user_version") == 8)
        let versions = try replica.catalog.versionBatch(after: 0, limit: 100).map(\.version)
        #expect(versions.map(\.sequence) == Array(Int64(1)...9))
        #expect(versions.map(\.origin) == versions.map { VersionOrigin(device: master, sequence: $0.sequence) })
        #expect(try replica.catalog.seenSequence(from: master) == 9)
        #expect(try masterVault.catalog.versionBatch(after: 0, limit: 100).allSatisfy { $0.version.origin == nil })
        #expect(try masterVault.catalog.database.scalar("SELECT count(*) FROM seen_sequences") == 0)
        #expect(try replica.catalog.snapshots().map(\.snapshot.sequence) == masterVault.catalog.snapshots().map(\.snapshot.sequence))
    }

    /// Records written before origins were kept (0.6.0) carry none: a rebuild gives the versions the
    /// master the old catalog names, under their own numbers; without the old catalog, the next push
    /// from the master claims them.
    @Test func aReplicaOf060RebuiltFromRecordsWithoutOriginsGetsItsMaster() throws {
        let directory = try TemporaryDirectory()
        let (masterVault, replicaPath) = try unpack060(into: directory)
        let master = masterVault.configuration.deviceID
        let configuration = try Vault.readConfiguration(at: replicaPath)
        let storage = LocalBlobStorage(root: replicaPath)
        let expected = Array(Int64(1)...9)

        var rebuilder = CatalogRebuilder(configuration: configuration, storage: storage)
        rebuilder.masterDevice = CatalogRebuilder.masterDevice(ofCatalogAt: Vault.catalogPath(replicaPath), vaultID: configuration.vaultID)
        #expect(rebuilder.masterDevice == master)
        let rebuilt = directory.path(for: "rebuilt.db")
        _ = try rebuilder.build(at: rebuilt)
        let catalog = try Catalog(path: rebuilt)
        let versions = try catalog.versionBatch(after: 0, limit: 1000).map(\.version)
        #expect(versions.map(\.sequence) == expected)
        #expect(versions.map(\.origin) == expected.map { VersionOrigin(device: master, sequence: $0) })
        #expect(try catalog.seenSequence(from: master) == 9)
        #expect(try catalog.settingText("master_device") == master)

        rebuilder.masterDevice = nil
        let withoutMaster = directory.path(for: "without.db")
        _ = try rebuilder.build(at: withoutMaster)
        let orphan = try Catalog(path: withoutMaster)
        #expect(try orphan.versionBatch(after: 0, limit: 1000).allSatisfy { $0.version.origin == nil })
        #expect(try orphan.settingText("master_device") == nil)
        for suffix in ["", "-wal", "-shm"] { unlink(Vault.catalogPath(replicaPath) + suffix) }
        #expect(rename(withoutMaster, Vault.catalogPath(replicaPath)) == 0)
        #expect(push(from: masterVault, to: replicaPath) == nil)
        let claimed = try Vault(path: replicaPath).catalog
        #expect(try claimed.versionBatch(after: 0, limit: 1000).map(\.version.origin) == expected.map { VersionOrigin(device: master, sequence: $0) })
        #expect(try claimed.settingText("master_device") == master)
        #expect(try claimed.seenSequence(from: master) == 9)
        #expect(try claimed.snapshots().map(\.snapshot.id) == ["5b595e41da991d63", "a64710eb26cff816"])
    }
}
