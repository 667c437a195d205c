import Chunker
import Testing
import TestSupport

/// Invariants every chunking must keep whatever the content: the blocks tile the input exactly
/// (a restore concatenates them), each ID names its own bytes, and sizes stay within the chunker's
/// bounds (the pack writer and the reader's buffer are sized from them).
@Suite("Chunking properties")
struct ChunkingPropertyTests {
    /// Sizes sit on and around FastCDC's default minimum (127 KiB) and maximum (512 KiB), plus
    /// multi-block random, text and all-zero inputs.
    static let inputs: [GoldenInput] = [
        GoldenInput(name: "1 byte", generator: .random, seed: 21, size: 1),
        GoldenInput(name: "127 KiB", generator: .random, seed: 22, size: 127 << 10),
        GoldenInput(name: "127 KiB + 1", generator: .random, seed: 23, size: (127 << 10) + 1),
        GoldenInput(name: "512 KiB", generator: .text, seed: 24, size: 512 << 10),
        GoldenInput(name: "512 KiB + 1", generator: .zeros, seed: 0, size: (512 << 10) + 1),
        GoldenInput(name: "3 MiB random", generator: .random, seed: 25, size: 3 << 20),
        GoldenInput(name: "3 MiB text", generator: .text, seed: 26, size: 3 << 20),
        GoldenInput(name: "2 MiB zeros", generator: .zeros, seed: 0, size: 2 << 20),
        GoldenInput(name: "5 MiB + 7 random", generator: .random, seed: 27, size: (5 << 20) + 7),
    ]

    static let parameterSets: [ChunkerParameters] = [.fastCDC, .smallFastCDC, .fixed]

    @Test("blocks tile the input and respect the size bounds", arguments: inputs, parameterSets)
    func blocksTileTheInput(input: GoldenInput, parameters: ChunkerParameters) throws {
        let bytes = input.bytes()
        let hasher = SHA256Hasher()
        var blocks: [BlockRecord] = []
        var concatenated: [UInt8] = []
        concatenated.reserveCapacity(bytes.count)
        let reader = BlockReader(parameters: parameters)
        bytes.withUnsafeBytes { buffer in
            reader.forEachBlock(in: buffer) { block in
                #expect(block.bytes.count == block.length)
                #expect(hasher.hash(block.bytes) == block.id, "the ID is the SHA-256 of the block's bytes")
                concatenated.append(contentsOf: block.bytes)
                blocks.append(BlockRecord(block))
            }
        }
        #expect(concatenated == bytes, "concatenating the blocks restores the input")

        var expectedOffset: UInt64 = 0
        for block in blocks {
            #expect(block.offset == expectedOffset, "blocks are contiguous")
            #expect(block.length >= 1)
            expectedOffset += UInt64(block.length)
        }
        #expect(expectedOffset == UInt64(bytes.count), "lengths add up to the input size")

        guard let last = blocks.last else { return }
        let allButLast = blocks.dropLast()
        switch parameters.kind {
        case .fastcdc:
            for block in allButLast {
                #expect((parameters.minimumSize...parameters.maximumSize).contains(block.length), "\(block)")
            }
            #expect(last.length <= parameters.maximumSize)
        case .fixed:
            let blockSize = FixedSizeChunker.blockSize(forFileSize: UInt64(bytes.count))
            #expect(allButLast.allSatisfy { $0.length == blockSize })
            #expect(last.length == bytes.count - blockSize * allButLast.count)
            #expect(last.length <= blockSize)
        }
    }

    /// A FastCDC cut depends only on the bytes since the previous cut, which is what lets cut points
    /// resynchronise after an edit. So chunking the input from any cut point must reproduce the rest
    /// of the block list, shifted.
    @Test("chunking from any cut point reproduces the remaining blocks",
          arguments: [ChunkerParameters.fastCDC, .smallFastCDC])
    func cutsDependOnlyOnContentSinceTheLastCut(parameters: ChunkerParameters) throws {
        let bytes = DeterministicData.textLikeBytes(count: 3 << 20, seed: 28)
        let blocks = Chunking.inMemory(bytes, parameters)
        try #require(blocks.count >= 10)
        for index in [1, 2, blocks.count / 2, blocks.count - 2, blocks.count - 1] {
            let start = blocks[index].offset
            let suffix = Array(bytes[Int(start)...])
            let shifted = blocks[index...].map { BlockRecord(offset: $0.offset - start, length: $0.length, id: $0.id) }
            Chunking.expectSame(Chunking.inMemory(suffix, parameters), Array(shifted), "from block \(index)")
        }
    }

    /// FastCDC's normalisation should pull blocks towards the normal size; a mask bug (say, the
    /// hard and easy masks swapped) would keep every property above yet wreck deduplication.
    @Test("FastCDC block sizes cluster around the normal size")
    func sizeDistribution() {
        let parameters = ChunkerParameters.smallFastCDC
        let blocks = Chunking.inMemory(DeterministicData.randomBytes(count: 4 << 20, seed: 29), parameters)
        let lengths = blocks.dropLast().map(\.length)
        let mean = Double(lengths.reduce(0, +)) / Double(lengths.count)
        #expect(mean > Double(parameters.normalSize) * 0.75 && mean < Double(parameters.normalSize) * 2, "mean \(mean)")
        let forced = lengths.filter { $0 == parameters.maximumSize }.count
        #expect(forced * 20 < lengths.count, "\(forced) of \(lengths.count) blocks hit the maximum")
    }
}
