import Chunker
import Testing
import TestSupport
@testable import Store

/// The one write path: packs sealed, their index rows, then the caller's rows, in one transaction;
/// abandoned or failed writes leave nothing the catalog refers to.
@Suite struct VaultWriterTests {
    private func makeVault(_ directory: TemporaryDirectory) throws -> Vault {
        try Vault.create(at: directory.path(for: "v"))
        return try Vault(path: directory.path(for: "v"))
    }

    /// Stores `bytes` as one raw block through `packs` and returns its ID.
    private func storeBlock(_ bytes: [UInt8], in packs: PackWriter) throws -> BlockID {
        let id = SHA256Hasher.hash(bytes)
        try bytes.withUnsafeBytes { try packs.append(id: id, stored: $0, rawLength: bytes.count, encoding: .raw) }
        return id
    }

    /// Every file under the packs directory, temporary ones included.
    private func filesUnder(_ path: String) throws -> [String] {
        var found: [String] = []
        for shard in try FileSystem.listDirectory(Array(path.utf8)) {
            let shardPath = path + "/" + String(decoding: shard, as: UTF8.self)
            guard let names = try? FileSystem.listDirectory(Array(shardPath.utf8)) else {
                found.append(String(decoding: shard, as: UTF8.self))
                continue
            }
            found += names.map { String(decoding: $0, as: UTF8.self) }
        }
        return found
    }

    /// A single-block file version that needs block `id`.
    private func version(needing id: BlockID, size: Int) -> FileVersion {
        var version = FileVersion(path: Array("file".utf8), type: .file, size: Int64(size))
        version.blockCount = 1
        version.blockListHash = id
        return version
    }

    @Test func aPacksIndexRowsAreInTheCatalogBeforeAnyVersionThatUsesIt() throws {
        let directory = try TemporaryDirectory()
        let vault = try makeVault(directory)
        let writer = VaultWriter(vault: vault)
        let bytes = DeterministicData.randomBytes(count: 5000, seed: 1)
        let id = try storeBlock(bytes, in: writer.packs(.data))
        #expect(try !vault.catalog.hasBlock(id), "nothing is recorded before the commit")
        let sequence = try writer.commit { catalog in
            // The caller's rows come after the sealed packs' rows, in the same transaction.
            #expect(try catalog.hasBlock(id))
            #expect(try catalog.location(of: id) != nil)
            let folder = try catalog.folderID(path: Array("/src".utf8), create: true)!
            var names = NameResolver(catalog: catalog, folder: folder)
            return try catalog.insertVersion(version(needing: id, size: bytes.count), nameID: try names.nameID(for: Array("file".utf8)))
        }
        #expect(sequence > 0)
        #expect(try vault.catalog.packNames().count == 1)
        let location = try #require(try vault.catalog.location(of: id))
        let reader = PackReader(storage: vault.storage, dictionaries: vault.dictionaries)
        #expect(Array(try reader.read(location)) == bytes)
    }

    @Test(arguments: [false, true])
    func anAbandonedWriterLeavesNoPackAndNoRow(sealedFirst: Bool) throws {
        let directory = try TemporaryDirectory()
        let vault = try makeVault(directory)
        let writer = VaultWriter(vault: vault)
        let data = try storeBlock(DeterministicData.randomBytes(count: 5000, seed: 2), in: writer.packs(.data))
        let record = try writer.storeRecord(Array("a metadata record".utf8))
        #expect(try !filesUnder(directory.path(for: "v/packs")).isEmpty, "the open packs are being written")
        if sealedFirst { #expect(try writer.seal().count == 2) }
        writer.abandon()
        #expect(try filesUnder(directory.path(for: "v/packs")).isEmpty)
        #expect(try vault.catalog.packNames().isEmpty)
        #expect(try !vault.catalog.hasBlock(data))
        #expect(try !vault.catalog.hasBlock(record))
        #expect(try vault.recoverInterruptedWrites() == 0)
    }

    @Test func aCommitWhoseBodyThrowsLeavesNoRowsAndItsPackIsAdoptedByTheNextWriter() throws {
        struct Refused: Error {}
        let directory = try TemporaryDirectory()
        let vault = try makeVault(directory)
        let writer = VaultWriter(vault: vault)
        let bytes = DeterministicData.randomBytes(count: 5000, seed: 3)
        let id = try storeBlock(bytes, in: writer.packs(.data))
        #expect(throws: Refused.self) {
            try writer.commit { catalog in
                let folder = try catalog.folderID(path: Array("/src".utf8), create: true)!
                var names = NameResolver(catalog: catalog, folder: folder)
                try catalog.insertVersion(version(needing: id, size: bytes.count), nameID: try names.nameID(for: Array("file".utf8)))
                throw Refused()
            }
        }
        #expect(try vault.catalog.packNames().isEmpty)
        #expect(try !vault.catalog.hasBlock(id))
        #expect(try vault.catalog.maximumSequence() == 0)
        #expect(try vault.catalog.folderID(path: Array("/src".utf8), create: false) == nil)
        // Sealed and verified, its transaction's outcome is the catalog's: never removed by the writer.
        writer.abandon()
        #expect(try vault.storage.packNames().count == 1)
        #expect(try vault.recoverInterruptedWrites() == 1)
        #expect(try vault.catalog.hasBlock(id))
    }

