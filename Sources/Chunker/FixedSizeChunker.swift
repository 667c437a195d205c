/// Fixed-size blocks with Syncthing's size table: 128 KiB for files below 250 MiB, then doubling so
/// that a file has fewer than 2000 blocks, up to 16 MiB.
public struct FixedSizeChunker: CutPointFinder {
    public static let minimumBlockSize = 128 << 10
    public static let maximumBlockSize = 16 << 20
    /// Syncthing's target: a file should have fewer blocks than this.
    public static let desiredBlocksPerFile: UInt64 = 2000

    public let blockSize: Int
    public var maximumBlockSize: Int { blockSize }

    public init(fileSize: UInt64) {
        blockSize = FixedSizeChunker.blockSize(forFileSize: fileSize)
    }

    /// The smallest block size in the table that keeps `fileSize` below 2000 blocks, or 16 MiB.
    public static func blockSize(forFileSize fileSize: UInt64) -> Int {
        var size = minimumBlockSize
        while size < maximumBlockSize && fileSize >= desiredBlocksPerFile * UInt64(size) {
            size <<= 1
        }
        return size
    }

    public func cutPoint(in bytes: UnsafeRawBufferPointer, atEnd: Bool) -> Int {
        min(bytes.count, blockSize)
    }
}
