import Chunker
#if canImport(Glibc)
import Glibc
#endif

/// Compresses blocks for storage and proves each compressed block decodes back to its exact
/// plaintext before it may go into a pack (a zstd encoder bug must never reach the vault).
/// Blocks that zstd cannot shrink are stored raw. With a dictionary, blocks up to `dictionaryLimit`
/// bytes are compressed with it. Not thread-safe: one per worker.
final class BlockEncoder {
    /// Blocks up to this size use the dictionary. Below the chunker's minimum (127 KiB), blocks are
    /// whole small files (and tails of larger ones), where a dictionary saves most: measured on the
    /// documentation corpus, 2.6 MB on 72 MB of blocks under 64 KiB, 0.1 MB on 7.8 MB between
    /// 64 and 96 KiB. Larger blocks gain little, and a dictionary costs them nothing either.
    static let dictionaryLimit = 128 << 10

    private let compressor: ZstdCompressor
    var level: Int32 { compressor.level }
    private let decompressor = ZstdDecompressor()
    private let dictionaryCompressor: ZstdCompressor?
    private var output: UnsafeMutableRawBufferPointer
    private var check: UnsafeMutableRawBufferPointer

    init(level: Int32, dictionary: ZstdDictionary? = nil) {
        compressor = ZstdCompressor(level: level)
        dictionaryCompressor = dictionary.flatMap { ZstdCompressor(level: level, dictionary: $0) }
        output = .allocate(byteCount: 0, alignment: 16)
        check = .allocate(byteCount: 0, alignment: 16)
    }

    deinit {
        output.deallocate()
        check.deallocate()
    }

    private static func ensure(_ buffer: inout UnsafeMutableRawBufferPointer, _ count: Int) {
        guard buffer.count < count else { return }
        buffer.deallocate()
        buffer = .allocate(byteCount: count, alignment: 16)
    }

    /// Whether `start`, the first bytes of a file, opens a stream of a general-purpose compressor
    /// (gzip, xz, zstd, bzip2, lz4): its blocks skip zstd when they look random (`looksRandom`), as
    /// zstd -3 took 0.1% off the documentation tree's 87 MB of gzip files, at a fifth of a CPU
    /// second. Container formats (zip, PNG, JPEG) may hold uncompressed parts and still go to zstd.
    static func opensCompressedStream(_ start: UnsafeRawBufferPointer) -> Bool {
        func starts(with magic: [UInt8]) -> Bool {
            start.count >= magic.count && zip(start, magic).allSatisfy { $0 == $1 }
        }
        return starts(with: [0x1F, 0x8B, 0x08])                                    // gzip (deflate)
            || starts(with: [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00])                  // xz
            || starts(with: [0x28, 0xB5, 0x2F, 0xFD])                              // zstd
            || starts(with: [0x04, 0x22, 0x4D, 0x18])                              // lz4 frame
            || (starts(with: [0x42, 0x5A, 0x68]) && start.count >= 10               // bzip2: "BZh", level, block magic
                && (0x31...0x39).contains(start[3]) && starts(with: [0x42, 0x5A, 0x68, start[3], 0x31, 0x41, 0x59, 0x26, 0x53, 0x59]))
    }

