import Chunker
import Synchronization
import Testing
import TestSupport
@testable import Store
#if canImport(Glibc)
import Glibc
#endif

/// Packs written by `PackWriter` can be read back alone, and damage to them is detected.
@Suite struct PackTests {
    /// Writes `blocks` through a PackWriter with a small target size; returns the sealed packs.
    static func writePacks(_ blocks: [[UInt8]], storage: any BlobStorage, targetSize: Int = 64 << 10) throws -> [SealedPack] {
        let sealed = Mutex<[SealedPack]>([])
        let writer = PackWriter(kind: .data, storage: storage, targetSize: targetSize) { pack in sealed.withLock { $0.append(pack) } }
        let encoder = BlockEncoder(level: 3)
        for block in blocks {
            try block.withUnsafeBytes { plain in
                let id = SHA256Hasher().hash(plain)
                let (stored, encoding) = try encoder.encode(plain, id: id)
                try writer.append(id: id, stored: stored, rawLength: plain.count, encoding: encoding)
            }
        }
        try writer.flush()
        return sealed.withLock { $0 }
    }

    static func sampleBlocks() -> [[UInt8]] {
        (0..<12).map { index in
            index % 2 == 0 ? DeterministicData.randomBytes(count: 10_000 + index * 997, seed: UInt64(index))
                           : DeterministicData.textLikeBytes(count: 20_000 + index * 131, seed: UInt64(index))
        }
    }

    @Test func packsRoundTripThroughFooterAndReader() throws {
        let directory = try TemporaryDirectory()
        let storage = LocalBlobStorage(root: directory.path)
        let blocks = PackTests.sampleBlocks()
        let packs = try PackTests.writePacks(blocks, storage: storage)
        #expect(packs.count >= 2, "a 64 KiB target must split ~200 KiB of blocks into several packs")
        #expect(Set(try storage.packNames()) == Set(packs.map(\.name)))
        let reader = PackReader(storage: storage, dictionaries: DictionarySet())
        var found = 0
        for pack in packs {
            var status = stat()
            #expect(stat(storage.packLocation(pack.name), &status) == 0)
            #expect(Int(status.st_size) == pack.size)
            #expect(try storage.packSize(named: pack.name) == pack.size)
            for entry in pack.entries {
                let plain = Array(try reader.read(BlockLocation(pack: pack.name, entry: entry)))
                #expect(SHA256Hasher.hash(plain) == entry.id)
                #expect(blocks.contains(plain))
                found += 1
            }
        }
        #expect(found == blocks.count)
        // Text compresses, random data does not: both encodings must appear.
        let encodings = Set(packs.flatMap(\.entries).map(\.encoding))
        #expect(encodings == [.raw, .zstd])
    }

    @Test func footerParsesAloneFromTheFile() throws {
        let directory = try TemporaryDirectory()
        try FileSystem.makeDirectories(directory.path + "/v")
        try Vault.create(at: directory.path + "/v")
        let vault = try Vault(path: directory.path + "/v")
        let packs = try PackTests.writePacks(PackTests.sampleBlocks(), storage: vault.storage)
        for pack in packs {
            let parsed = try vault.storage.sealedPack(named: pack.name)
            #expect(parsed.entries == pack.entries)
            #expect(parsed.kind == .data)
        }
    }

    @Test func flippedBitIsReportedNotReturned() throws {
        let directory = try TemporaryDirectory()
        let storage = LocalBlobStorage(root: directory.path)
        let packs = try PackTests.writePacks([DeterministicData.textLikeBytes(count: 50_000, seed: 9)], storage: storage)
        let pack = try #require(packs.first)
        let entry = try #require(pack.entries.first)
        let path = storage.packLocation(pack.name)
        chmod(path, 0o644)
        let descriptor = open(path, O_RDWR)
        var byte: UInt8 = 0
        pread(descriptor, &byte, 1, off_t(entry.offset + entry.storedLength / 2))
        byte ^= 0x10
        pwrite(descriptor, &byte, 1, off_t(entry.offset + entry.storedLength / 2))
        close(descriptor)
        let reader = PackReader(storage: storage, dictionaries: DictionarySet())
        #expect(throws: StoreError.self) { _ = try reader.read(BlockLocation(pack: pack.name, entry: entry)) }
    }

