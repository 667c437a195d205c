import Chunker
import Testing
import TestSupport
@testable import Store
#if canImport(Glibc)
import Glibc
#endif

/// Packs are streamed to disk through a 1 MiB staging buffer and verified by checksums on reread.
@Suite struct PackFileTests {
    @Test("blocks smaller and larger than a staging piece, across piece boundaries, read back exactly")
    func blocksAcrossPieceBoundaries() throws {
        let directory = try TemporaryDirectory()
        let storage = LocalBlobStorage(root: directory.path)
        let piece = LocalBlobUpload.pieceSize
        let blocks: [[UInt8]] = [
            DeterministicData.randomBytes(count: 700_000, seed: 1),
            DeterministicData.randomBytes(count: piece * 2 + 12_345, seed: 2),   // straight from memory, after a partial piece
            DeterministicData.randomBytes(count: 10, seed: 3),
            DeterministicData.textLikeBytes(count: 400_000, seed: 4),
            DeterministicData.randomBytes(count: piece, seed: 5),
            DeterministicData.randomBytes(count: 3, seed: 6),
        ]
        let packs = try PackTests.writePacks(blocks, storage: storage, targetSize: 3 * piece)
        #expect(packs.count == 2, "a 3 MiB target must seal after the large block, then once more")
        let reader = PackReader(storage: storage, dictionaries: DictionarySet())
        var read: [[UInt8]] = []
        for pack in packs {
            #expect(try storage.sealedPack(named: pack.name).entries == pack.entries)
            for entry in pack.entries { read.append(Array(try reader.read(BlockLocation(pack: pack.name, entry: entry)))) }
        }
        #expect(read == blocks)
    }

    @Test("a pack upload aborted, or dropped before commit, leaves nothing behind")
    func uncommittedFilesVanish() throws {
        let directory = try TemporaryDirectory()
        let storage = LocalBlobStorage(root: directory.path)
        let bytes = DeterministicData.randomBytes(count: LocalBlobUpload.pieceSize + 5, seed: 7)
        do {
            let file = try storage.uploadPack(named: "ab" + String(repeating: "0", count: 30))
            try file.append(bytes: bytes)
            file.abort()
            let dropped = try storage.uploadPack(named: "ab" + String(repeating: "1", count: 30))
            try dropped.append(bytes: bytes)
        }
        #expect(try FileSystem.listDirectory(Array((directory.path + "/packs/ab").utf8)).isEmpty)
        #expect(try storage.packNames().isEmpty)
    }

    @Test("a killed writer's temporary pack files are removed by the vault's recovery; packs and other files stay")
    func leftoversOfAKilledWriterAreRemoved() throws {
        let directory = try TemporaryDirectory()
        try Vault.create(at: directory.path(for: "v"))
        let vault = try Vault(path: directory.path(for: "v"))
        let packs = try PackTests.writePacks(PackTests.sampleBlocks(), storage: vault.storage)
        let shard = FileSystem.parent(of: vault.storage.packLocation(packs[0].name))
        let leftover = shard + "/." + String(repeating: "e", count: 32) + ".pack.tmp"
        let unrelated = shard + "/notes.txt"
        for path in [leftover, unrelated] { try FileSystem.writeFileAtomically(path, [1, 2, 3]) }
        let lock = try vault.lockForWriting()
        try vault.recoverInterruptedWrites()
        withExtendedLifetime(lock) {}
        #expect(!FileSystem.exists(leftover))
        #expect(FileSystem.exists(unrelated))
        #expect(Set(try vault.storage.packNames()) == Set(packs.map(\.name)))
    }

    @Test("the read-back checksum changes with any single flipped bit, and with the length")
    func checksumSeesEveryBit() throws {
        var bytes = DeterministicData.randomBytes(count: 1000, seed: 8)
        let original = bytes.withUnsafeBytes { ReadBackChecksum.of($0) }
        var seen: Set<UInt64> = [original]
        for bit in 0..<(bytes.count * 8) {
            bytes[bit / 8] ^= UInt8(1 << (bit % 8))
            seen.insert(bytes.withUnsafeBytes { ReadBackChecksum.of($0) })
            bytes[bit / 8] ^= UInt8(1 << (bit % 8))
        }
        #expect(seen.count == bytes.count * 8 + 1)
        let zeros = [UInt8](repeating: 0, count: 100)
        let lengths = Set((0...100).map { count in zeros.withUnsafeBytes { ReadBackChecksum.of(UnsafeRawBufferPointer(rebasing: $0[0..<count])) } })
        #expect(lengths.count == 101)
    }
}