    /// Whether every 4 KiB piece of `bytes` has an order-0 entropy of at least 7.8 bits a byte
    /// (estimated with the small-sample correction: random bytes about 8, text 4–6), so zstd has
    /// nothing to find. A piece of
    /// something else (text appended to a gzip file, say) anywhere in the block sends the whole
    /// block to zstd. One pass of byte counting, several times faster than a zstd attempt.
    static func looksRandom(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 64 else { return false }
        let countLog2Count = BlockEncoder.countLog2Count
        return withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 256) { counts in
            var start = 0
            while start < bytes.count {
                let end = min(start + 4096, bytes.count)
                // A short tail joins the judgement only when it is long enough to judge.
                if end - start >= 512 || start == 0 {
                    counts.initialize(repeating: 0)
                    for index in start..<end { counts[Int(bytes[index])] &+= 1 }
                    let total = Double(end - start)
                    var sum = 0.0
                    var seen = 0
                    for count in counts where count > 0 {
                        sum += countLog2Count[Int(count)]
                        seen += 1
                    }
                    // Miller–Madow: counting underestimates entropy by about (seen − 1) / (2n ln 2)
                    // bits, 0.05 for 4 KiB of random bytes and 0.25 for 1 KiB.
                    let entropy = log2(total) - sum / total + Double(seen - 1) / (2 * total * M_LN2)
                    if entropy < 7.8 { return false }
                }
                start = end
            }
            return true
        }
    }

    /// c · log2(c) for every count a 4 KiB piece can have: no logarithm per byte value per piece.
    private static let countLog2Count: [Double] = (0...4096).map { $0 == 0 ? 0 : Double($0) * log2(Double($0)) }

    /// The stored form of `plain`, valid until the next call.
    func encode(_ plain: UnsafeRawBufferPointer, id: BlockID) throws(StoreError) -> (bytes: UnsafeRawBufferPointer, encoding: PackFormat.Encoding) {
        if let dictionaryCompressor, plain.count <= BlockEncoder.dictionaryLimit {
            return try encode(plain, id: id, with: dictionaryCompressor, as: .zstdDictionary)
        }
        return try encode(plain, id: id, with: compressor, as: .zstd)
    }

    private func encode(_ plain: UnsafeRawBufferPointer, id: BlockID, with compressor: ZstdCompressor,
                        as encoding: PackFormat.Encoding) throws(StoreError) -> (bytes: UnsafeRawBufferPointer, encoding: PackFormat.Encoding) {
        guard let compressed = try compress(plain, with: compressor, naming: "block \(id)") else { return (plain, .raw) }
        return (compressed, encoding)
    }

    /// Stores blocks whose plaintexts lie one after another in `plain`: one block alone, several as
    /// one shared frame, or each raw when the frame does not shrink. Returns the bytes added.
    func store(_ plain: UnsafeRawBufferPointer, blocks: [(id: BlockID, rawLength: Int)], in packs: PackWriter) throws(StoreError) -> Int {
        if blocks.count == 1 {
            let (stored, encoding) = try encode(plain, id: blocks[0].id)
            try packs.append(id: blocks[0].id, stored: stored, rawLength: plain.count, encoding: encoding)
            return stored.count
        }
        if let frame = try encodeFrame(plain, firstBlock: blocks[0].id) {
            try packs.appendFrame(stored: frame, consecutive: blocks)
            return frame.count
        }
        var start = 0
        for block in blocks {
            try packs.append(id: block.id, stored: UnsafeRawBufferPointer(rebasing: plain[start..<start + block.rawLength]),
                             rawLength: block.rawLength, encoding: .raw)
            start += block.rawLength
        }
        return plain.count
    }

    /// One zstd frame (no dictionary) of several blocks' plaintext, one after another; nil when
    /// compression does not shrink it (the blocks are then stored raw). Valid until the next call.
    func encodeFrame(_ plain: UnsafeRawBufferPointer, firstBlock: BlockID) throws(StoreError) -> UnsafeRawBufferPointer? {
        try compress(plain, with: compressor, naming: "the frame starting with block \(firstBlock)")
    }

    /// `plain` compressed and proven to decompress back to it; nil when it does not get smaller.
    private func compress(_ plain: UnsafeRawBufferPointer, with compressor: ZstdCompressor, naming what: @autoclosure () -> String) throws(StoreError) -> UnsafeRawBufferPointer? {
        BlockEncoder.ensure(&output, ZstdCompressor.bound(plain.count))
        guard let length = compressor.compress(plain, into: output), length < plain.count else { return nil }
        let compressed = UnsafeRawBufferPointer(rebasing: output[0..<length])
        BlockEncoder.ensure(&check, plain.count)
        let roundTrip = UnsafeMutableRawBufferPointer(rebasing: check[0..<plain.count])
        guard decompressor.decompress(compressed, into: roundTrip, dictionary: compressor.dictionary),
              plain.count == 0 || memcmp(roundTrip.baseAddress!, plain.baseAddress!, plain.count) == 0 else {
            throw .corrupt("zstd round trip of \(what()) failed; refusing to store it")
        }
        return compressed
    }
}
