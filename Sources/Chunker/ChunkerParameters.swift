/// How a vault cuts files into blocks. Recorded in the vault's configuration: changing any field
/// changes where blocks are cut, and so what deduplicates against what.
public struct ChunkerParameters: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// Content-defined chunking (FastCDC); the default.
        case fastcdc
        /// Fixed-size blocks sized per file with Syncthing's table.
        case fixed
    }

    public var kind: Kind
    /// FastCDC: no cut before this many bytes (and no hashing of them).
    public var minimumSize: Int
    /// FastCDC: the normal size, where the cut mask switches from hard to easy.
    public var normalSize: Int
    /// FastCDC: a cut is forced at this many bytes.
    public var maximumSize: Int
    /// The Gear table version (see `GearTable`).
    public var gearVersion: Int

    public init(kind: Kind, minimumSize: Int, normalSize: Int, maximumSize: Int, gearVersion: Int = GearTable.version) {
        self.kind = kind
        self.minimumSize = minimumSize
        self.normalSize = normalSize
        self.maximumSize = maximumSize
        self.gearVersion = gearVersion
    }

    /// The default FastCDC parameters: 127 KiB minimum, 128 KiB normal, 512 KiB maximum. Chosen by
    /// `make bench`'s parameter sweep (docs/BENCHMARKS.md): the real mean block is about 167 KiB (~6,250 rows
    /// per GiB) and an edit costs about one block. Every byte below the minimum is skipped by the
    /// cut-point scan, so the minimum sets how much of the data the scan touches. Between the minimum
    /// and the normal size the mask is four bits harder than after it, so a cut lands there in only
    /// ~3% of blocks with 112 KiB (0.3.0) and ~0.2% with 127 KiB: those 15 KiB were scanned for almost
    /// nothing. 127 KiB makes chunk + hash ~13% faster than 112 KiB, for the same or fewer new bytes
    /// after 400 small edits and the same or smaller vault (measured; docs/BENCHMARKS.md). A tighter distribution
    /// after the normal size (normalization level 3, 16 KiB mean beyond it) would scan even less but
    /// stored 0.6% more of the 805 MB tar: duplicated regions inside one file resynchronise less
    /// often. Vaults keep the sizes in their configuration, so vaults made with earlier defaults cut
    /// as they always did.
    public static let fastCDC = ChunkerParameters(kind: .fastcdc, minimumSize: 127 << 10, normalSize: 128 << 10,
                                                  maximumSize: 512 << 10)

    /// Fixed-size blocks (sizes come from the file's size; the other fields are unused).
    public static let fixed = ChunkerParameters(kind: .fixed, minimumSize: FixedSizeChunker.minimumBlockSize,
                                                normalSize: FixedSizeChunker.minimumBlockSize,
                                                maximumSize: FixedSizeChunker.maximumBlockSize)

    /// The default parameters of `kind`.
    public static func defaults(for kind: Kind) -> ChunkerParameters {
        kind == .fastcdc ? .fastCDC : .fixed
    }

    /// Checks that the parameters describe a chunker this build can run.
    public func validate() throws(ChunkerError) {
        guard gearVersion == GearTable.version else {
            throw .invalidParameters("Gear table version \(gearVersion) is unknown to this build (it has \(GearTable.version))")
        }
        if kind == .fastcdc {
            guard minimumSize >= 64, minimumSize < normalSize, normalSize < maximumSize,
                  normalSize.nonzeroBitCount == 1, maximumSize <= 64 << 20 else {
                throw .invalidParameters("FastCDC sizes must satisfy 64 ≤ min < normal < max ≤ 64 MiB, normal a power of two")
            }
        }
    }

    /// A cut-point finder for a file of `fileSize` bytes (nil when unknown, as for a pipe).
    public func makeCutPointFinder(fileSize: UInt64?) -> any CutPointFinder {
        switch kind {
        case .fastcdc: FastCDC(parameters: self)
        case .fixed: FixedSizeChunker(fileSize: fileSize ?? 0)
        }
    }
}

/// Finds where the next block ends.
public protocol CutPointFinder: Sendable {
    /// No block is longer than this; callers keep at least this many bytes available when they can.
    var maximumBlockSize: Int { get }

    /// Returns the length (≥ 1) of the block that starts at `bytes[0]`.
    ///
    /// `bytes` holds at least `maximumBlockSize` bytes, or everything up to the end of the input when
    /// `atEnd` is true (then it is non-empty). The answer depends only on the bytes, never on how
    /// much lies beyond the cut, so streaming and in-memory chunking cut identically.
    func cutPoint(in bytes: UnsafeRawBufferPointer, atEnd: Bool) -> Int
}

/// Errors of the Chunker module.
public enum ChunkerError: Error, CustomStringConvertible, Equatable {
    case invalidParameters(String)
    case readFailed(errno: Int32, message: String)

    public var description: String {
        switch self {
        case .invalidParameters(let why): "invalid chunker parameters: \(why)"
        case .readFailed(_, let message): "read failed: \(message)"
        }
    }
}
