import Chunker
import Testing
import TestSupport
@testable import Store
#if canImport(Glibc)
import Glibc
#endif

@Suite struct VaultTests {
    @Test func initRefusesANonEmptyDirectory() throws {
        let directory = try TemporaryDirectory()
        try directory.write([1], to: "something")
        #expect(throws: StoreError.self) { try Vault.create(at: directory.path) }
    }

    @Test func aSecondWriterIsToldWhoHoldsTheLock() throws {
        let directory = try TemporaryDirectory()
        try Vault.create(at: directory.path(for: "v"))
        let vault = try Vault(path: directory.path(for: "v"))
        do {
            let held = try vault.lockForWriting()
            let error = #expect(throws: StoreError.self) { _ = try vault.lockForWriting(waitSeconds: 0.2) }
            #expect(error?.description.contains("locked by") == true)
            #expect(error?.description.contains("pid \(getpid())") == true)
            withExtendedLifetime(held) {}
        }
        _ = try vault.lockForWriting()   // released with its owner
    }

    /// A pack sealed by a writer that died before recording it is adopted by the next writer, and
    /// half-written temporary packs are removed.
    @Test func recoveryAdoptsSealedPacksAndRemovesTemporaryOnes() throws {
        let directory = try TemporaryDirectory()
        try Vault.create(at: directory.path(for: "v"))
        let vault = try Vault(path: directory.path(for: "v"))
        let packs = try PackTests.writePacks(PackTests.sampleBlocks(), storage: vault.storage)
        let shard = directory.path(for: "v/packs/ab")
        mkdir(shard, 0o755)
        try directory.write([1, 2, 3], to: "v/packs/ab/.deadbeef.pack.tmp")
        let id = try #require(packs.first?.entries.first?.id)
        #expect(try vault.catalog.hasBlock(id) == false)
        #expect(try vault.recoverInterruptedWrites() == packs.count)
        #expect(try vault.catalog.hasBlock(id))
        #expect(access(shard + "/.deadbeef.pack.tmp", F_OK) != 0)
        #expect(try vault.recoverInterruptedWrites() == 0, "recovery is idempotent")
    }

    /// Chunker sizes live in each vault's configuration: a vault made with 0.1.0's 64 KiB minimum
    /// keeps cutting with it after the default moved (to 96 KiB in 0.2.0, 112 KiB in 0.3.0, 127 KiB in 0.4.0), so its old blocks
    /// still deduplicate.
    @Test func aVaultKeepsTheChunkerSizesItWasMadeWith() throws {
        let directory = try TemporaryDirectory()
        try directory.makeDirectory("src")
        let content = DeterministicData.randomBytes(count: 4 << 20, seed: 77)
        try directory.write(content, to: "src/file")
        let old = ChunkerParameters(kind: .fastcdc, minimumSize: 64 << 10, normalSize: 128 << 10, maximumSize: 512 << 10)
        try #require(old != .fastCDC, "the test needs sizes other than today's defaults")
        try Vault.create(at: directory.path(for: "v"), chunker: old)
        let vault = try Vault(path: directory.path(for: "v"))
        _ = try Backup(vault: vault).run(directory: directory.path(for: "src"))
        func cuts(_ parameters: ChunkerParameters) -> [BlockID] {
            var ids: [BlockID] = []
            content.withUnsafeBytes { BlockReader(parameters: parameters).forEachBlock(in: $0) { ids.append($0.id) } }
            return ids
        }
        let folder = try #require(try vault.catalog.folders().first?.id)
        let version = try #require(try vault.catalog.history(folder: folder, path: Array("file".utf8)).last)
        let stored = try vault.catalog.blockIDs(of: version)
        #expect(stored == cuts(old))
        #expect(stored != cuts(.fastCDC))
    }

