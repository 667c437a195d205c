import Chunker
import Testing
import TestSupport
@testable import Store
#if canImport(Glibc)
import Glibc
#endif

/// A large file's consecutive new blocks share zstd frames: they come back exactly (whole restores,
/// single blocks in any order, `check --read-data`), damage in a frame is found, and prune keeps
/// only the live blocks of a frame that is partly dead.
@Suite struct SharedFrameTests {
    static let size = 6 << 20

    func backedUp(_ content: [UInt8], in directory: TemporaryDirectory) throws -> Vault {
        try directory.makeDirectory("src")
        try directory.write(content, to: "src/big")
        try Vault.create(at: directory.path(for: "v"))
        let vault = try Vault(path: directory.path(for: "v"))
        _ = try Backup(vault: vault).run(directory: directory.path(for: "src"))
        return vault
    }

    func readData(_ vault: Vault) throws -> [String] {
        try Checker(vault: vault, options: { var o = CheckOptions(); o.readData = true; return o }()).run().problems
    }

    func restoreLatest(_ vault: Vault, to target: String) throws {
        let (folder, latest) = try #require(try vault.catalog.snapshots().last)
        _ = try Restorer(vault: vault).run(snapshot: latest, folder: folder, target: target)
    }

    /// Every block row of the vault's data packs, with its pack's name.
    func locations(_ vault: Vault) throws -> [BlockLocation] {
        var byID: [Int64: String] = [:]
        for pack in try vault.catalog.packs() where pack.kind == Int(PackFormat.Kind.data.rawValue) { byID[pack.id] = pack.name }
        var result: [BlockLocation] = []
        try vault.catalog.forEachPackEntries { pack, entries in
            guard let name = byID[pack] else { return }
            result += entries.values.map { BlockLocation(pack: name, entry: $0) }
        }
        return result
    }

    @Test func aLargeFilesBlocksShareFramesAndComeBackExactly() throws {
        let directory = try TemporaryDirectory()
        let content = DeterministicData.textLikeBytes(count: SharedFrameTests.size, seed: 7)
        let vault = try backedUp(content, in: directory)
        #expect(try Vault.readConfiguration(at: vault.path).format == VaultConfiguration.sharedFrameFormat)

        let all = try locations(vault)
        let shared = all.filter(\.entry.isShared)
        let frames = Set(shared.map { FrameKey(pack: $0.pack, offset: $0.entry.offset) })
        #expect(shared.count >= 2 * frames.count, "frames hold several blocks each")
        #expect(frames.count >= 2, "a 6 MiB file needs several frames")
        for frame in frames {
            let members = shared.filter { FrameKey(pack: $0.pack, offset: $0.entry.offset) == frame }.sorted { $0.entry.skip < $1.entry.skip }
            var skip = 0
            for member in members {
                #expect(member.entry.skip == skip, "a frame's blocks lie one after another")
                skip += member.entry.rawLength
            }
        }
        // A frame's bytes count once in the statistics.
        let statistics = try vault.statistics()
        #expect(statistics.storedDataBytes <= statistics.storedBytes)
        #expect(statistics.storedDataBytes < Int64(content.count) / 2)

        // Single blocks, read in an order that never follows a frame from its start.
        let reader = PackReader(storage: vault.storage, dictionaries: vault.dictionaries)
        for location in shared.sorted(by: { $0.entry.skip > $1.entry.skip }) {
            let bytes = try reader.read(location)
            #expect(SHA256Hasher.hash(Array(bytes)) == location.entry.id)
        }

        try restoreLatest(vault, to: directory.path(for: "out"))
        #expect(try FileSystem.readFile(directory.path(for: "out/big")) == content)
        #expect(try readData(vault).isEmpty)
    }

    @Test func aFlippedBitInASharedFrameIsFoundAndNeverRestored() throws {
        let directory = try TemporaryDirectory()
        let vault = try backedUp(DeterministicData.textLikeBytes(count: SharedFrameTests.size, seed: 8), in: directory)
        let victim = try #require(try locations(vault).first(where: \.entry.isShared))
        let path = vault.storage.packLocation(victim.pack)
        let offset = victim.entry.offset + victim.entry.storedLength / 2
        var byte = try FileSystem.readFile(path)[offset] ^ 0x10
        chmod(path, 0o644)
        let descriptor = open(path, O_WRONLY)
        #expect(descriptor >= 0)
        #expect(pwrite(descriptor, &byte, 1, off_t(offset)) == 1)
        close(descriptor)

        let problems = try readData(vault)
        #expect(!problems.isEmpty, "check --read-data finds the damaged frame")
        #expect(throws: (any Error).self) { try restoreLatest(vault, to: directory.path(for: "out")) }
        #expect(access(directory.path(for: "out/big"), F_OK) != 0, "no damaged file is left in place")
    }