    @Test(arguments: [1, 20, 48, 100])
    func truncatedPackFailsFooterCheck(cut: Int) throws {
        let directory = try TemporaryDirectory()
        try Vault.create(at: directory.path + "/v")
        let vault = try Vault(path: directory.path + "/v")
        let packs = try PackTests.writePacks(PackTests.sampleBlocks(), storage: vault.storage, targetSize: 1 << 30)
        let pack = try #require(packs.first)
        let path = vault.storage.packLocation(pack.name)
        chmod(path, 0o644)
        #expect(truncate(path, off_t(pack.size - cut)) == 0)
        #expect(throws: StoreError.self) { _ = try vault.storage.sealedPack(named: pack.name) }
    }

    @Test func decompressionIsBoundedByTheDeclaredSize() throws {
        let plain = [UInt8](repeating: 7, count: 100_000)
        let compressor = ZstdCompressor(level: 3)
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: ZstdCompressor.bound(plain.count), alignment: 16)
        defer { output.deallocate() }
        let length = try #require(plain.withUnsafeBytes { compressor.compress($0, into: output) })
        let frame = UnsafeRawBufferPointer(rebasing: output[0..<length])
        let small = UnsafeMutableRawBufferPointer.allocate(byteCount: 1000, alignment: 16)
        defer { small.deallocate() }
        // A frame that expands beyond the block's declared size is refused, not written past the buffer.
        #expect(ZstdDecompressor().decompress(frame, into: small) == false)
        let exact = UnsafeMutableRawBufferPointer.allocate(byteCount: plain.count, alignment: 16)
        defer { exact.deallocate() }
        #expect(ZstdDecompressor().decompress(frame, into: exact))
        #expect(Array(exact) == plain)
    }

    /// Inputs whose sizes swing between 100 bytes and 2.5 MiB make zstd replace the context's
    /// workspace again and again (a larger one, or after 128 wasteful runs a smaller one); with the
    /// freed block handed back for smaller requests, every frame must still round-trip exactly.
    @Test func aCompressorWhoseWorkspaceIsReusedStillRoundTrips() throws {
        var generator = SystemRandomNumberGenerator()
        let compressor = ZstdCompressor(level: 3)
        let decompressor = ZstdDecompressor()
        let largest = 5 << 19
        let source = (0..<largest).map { index in UInt8(truncatingIfNeeded: (index / 7) &* 31 &+ Int.random(in: 0..<4, using: &generator)) }
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: ZstdCompressor.bound(largest), alignment: 16)
        let back = UnsafeMutableRawBufferPointer.allocate(byteCount: largest, alignment: 16)
        defer {
            output.deallocate()
            back.deallocate()
        }
        for round in 0..<400 {
            // Runs of 150 small inputs (past zstd's 128), then a few large ones.
            let count = round % 160 < 150 ? 100 + round % 7 * 900 : [300 << 10, 1 << 20, largest][round % 3]
            let length = try #require(source.withUnsafeBytes { compressor.compress(UnsafeRawBufferPointer(rebasing: $0[0..<count]), into: output) })
            let plain = UnsafeMutableRawBufferPointer(rebasing: back[0..<count])
            #expect(decompressor.decompress(UnsafeRawBufferPointer(rebasing: output[0..<length]), into: plain))
            #expect(source.withUnsafeBytes { memcmp($0.baseAddress!, plain.baseAddress!, count) } == 0, "round \(round), \(count) bytes")
        }
        #expect(compressor.memory.reuses > 0, "zstd replaced the workspace, and a kept block served it")
    }
}
