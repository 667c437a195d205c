import Chunker
import Foundation
import Synchronization
import Testing
import TestSupport
@testable import Store
#if canImport(Glibc)
import Glibc
#endif

/// The backup pipeline's parts: the queues between its threads, the metadata stream its committer
/// feeds, and storing compressed streams as they are.
@Suite struct BackupPipelineTests {
    // MARK: BoundedQueue

    @Test func batchesKeepTheirOrderAndPopTakesAtMostItsLimit() {
        let queue = BoundedQueue<Int>(capacity: 8)
        #expect(queue.push(contentsOf: [1, 2, 3]))
        #expect(queue.push(4))
        #expect(queue.push(contentsOf: [5, 6]))
        #expect(queue.pop(upTo: 4) == [1, 2, 3, 4])
        #expect(queue.pop() == 5)
        queue.close()
        #expect(queue.push(7) == false, "a closed queue takes nothing")
        #expect(queue.pop(upTo: 10) == [6], "what was queued before close is still drained")
        #expect(queue.pop() == nil)
        #expect(queue.pop(upTo: 10).isEmpty)
        #expect(queue.isClosedAndEmpty)
    }

    @Test func aTimedPopReturnsNothingWhenNothingComes() {
        let queue = BoundedQueue<Int>(capacity: 2)
        let start = FileSystem.monotonicSeconds()
        #expect(queue.pop(upTo: 5, timeout: 0.05).isEmpty)
        #expect(FileSystem.monotonicSeconds() - start >= 0.04)
        #expect(!queue.isClosedAndEmpty)
    }

    /// A producer blocked on a full queue is woken once consumers have taken it down to half, and
    /// a consumer blocked on an empty one by the next push; nothing is lost or reordered on the way.
    @Test func blockedProducersAndConsumersAreWokenAndEveryElementArrivesOnce() {
        let queue = BoundedQueue<Int>(capacity: 4)
        let received = Mutex<[Int]>([])
        let group = DispatchGroup()
        for _ in 0..<3 {
            group.enter()
            Thread {
                defer { group.leave() }
                while true {
                    let batch = queue.pop(upTo: 3)
                    if batch.isEmpty { return }
                    received.withLock { $0 += batch }
                }
            }.start()
        }
        for start in stride(from: 0, to: 3000, by: 5) { queue.push(contentsOf: Array(start..<start + 5)) }
        for value in 3000..<4000 { queue.push(value) }
        queue.close()
        group.wait()
        let values = received.withLock { $0 }
        #expect(values.count == 4000)
        #expect(Set(values) == Set(0..<4000))
    }

    // MARK: compressed streams

    @Test func compressedStreamsAreRecognizedByTheirOpeningBytes() {
        func opens(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { BlockEncoder.opensCompressedStream($0) } }
        #expect(opens([0x1F, 0x8B, 0x08, 0x00, 0x01]))                               // gzip
        #expect(opens([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00, 0x00]))                   // xz
        #expect(opens([0x28, 0xB5, 0x2F, 0xFD, 0x24]))                               // zstd
        #expect(opens([0x04, 0x22, 0x4D, 0x18, 0x64]))                               // lz4
        #expect(opens(Array("BZh91AY&SY".utf8) + [0x00]))                            // bzip2
        #expect(!opens(Array("BZh is not enough".utf8)))
        #expect(!opens([0x1F, 0x8B]), "too short to tell")
        #expect(!opens([0x50, 0x4B, 0x03, 0x04, 0x14]), "zip may store entries uncompressed")
        #expect(!opens(Array("plain text, which zstd shrinks".utf8)))
        #expect(!opens([]))
    }

    @Test func randomLookingBytesAreToldFromCompressibleOnes() {
        func random(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { BlockEncoder.looksRandom($0) } }
        let noise = DeterministicData.randomBytes(count: 200 << 10, seed: 3)
        let text = DeterministicData.textLikeBytes(count: 4 << 10, seed: 4)
        #expect(random(noise))
        #expect(random(Array(noise.prefix(1500))), "small samples are judged with the bias corrected")
        #expect(!random(text))
        #expect(!random(noise + text), "a piece of text anywhere sends the block to zstd")
        #expect(!random(Array(noise[0..<(100 << 10)]) + text + Array(noise[(100 << 10)...])))
        #expect(!random([UInt8](repeating: 0, count: 100_000)))
        #expect(!random(Array(noise.prefix(40))), "too short to judge")
    }