    @Test func pruneKeepsOnlyTheLiveBlocksOfAFramePartlyDead() throws {
        let directory = try TemporaryDirectory()
        let first = DeterministicData.textLikeBytes(count: SharedFrameTests.size, seed: 9)
        let vault = try backedUp(first, in: directory)
        // The second half replaced: the frames of the first half stay live, those of the second die,
        // and the one across the edit is partly dead.
        let second = Array(first[0..<SharedFrameTests.size / 2]) + DeterministicData.textLikeBytes(count: SharedFrameTests.size / 2, seed: 10)
        try directory.write(second, to: "src/big")
        _ = try Backup(vault: vault).run(directory: directory.path(for: "src"))

        var forget = ForgetOptions()
        forget.policy.keepLast = 1
        _ = try Forget(vault: vault, options: forget).run()
        let before = try vault.statistics().storedBytes
        var options = PruneOptions()
        options.maxUnusedPercent = 0
        let pruned = try Prune(vault: vault, options: options).run()
        #expect(pruned.blocksUnused > 0)
        #expect(pruned.damaged.isEmpty)
        #expect(try vault.statistics().storedBytes < before)

        // Nothing dead is left, not even inside a frame that was kept in part: every frame's
        // plaintext is exactly its blocks.
        options.dryRun = true
        let again = try Prune(vault: vault, options: options).run()
        #expect(again.blocksUnused == 0)
        #expect(again.bytesAfter == again.bytesBefore)
        let shared = try locations(vault).filter(\.entry.isShared)
        #expect(!shared.isEmpty)
        for (frame, members) in Dictionary(grouping: shared, by: { FrameKey(pack: $0.pack, offset: $0.entry.offset) }) {
            let pack = try FileSystem.readFile(vault.storage.packLocation(frame.pack))
            let stored = Array(pack[frame.offset..<frame.offset + members[0].entry.storedLength])
            let declared = stored.withUnsafeBytes { ZstdDecompressor.declaredSize($0) }
            #expect(declared == members.reduce(0) { $0 + $1.entry.rawLength }, "frame at \(frame.offset) of \(frame.pack)")
        }

        try restoreLatest(vault, to: directory.path(for: "out"))
        #expect(try FileSystem.readFile(directory.path(for: "out/big")) == second)
        #expect(try readData(vault).isEmpty)
    }

    @Test func footersWithSkipsRoundTripAndOthersKeepTheOriginalFormat() throws {
        let id = { (n: UInt8) in SHA256Hasher.hash([n]) }
        let shared = [PackEntry(id: id(1), offset: 8, storedLength: 100, rawLength: 300, encoding: .zstdShared, skip: 0),
                      PackEntry(id: id(2), offset: 8, storedLength: 100, rawLength: 200, encoding: .zstdShared, skip: 300),
                      PackEntry(id: id(3), offset: 108, storedLength: 50, rawLength: 50, encoding: .raw)]
        for entries in [shared, [shared[2]]] {
            let footer = PackFormat.footer(kind: .data, entries: entries)
            let size = 158 + footer.count
            let file = [UInt8](repeating: 0, count: 158) + footer
            let (kind, parsed) = try PackFormat.parseFooter(fileSize: size, name: "test") { offset, count in Array(file[offset..<offset + count]) }
            #expect(kind == .data)
            #expect(parsed == entries)
            let entrySize = entries.count == 1 ? PackFormat.entrySize : PackFormat.framedEntrySize
            #expect(footer.count == 5 + entries.count * entrySize + PackFormat.trailerSize)
        }
        // A skip on a block that is not part of a frame is damage.
        var wrong = shared
        wrong[2].skip = 4
        let footer = PackFormat.footer(kind: .data, entries: wrong)
        let file = [UInt8](repeating: 0, count: 158) + footer
        #expect(throws: StoreError.self) {
            _ = try PackFormat.parseFooter(fileSize: file.count, name: "test") { offset, count in Array(file[offset..<offset + count]) }
        }
    }
}

extension SharedFrameTests {
    /// A forged footer (its checksum recomputed: it is no MAC) whose offset is near 2^64 is damage,
    /// not an overflow that kills the reader.
    @Test func aFooterOffsetNearTwoToTheSixtyFourIsDamage() throws {
        let entry = PackEntry(id: SHA256Hasher.hash([7]), offset: 8, storedLength: 50, rawLength: 50, encoding: .raw)
        var footer = PackFormat.footer(kind: .data, entries: [entry])
        let body = footer.count - PackFormat.trailerSize
        for index in (5 + 32)..<(5 + 40) { footer[index] = 0xff }
        let digest = SHA256Hasher.hash(Array(footer[0..<body]))
        footer.replaceSubrange(body..<(body + 32), with: digest.bytes)
        let file = [UInt8](repeating: 0, count: 58) + footer
        #expect(throws: StoreError.self) {
            _ = try PackFormat.parseFooter(fileSize: file.count, name: "forged") { offset, count in Array(file[offset..<offset + count]) }
        }
    }
}

/// The compression stage of a backup that fails: a worker that failed keeps the frame it was
/// filling, and the stage must still end and go cleanly (libdispatch kills a process that frees a
/// semaphore below its starting value; this test then never returns).
@Suite struct CompressionStageTests {
    @Test func aStageWhoseFrameWasAbandonedEndsAndGoesCleanly() throws {
        let directory = try TemporaryDirectory()
        let storage = LocalBlobStorage(root: directory.path)
        let sealed = SealedPackList()
        let packs = PackWriter(kind: .data, storage: storage) { sealed.append($0) }
        let block = DeterministicData.textLikeBytes(count: 200 << 10, seed: 3)
        do {
            let stage = CompressionStage(threads: 2, workers: 2, level: 3, dictionary: nil, packs: packs, progress: BackupProgress())
            let finished = stage.frames()
            let abandoned = stage.frames()
            try block.withUnsafeBytes { try finished.add(id: SHA256Hasher.hash(block), bytes: $0) }
            try finished.finish()
            try block.withUnsafeBytes { try abandoned.add(id: SHA256Hasher.hash(Array(block.reversed())), bytes: $0) }
            try stage.finish()
        }
        try packs.flush()
        #expect(sealed.take().flatMap(\.entries).map(\.id) == [SHA256Hasher.hash(block)], "the finished frame was stored")
    }
}
