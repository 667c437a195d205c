import Chunker
#if canImport(Glibc)
import Glibc
#endif

/// Compresses blocks for storage and proves each compressed block decodes back to its exact
/// plaintext before it may go into a pack (a zstd encoder bug must never reach the vault).
/// Blocks that zstd cannot shrink are stored raw. Not thread-safe: one per worker.
final class BlockEncoder {
    private let compressor: ZstdCompressor
    private let decompressor = ZstdDecompressor()
    private var output: UnsafeMutableRawBufferPointer
    private var check: UnsafeMutableRawBufferPointer

    init(level: Int32) {
        compressor = ZstdCompressor(level: level)
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
        BlockEncoder.ensure(&output, ZstdCompressor.bound(plain.count))
        guard let length = compressor.compress(plain, into: output), length < plain.count else {
            return (plain, .raw)
        }
        let compressed = UnsafeRawBufferPointer(rebasing: output[0..<length])
        BlockEncoder.ensure(&check, plain.count)
        let roundTrip = UnsafeMutableRawBufferPointer(rebasing: check[0..<plain.count])
        guard decompressor.decompress(compressed, into: roundTrip),
              plain.count == 0 || memcmp(roundTrip.baseAddress!, plain.baseAddress!, plain.count) == 0 else {
            throw .corrupt("zstd round trip of block \(id) failed; refusing to store it")
        }
        return (compressed, .zstd)
    }
}