    @Test func backupAndRestoreInProcess() throws {
        let directory = try TemporaryDirectory()
        try directory.makeDirectory("src")
        try directory.makeDirectory("src/sub")
        let big = DeterministicData.randomBytes(count: 3 << 20, seed: 5)
        try directory.write(big, to: "src/sub/big")
        try directory.write(big, to: "src/copy")
        try directory.write([], to: "src/empty")
        try Vault.create(at: directory.path(for: "v"))
        let vault = try Vault(path: directory.path(for: "v"))
        let first = try Backup(vault: vault).run(directory: directory.path(for: "src"))
        #expect(first.filesNew == 3)
        #expect(first.errors.isEmpty)
        #expect(first.bytesAdded < Int64(big.count) + 100_000, "identical content is stored once")
        let second = try Backup(vault: vault).run(directory: directory.path(for: "src"))
        #expect(second.filesUnchanged == 3)
        #expect(second.bytesRead == 0, "unchanged files are not read")
        let (folder, snapshot) = try vault.snapshot(first.snapshot.id)
        _ = try Restorer(vault: vault).run(snapshot: snapshot, folder: folder, target: directory.path(for: "out"))
        #expect(try FileSystem.readFile(directory.path(for: "out/sub/big")) == big)
        #expect(try FileSystem.readFile(directory.path(for: "out/copy")) == big)
        #expect(try FileSystem.readFile(directory.path(for: "out/empty")).isEmpty)
    }

    /// The walk merges a sorted listing with the directory's records sorted by name: names that sort
    /// around '/' and around each other ("a", "a.b", "a-b", "A", a non-UTF-8 byte), deletions between
    /// kept names and at both ends, a new name in the middle, a file turned into a directory, and a
    /// changed file are each seen for what they are, and the snapshot restores exactly.
    @Test func theWalkPairsEachEntryWithItsRecordWhateverTheNamesSortAs() throws {
        let directory = try TemporaryDirectory()
        try directory.makeDirectory("src")
        let names = ["A", "a", "a-b", "a.b", "ab", "b", "z", "\u{7F}"]
        for (index, name) in names.enumerated() { try directory.write([UInt8(index)], to: "src/\(name)") }
        let odd: [UInt8] = Array(directory.path(for: "src/").utf8) + [0xFF, 0x41]
        #expect(FileSystem.withCString(odd) { creat($0, 0o644) } >= 0)
        try Vault.create(at: directory.path(for: "v"))
        let vault = try Vault(path: directory.path(for: "v"))
        let first = try Backup(vault: vault).run(directory: directory.path(for: "src"))
        #expect(first.filesNew == 9)

        for name in ["A", "a.b", "\u{7F}"] { unlink(directory.path(for: "src/\(name)")) }   // first, middle, last
        try directory.write([42], to: "src/a-a")                                             // new, in the middle
        unlink(directory.path(for: "src/b"))
        try directory.makeDirectory("src/b")                                                 // file to directory
        try directory.write([7, 7], to: "src/b/inner")
        try directory.write([9, 9, 9], to: "src/ab")                                         // changed
        let second = try Backup(vault: vault).run(directory: directory.path(for: "src"))
        #expect(second.filesDeleted == 3, "A, a.b and DEL (b became a directory: a new version of the name)")
        #expect(second.filesNew == 2, "a-a and b/inner")
        #expect(second.filesChanged == 1)
        #expect(second.filesUnchanged == 4, "a, a-b, z and the non-UTF-8 name")
        let third = try Backup(vault: vault).run(directory: directory.path(for: "src"))
        #expect(third.filesUnchanged == 7)
        #expect(third.filesNew + third.filesChanged + third.filesDeleted == 0)

        let (folder, snapshot) = try vault.snapshot(third.snapshot.id)
        _ = try Restorer(vault: vault).run(snapshot: snapshot, folder: folder, target: directory.path(for: "out"))
        let restored = try FileSystem.listDirectory(Array(directory.path(for: "out").utf8))
        #expect(restored == (["a", "a-a", "a-b", "ab", "b", "z"].map { Array($0.utf8) } + [[0xFF, 0x41]]))
        #expect(try FileSystem.readFile(directory.path(for: "out/ab")) == [9, 9, 9])
        #expect(try FileSystem.readFile(directory.path(for: "out/b/inner")) == [7, 7])
    }

    @Test func anEmptiedDirectoryIsNotRecordedAsDeletedUnlessAsked() throws {
        let directory = try TemporaryDirectory()
        try directory.makeDirectory("src")
        try directory.write([1, 2, 3], to: "src/a")
        try Vault.create(at: directory.path(for: "v"))
        let vault = try Vault(path: directory.path(for: "v"))
        _ = try Backup(vault: vault).run(directory: directory.path(for: "src"))
        unlink(directory.path(for: "src/a"))
        #expect(throws: StoreError.self) { _ = try Backup(vault: vault).run(directory: directory.path(for: "src")) }
        var options = BackupOptions()
        options.allowEmpty = true
        let summary = try Backup(vault: vault, options: options).run(directory: directory.path(for: "src"))
        #expect(summary.filesDeleted == 1)
    }
}
