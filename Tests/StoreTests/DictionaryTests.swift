import Chunker
import Synchronization
import Testing
import TestSupport
@testable import Store
#if canImport(Glibc)
import Glibc
#endif

/// Small files that share a preamble (a licence header, say) and differ after it: what a trained
/// dictionary is for.
func similarSmallFile(_ index: Int, size: Int = 6000) -> [UInt8] {
    let preamble = DeterministicData.textLikeBytes(count: 1500, seed: 4242)
    return preamble + Array("file \(index)\n".utf8) + DeterministicData.textLikeBytes(count: size - 1500, seed: UInt64(index))
}

/// zstd dictionaries: sampling and training, frames that name them, decoding that needs them.
@Suite struct DictionaryTests {
    static func trained() throws -> ZstdDictionary {
        let samples = (0..<400).map { similarSmallFile($0) }
        let joined = samples.flatMap { $0 }
        return try #require(joined.withUnsafeBytes {
            ZstdDictionary.train(samples: $0, sizes: samples.map(\.count), capacity: 64 << 10, level: 3)
        })
    }

    @Test func framesNameTheirDictionaryAndNeedItToDecode() throws {
        let dictionary = try DictionaryTests.trained()
        #expect(dictionary.id != 0)
        #expect(dictionary.bytes.count <= 64 << 10)
        let plain = similarSmallFile(9999)
        let id = SHA256Hasher.hash(plain)
        let compressor = try #require(ZstdCompressor(level: 3, dictionary: dictionary))
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: ZstdCompressor.bound(plain.count), alignment: 16)
        defer { output.deallocate() }
        let plainLength = try #require(plain.withUnsafeBytes { ZstdCompressor(level: 3).compress($0, into: output) })
        let length = try #require(plain.withUnsafeBytes { compressor.compress($0, into: output) })
        let frame = UnsafeRawBufferPointer(rebasing: output[0..<length])
        #expect(ZstdDictionary.id(ofFrame: frame) == dictionary.id)
        #expect(length * 4 < plainLength * 3, "the shared preamble comes from the dictionary")

        let known = DictionarySet()
        known.insert(dictionary)
        let decoder = BlockDecoder(dictionaries: known)   // owns the buffer the plaintext is returned in
        #expect(Array(try decoder.decode(frame, encoding: .zstdDictionary, rawLength: plain.count, id: id)) == plain)
        // Without its dictionary the block fails by name, never decodes to something else.
        #expect {
            _ = try BlockDecoder(dictionaries: DictionarySet()).decode(frame, encoding: .zstdDictionary, rawLength: plain.count, id: id)
        } throws: { error in
            guard case BlockDecodingFailure.missingDictionary(let wanted, let why) = error else { return false }
            return wanted == dictionary.id && why.contains("\(dictionary.id)")
        }
        // Labelled as a plain zstd frame, zstd refuses it rather than decoding without the dictionary.
        #expect(throws: BlockDecodingFailure.self) {
            _ = try decoder.decode(frame, encoding: .zstd, rawLength: plain.count, id: id)
        }
    }

    @Test func aDictionaryRecordRoundTripsAndRefusesOtherBytes() throws {
        let dictionary = try DictionaryTests.trained()
        let record = MetadataRecord.encodeDictionary(dictionary)
        let decoded = try MetadataRecord.decodeDictionary(record)
        #expect(decoded.id == dictionary.id && decoded.bytes == dictionary.bytes)
        var damaged = record
        damaged[damaged.count - 1000] ^= 0xFF
        damaged[2] ^= 0x01   // inside the ID
        #expect(throws: StoreError.self) { _ = try MetadataRecord.decodeDictionary(damaged) }
        #expect(throws: StoreError.self) { _ = try ZstdDictionary(bytes: DeterministicData.randomBytes(count: 4096, seed: 1)) }
    }

    @Test func aPackOfDictionaryBlocksReadsBackAndNamesTheMissingDictionary() throws {
        let directory = try TemporaryDirectory()
        let storage = LocalBlobStorage(root: directory.path)
        let dictionary = try DictionaryTests.trained()
        let encoder = BlockEncoder(level: 3, dictionary: dictionary)
        let sealed = Mutex<[SealedPack]>([])
        let writer = PackWriter(kind: .data, storage: storage) { pack in sealed.withLock { $0.append(pack) } }
        let blocks = (0..<20).map { similarSmallFile(5000 + $0) } + [DeterministicData.textLikeBytes(count: 200_000, seed: 3)]
        for block in blocks {
            try block.withUnsafeBytes { plain in
                let id = SHA256Hasher.hash(block)
                let (stored, encoding) = try encoder.encode(plain, id: id)
                try writer.append(id: id, stored: stored, rawLength: plain.count, encoding: encoding)
            }
        }
        try writer.flush()
        let pack = try #require(sealed.withLock { $0 }.first)
        let parsed = try storage.sealedPack(named: pack.name)
        #expect(parsed.entries == pack.entries)
        // Small blocks use the dictionary; a block over the limit does not.
        #expect(pack.entries.filter { $0.encoding == .zstdDictionary }.count == 20)
        #expect(pack.entries.last?.encoding == .zstd)

        let known = DictionarySet()
        known.insert(dictionary)
        let reader = PackReader(storage: storage, dictionaries: known)
        for (entry, block) in zip(pack.entries, blocks) {
            #expect(Array(try reader.read(BlockLocation(pack: pack.name, entry: entry))) == block)
        }
        let unknowing = PackReader(storage: storage, dictionaries: DictionarySet())
        let first = pack.entries[0]
        #expect {
            _ = try unknowing.read(BlockLocation(pack: pack.name, entry: first))
        } throws: { error in
            "\(error)".contains("block \(first.id)") && "\(error)".contains("zstd dictionary \(dictionary.id)")
        }
    }

    /// Samples come from all over the tree (random descents), never from excluded entries, and a
    /// tree with too little small compressible data gives none.
    @Test func samplesComeFromTheWholeTreeButNotFromExcludedEntries() throws {
        let directory = try TemporaryDirectory()
        try directory.makeDirectory("tree")
        for group in 0..<4 {
            try directory.makeDirectory("tree/group-\(group)")
            for index in 0..<300 {
                try directory.write(Array("group-\(group)\n".utf8) + similarSmallFile(group * 1000 + index), to: "tree/group-\(group)/file-\(index).txt")
            }
        }
        try directory.makeDirectory("tree/secret")
        for index in 0..<300 { try directory.write(Array("SECRET \(index) ".utf8) + similarSmallFile(index), to: "tree/secret/s-\(index).txt") }
        var options = BackupOptions()
        options.excludes = ["secret"]
        let tree = open(directory.path(for: "tree"), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { close(tree) }
        let samples = try #require(DictionarySampler(root: Array(directory.path(for: "tree").utf8), rootDescriptor: tree, options: options).collect())
        #expect(samples.bytes.count >= DictionarySampler.minimum && samples.sizes.reduce(0, +) == samples.bytes.count)
        let text = String(decoding: samples.bytes, as: UTF8.self)
        #expect(!text.contains("SECRET"), "an excluded file was read")
        for group in 0..<4 { #expect(text.contains("group-\(group)\n"), "no sample from group \(group)") }

        try directory.makeDirectory("small")
        for index in 0..<20 { try directory.write(similarSmallFile(index), to: "small/\(index).txt") }
        try directory.write(DeterministicData.randomBytes(count: 3 << 20, seed: 1), to: "small/big.bin")
        let small = open(directory.path(for: "small"), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { close(small) }
        #expect(DictionarySampler(root: Array(directory.path(for: "small").utf8), rootDescriptor: small, options: BackupOptions()).collect() == nil)
    }

    @Test func anEncoderWithADictionaryUsesItForSmallBlocksOnly() throws {
        let dictionary = try DictionaryTests.trained()
        let encoder = BlockEncoder(level: 3, dictionary: dictionary)
        let small = similarSmallFile(1)
        let large = DeterministicData.textLikeBytes(count: BlockEncoder.dictionaryLimit + 1, seed: 2)
        let random = DeterministicData.randomBytes(count: 5000, seed: 3)
        #expect(try small.withUnsafeBytes { try encoder.encode($0, id: SHA256Hasher.hash(small)).encoding } == .zstdDictionary)
        #expect(try large.withUnsafeBytes { try encoder.encode($0, id: SHA256Hasher.hash(large)).encoding } == .zstd)
        #expect(try random.withUnsafeBytes { try encoder.encode($0, id: SHA256Hasher.hash(random)).encoding } == .raw)
    }
}
