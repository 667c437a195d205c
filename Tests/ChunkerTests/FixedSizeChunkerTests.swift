import Chunker
import Testing

/// The fixed-size table decides the block size of every file in a fixed-chunker vault; a changed
/// boundary would re-cut, and re-upload, every file near it.
@Suite("Fixed-size block table")
struct FixedSizeChunkerTests {
    static let kibibyte: UInt64 = 1 << 10
    static let mebibyte: UInt64 = 1 << 20

    static let table: [(fileSize: UInt64, blockSize: Int)] = [
        (0, 128 << 10),
        (1, 128 << 10),
        (250 * mebibyte - 1, 128 << 10),
        (250 * mebibyte, 256 << 10),
        (500 * mebibyte - 1, 256 << 10),
        (500 * mebibyte, 512 << 10),
        (10 << 30, 8 << 20),
        (2000 * 8 * mebibyte - 1, 8 << 20),
        (2000 * 8 * mebibyte, 16 << 20),
        (1 << 40, 16 << 20),
        (UInt64.max, 16 << 20),
    ]

    @Test("block size for file size", arguments: table)
    func blockSize(fileSize: UInt64, blockSize: Int) {
        #expect(FixedSizeChunker.blockSize(forFileSize: fileSize) == blockSize)
        #expect(FixedSizeChunker(fileSize: fileSize).maximumBlockSize == blockSize)
    }

    /// Syncthing's rule stated directly: the smallest 128 KiB · 2^k with fewer than 2000 blocks,
    /// capped at 16 MiB. Checked on both sides of every step of the table.
    @Test("the table follows the fewer-than-2000-blocks rule at every step")
    func rule() {
        func reference(_ fileSize: UInt64) -> Int {
            var size: UInt64 = 128 * Self.kibibyte
            while size * 2000 <= fileSize && size < 16 * Self.mebibyte { size *= 2 }
            return Int(size)
        }
        var size: UInt64 = 128 * Self.kibibyte
        while size <= 32 * Self.mebibyte {
            for fileSize in [size * 2000 - 1, size * 2000, size * 2000 + 1] {
                #expect(FixedSizeChunker.blockSize(forFileSize: fileSize) == reference(fileSize), "file size \(fileSize)")
            }
            size *= 2
        }
    }

    /// A stream of unknown size (a pipe) gets the smallest block size.
    @Test("unknown size means 128 KiB blocks")
    func unknownSize() {
        #expect(ChunkerParameters.fixed.makeCutPointFinder(fileSize: nil).maximumBlockSize == 128 << 10)
        #expect(ChunkerParameters.fixed.makeCutPointFinder(fileSize: 1 << 40).maximumBlockSize == 16 << 20)
    }

    @Test("a cut is the block size, or everything left", arguments: [0, 1, (128 << 10) - 1, 128 << 10, (128 << 10) + 1, 300_000])
    func cutPoint(available: Int) {
        let chunker = FixedSizeChunker(fileSize: 0)
        let bytes = [UInt8](repeating: 1, count: available)
        let cut = bytes.withUnsafeBytes { chunker.cutPoint(in: $0, atEnd: true) }
        #expect(cut == min(available, 128 << 10))
    }
}