    @Test func recordsStoredThroughItReadBackAndAreStoredOnce() throws {
        let directory = try TemporaryDirectory()
        let vault = try makeVault(directory)
        let writer = VaultWriter(vault: vault)
        let bytes = MetadataRecord.encodeForget(snapshots: ["0123456789abcdef"], sequences: [1, 2, 3])
        let id = try writer.storeRecord(bytes)
        #expect(try writer.storeRecord(bytes) == id)
        try writer.commit { _ in }
        #expect(try vault.catalog.packs().map(\.kind) == [Int(PackFormat.Kind.metadata.rawValue)])
        #expect(try vault.catalog.entries(ofPack: vault.catalog.packs()[0].id).count == 1)
        let location = try #require(try vault.catalog.location(of: id))
        let reader = PackReader(storage: vault.storage, dictionaries: vault.dictionaries)
        #expect(Array(try reader.read(location)) == bytes)
        // A later writer finds the record in the catalog and stores nothing again.
        let later = VaultWriter(vault: vault)
        #expect(try later.storeRecord(bytes) == id)
        #expect(try later.seal().isEmpty)
        #expect(try filesUnder(directory.path(for: "v/packs")).count == 1)
    }

    @Test func aDictionaryStoredThroughItIsRecordedAndLoadsAfterReopening() throws {
        let directory = try TemporaryDirectory()
        let vault = try makeVault(directory)
        let dictionary = try DictionaryTests.trained()
        try VaultWriter(vault: vault).storeDictionary(dictionary)
        #expect(vault.dictionaries.dictionary(id: dictionary.id) != nil)
        let records = try vault.catalog.dictionaryRecords()
        #expect(records.map(\.id) == [dictionary.id])
        let record = try #require(records[0].record)
        #expect(try vault.catalog.location(of: record) != nil)
        #expect(try Vault.readConfiguration(at: vault.path).format >= VaultConfiguration.dictionaryFormat)
        let reopened = try Vault(path: vault.path)
        #expect(reopened.dictionaries.dictionary(id: dictionary.id)?.bytes == dictionary.bytes)
        #expect(reopened.dictionaries.failures.isEmpty)
    }

    /// Background-sealed data packs go to the caller (a backup's committer records them), not to
    /// the writer's commit; `seal()` still waits for them.
    @Test func dataPacksSealedInTheBackgroundGoToTheirCaller() throws {
        let directory = try TemporaryDirectory()
        let vault = try makeVault(directory)
        let writer = VaultWriter(vault: vault)
        let handed = SealedPackList()
        let packs = writer.dataPacks(sealInBackground: true) { handed.append($0) }
        let id = try storeBlock(DeterministicData.randomBytes(count: 5000, seed: 4), in: packs)
        #expect(try writer.seal().isEmpty)
        let sealed = handed.take()
        #expect(sealed.count == 1 && sealed[0].entries.map(\.id) == [id])
        try writer.commit { _ in }
        #expect(try !vault.catalog.hasBlock(id), "the caller records its packs")
    }
}