    /// A file that opens a gzip stream: its random-looking blocks skip zstd (so even a repeat inside
    /// a block, which zstd would find, is stored as it is), while a block holding appended text is
    /// compressed; a text file beside it is compressed; both restore exactly.
    @Test func aGzipFileSkipsZstdWhereItLooksRandom() throws {
        let directory = try TemporaryDirectory()
        try directory.makeDirectory("src")
        let header: [UInt8] = [0x1F, 0x8B, 0x08, 0x00]
        let piece = DeterministicData.randomBytes(count: 60 << 10, seed: 11)
        let repeated = header + piece + piece                  // one block: 120 KiB, half of it a repeat
        let noise = DeterministicData.randomBytes(count: 600 << 10, seed: 12)
        let appended = header + noise + DeterministicData.textLikeBytes(count: 8 << 10, seed: 13)
        let text = Array(String(repeating: "the quick brown fox jumps over the lazy dog\n", count: 2000).utf8)
        try directory.write(repeated, to: "src/repeated.gz")
        try directory.write(appended, to: "src/appended.gz")
        try directory.write(text, to: "src/notes.txt")
        try Vault.create(at: directory.path(for: "v"))
        let vault = try Vault(path: directory.path(for: "v"))
        let summary = try Backup(vault: vault).run(directory: directory.path(for: "src"))
        #expect(summary.errors.isEmpty)

        let reader = BlockReader(parameters: vault.configuration.chunker)
        func locations(_ content: [UInt8]) throws -> [PackEntry] {
            var entries: [PackEntry] = []
            try content.withUnsafeBytes { bytes in
                try reader.forEachBlock(in: bytes) { block in
                    entries.append(try #require(try vault.catalog.location(of: block.id)).entry)
                }
            }
            return entries
        }
        let repeatedEntries = try locations(repeated)
        #expect(repeatedEntries.first?.encoding == .raw)
        #expect(repeatedEntries.first?.storedLength == repeatedEntries.first?.rawLength)
        let appendedEntries = try locations(appended)
        #expect(appendedEntries.count >= 2)
        #expect(appendedEntries.dropLast().allSatisfy { $0.encoding == .raw })
        #expect(appendedEntries.last?.encoding != .raw, "the block with the text is compressed")
        let textID = text.withUnsafeBytes { SHA256Hasher().hash($0) }
        let textLocation = try #require(try vault.catalog.location(of: textID))
        #expect(textLocation.entry.encoding != .raw)
        #expect(textLocation.entry.storedLength < text.count / 10)

        let (folder, snapshot) = try vault.snapshot(summary.snapshot.id)
        _ = try Restorer(vault: vault).run(snapshot: snapshot, folder: folder, target: directory.path(for: "out"))
        #expect(try FileSystem.readFile(directory.path(for: "out/repeated.gz")) == repeated)
        #expect(try FileSystem.readFile(directory.path(for: "out/appended.gz")) == appended)
        #expect(try FileSystem.readFile(directory.path(for: "out/notes.txt")) == text)
    }

    // MARK: block index

    /// A block is claimed once; until the committer records the pack holding it, a version that
    /// needs it is not ready, whoever claimed it. Blocks the catalog had before the backup are
    /// never claimed. Only blocks in flight are kept for the committer.
    @Test func theBlockIndexKnowsWhichClaimedBlocksAreNotRecordedYet() throws {
        let directory = try TemporaryDirectory()
        try directory.makeDirectory("src")
        try directory.write(DeterministicData.textLikeBytes(count: 4000, seed: 1), to: "src/old.txt")
        try Vault.create(at: directory.path(for: "v"))
        let vault = try Vault(path: directory.path(for: "v"))
        _ = try Backup(vault: vault).run(directory: directory.path(for: "src"))
        let old = DeterministicData.textLikeBytes(count: 4000, seed: 1).withUnsafeBytes { SHA256Hasher().hash($0) }
        let (a, b, c) = (SHA256Hasher.hash([1]), SHA256Hasher.hash([2]), SHA256Hasher.hash([3]))

        let index = try BlockIndex(catalogPath: vault.catalogPath)
        let first = try index.makeLookup(), second = try index.makeLookup()
        #expect(try index.claim(old, lookup: first) == .stored)
        #expect(try index.claim(a, lookup: first) == .mine)
        #expect(try index.claim(a, lookup: second) == .session)
        #expect(try index.claim(b, lookup: second) == .mine)
        #expect(try index.claim(c, lookup: first) == .mine)
        #expect(index.allRecorded([]))
        #expect(!index.allRecorded([a]))
        index.recorded([a, b])
        #expect(index.allRecorded([a, b]))
        #expect(!index.allRecorded([b, c]))
        #expect(try index.claim(b, lookup: first) == .session, "recorded blocks stay claimed")
        index.recorded([c])
        #expect(index.allRecorded([a, b, c]))
    }

    /// Once the committer commits the transaction recording a pack, its blocks leave the index's
    /// session set and the catalog answers for them: `.stored`, not `.session`, and never `.mine`
    /// again. In a vault that started empty the catalog is asked only about blocks in the filter of
    /// committed blocks, so a block the session let go without the catalog having it is claimed anew
    /// (what shows it was let go).
    @Test func committedBlocksLeaveTheSessionForTheCatalog() throws {
        let directory = try TemporaryDirectory()
        try Vault.create(at: directory.path(for: "v"))
        let vault = try Vault(path: directory.path(for: "v"))
        let (a, b, c) = (SHA256Hasher.hash([1]), SHA256Hasher.hash([2]), SHA256Hasher.hash([3]))
        let index = try BlockIndex(catalogPath: vault.catalogPath)
        let lookup = try index.makeLookup()
        for id in [a, b, c] { #expect(try index.claim(id, lookup: lookup) == .mine) }

        let sealed = SealedPackList()
        let writer = PackWriter(kind: .data, storage: vault.storage) { sealed.append($0) }
        for (id, byte) in [(a, UInt8(1)), (b, UInt8(2))] {
            try [byte].withUnsafeBytes { try writer.append(id: id, stored: $0, rawLength: 1, encoding: .raw) }
        }
        try writer.flush()
        let packs = sealed.take()
        try vault.catalog.transaction { for pack in packs { try vault.catalog.insertPack(pack) } }
        index.recorded([a, b])
        #expect(try index.claim(a, lookup: lookup) == .session, "recorded in a transaction not yet committed")

        index.committed([a, b, c])   // c is not in the catalog: only to show the session let it go
        #expect(try index.claim(a, lookup: lookup) == .stored)
        #expect(try index.claim(b, lookup: lookup) == .stored)
        #expect(try index.claim(c, lookup: lookup) == .mine, "let go by the session, unknown to the catalog")
        #expect(try index.claim(c, lookup: lookup) == .session)
        #expect(try index.claim(SHA256Hasher.hash([4]), lookup: lookup) == .mine)
    }

    /// The filter answers "maybe" for every block inserted, across several of its layers, and
    /// "maybe" wrongly for few of the others.
    @Test func theBlockFilterKeepsEveryBlockAndFewFalsePositives() {
        var filter = BlockFilter()
        #expect(!filter.mayContain(SHA256Hasher.hash([0])))
        let inserted = (0..<300_000).map { SHA256Hasher.hash(withUnsafeBytes(of: UInt64($0)) { Array($0) }) }
        for id in inserted { filter.insert(id) }
        #expect(filter.count == inserted.count)
        #expect(inserted.allSatisfy { filter.mayContain($0) })
        let others = (300_000..<400_000).map { SHA256Hasher.hash(withUnsafeBytes(of: UInt64($0)) { Array($0) }) }
        let wrong = others.filter { filter.mayContain($0) }.count
        #expect(wrong < 1000, "\(wrong) of 100,000 absent blocks answered maybe")   // three layers, each about 0.3%
    }

    // MARK: metadata stream

    /// Records describing versions of an open transaction stay in memory: nothing reaches the packs
    /// directory (not even a temporary file) until `committed()`.
    @Test func theMetadataStreamWritesNothingBeforeItsVersionsCommit() throws {
        let directory = try TemporaryDirectory()
        try Vault.create(at: directory.path(for: "v"))
        let vault = try Vault(path: directory.path(for: "v"))
        let writer = VaultWriter(vault: vault)
        let stream = MetadataStream(writer: writer, folderPath: Array("/src".utf8), startSequence: 0)
        // Block lists of 32 KiB each: a record is cut after about 32 versions.
        for index in 0..<80 {
            var version = FileVersion(path: Array("file\(index)".utf8), type: .file)
            version.sequence = Int64(index + 1)
            version.blockCount = 1024
            let list = DeterministicData.randomBytes(count: 1024 * 32, seed: UInt64(index))
            version.blockListHash = SHA256Hasher.hash(list)
            version.size = 1 << 30
            try stream.add(version, blockList: list)
        }
        #expect(try filesUnder(directory.path(for: "v/packs")).isEmpty)
        try stream.committed()
        #expect(try !filesUnder(directory.path(for: "v/packs")).isEmpty, "committed records go into a pack")
        let ids = try stream.finish()
        #expect(ids.count == 3)
        #expect(try writer.seal().count == 1)
    }

    /// After a backup with the stream, a catalog rebuilt from the packs alone holds the very same
    /// versions (sequences, names, every field) and block lists as the original.
    @Test func aCatalogRebuiltFromStreamedRecordsEqualsTheOriginal() throws {
        let directory = try TemporaryDirectory()
        try directory.makeDirectory("src")
        try directory.makeDirectory("src/a")
        try directory.makeDirectory("src/a/b")
        for index in 0..<300 {
            try directory.write(DeterministicData.randomBytes(count: 100 + index * 37, seed: UInt64(index)), to: "src/a/\(index).bin")
        }
        try directory.write(DeterministicData.randomBytes(count: 3 << 20, seed: 99), to: "src/a/b/large")
        symlink("a/b/large", directory.path(for: "src/link"))
        try Vault.create(at: directory.path(for: "v"))
        let vault = try Vault(path: directory.path(for: "v"))
        _ = try Backup(vault: vault).run(directory: directory.path(for: "src"))
        unlink(directory.path(for: "src/a/5.bin"))
        try directory.write([1, 2, 3], to: "src/a/6.bin")
        _ = try Backup(vault: vault).run(directory: directory.path(for: "src"))
        let before = try catalogRows(vault.catalog)
        #expect(before.versions.count > 300)

        unlink(directory.path(for: "v/catalog.db"))
        var options = RepairOptions()
        options.apply = true
        _ = try Repair(vaultPath: directory.path(for: "v"), options: options).run()
        let rebuilt = try catalogRows(try Vault(path: directory.path(for: "v")).catalog)
        #expect(rebuilt.versions == before.versions)
        #expect(rebuilt.lists == before.lists)
    }

    private func filesUnder(_ path: String) throws -> [String] {
        var found: [String] = []
        for shard in try FileSystem.listDirectory(Array(path.utf8)) {
            let shardPath = path + "/" + String(decoding: shard, as: UTF8.self)
            guard let names = try? FileSystem.listDirectory(Array(shardPath.utf8)) else { continue }
            found += names.map { String(decoding: $0, as: UTF8.self) }
        }
        return found
    }

    /// Every version as text (path, sequence and the fields a record carries), and the block list hashes.
    private func catalogRows(_ catalog: Catalog) throws -> (versions: [String], lists: [String]) {
        var versions: [String] = []
        let end = try catalog.maximumSequence()
        try catalog.versions(after: 0, through: end) { _, version in
            versions.append("\(version.sequence) \(String(decoding: version.path, as: UTF8.self)) \(version.type) \(version.size) \(version.deleted) \(version.version) \(version.blockListHash?.description ?? "-") \(version.blockCount) \(version.modifiedBy) \(version.mode) \(version.modificationTime) \(version.linkTarget ?? [])")
        }
        var lists: [String] = []
        let statement = try catalog.database.prepare("SELECT hash FROM blocklists ORDER BY hash")
        while try statement.step() { lists.append(statement.blob(0).map { String($0, radix: 16) }.joined()) }
        return (versions, lists)
    }
}
