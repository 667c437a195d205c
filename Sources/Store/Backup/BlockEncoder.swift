import Chunker
#if canImport(Glibc)
import Glibc
#endif

/// Compresses blocks for storage and proves each compressed block decodes back to its exact
/// plaintext before it may go into a pack (a zstd encoder bug must never reach the vault).
/// Blocks that zstd cannot shrink are stored raw. With a dictionary, blocks up to `dictionaryLimit`
/// bytes are compressed with it. Not thread-safe: one per worker.
final class BlockEncoder {
    /// Blocks up to this size use the dictionary. Below the chunker's minimum (112 KiB), blocks are
    /// whole small files (and tails of larger ones), where a dictionary saves most: measured on the
    /// documentation corpus, 2.6 MB on 72 MB of blocks under 64 KiB, 0.1 MB on 7.8 MB between
    /// 64 and 96 KiB. Larger blocks gain little, and a dictionary costs them nothing either.
    static let dictionaryLimit = 128 << 10

    private let compressor: ZstdCompressor
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

    /// The stored form of `plain`, valid until the next call.
    func encode(_ plain: UnsafeRawBufferPointer, id: BlockID) throws(StoreError) -> (bytes: UnsafeRawBufferPointer, encoding: PackFormat.Encoding) {
        if let dictionaryCompressor, plain.count <= BlockEncoder.dictionaryLimit {
            return try encode(plain, id: id, with: dictionaryCompressor, as: .zstdDictionary)
        }
        return try encode(plain, id: id, with: compressor, as: .zstd)
    }

    private func encode(_ plain: UnsafeRawBufferPointer, id: BlockID, with compressor: ZstdCompressor,
                        as encoding: PackFormat.Encoding) throws(StoreError) -> (bytes: UnsafeRawBufferPointer, encoding: PackFormat.Encoding) {
        BlockEncoder.ensure(&output, ZstdCompressor.bound(plain.count))
        guard let length = compressor.compress(plain, into: output), length < plain.count else {
            return (plain, .raw)
        }
        let compressed = UnsafeRawBufferPointer(rebasing: output[0..<length])
        BlockEncoder.ensure(&check, plain.count)
        let roundTrip = UnsafeMutableRawBufferPointer(rebasing: check[0..<plain.count])
        guard decompressor.decompress(compressed, into: roundTrip, dictionary: compressor.dictionary),
              plain.count == 0 || memcmp(roundTrip.baseAddress!, plain.baseAddress!, plain.count) == 0 else {
            throw .corrupt("zstd round trip of block \(id) failed; refusing to store it")
        }
        return (compressed, encoding)
    }
}
