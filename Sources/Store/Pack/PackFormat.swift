import Chunker

/// The pack file format, little-endian throughout:
///
///     "BVPACK\0\1"                                  8-byte header
///     block 0, block 1, …                           each zstd-compressed alone, or raw, or
///                                                   several in one zstd frame
///     footer:  kind u8, count u32,
///              count × (id[32], offset u64, stored u32, raw u32, encoding u8[, skip u32])
///              encoding: 0 raw, 1 a zstd frame, 2 a zstd frame made with a dictionary (the
///              frame's header names the dictionary's ID; vault format 2 and later), 3 a part
///              of a zstd frame shared with the neighbouring blocks of a file (vault format 3
///              and later): offset and stored locate the frame, and the block is the `raw`
///              bytes of its plaintext from `skip` on
///     trailer: SHA-256 of the footer [32], footer length u32, footer format u32, "BVPKEND1"
///              footer format: 0 (entries of 49 bytes, no skip) or 1 (53 bytes, with skip);
///              a pack with no shared frame is written in format 0, readable by older builds
///
/// A pack can be read and verified alone: the trailer locates and authenticates the footer, the
/// footer locates every block, and each block's ID is the SHA-256 of its plaintext.
public enum PackFormat {
    public static let header: [UInt8] = Array("BVPACK".utf8) + [0, 1]
    public static let endMagic: [UInt8] = Array("BVPKEND1".utf8)
    public static let entrySize = 49
    /// The size of an entry with a skip (footer format 1).
    public static let framedEntrySize = 53
    public static let trailerSize = 48
    /// No stored or raw block may exceed this; anything larger in a footer is damage.
    public static let maximumBlockSize = 64 << 20
    /// Packs are sealed once they reach about this size.
    public static let targetSize = 16 << 20
    /// A file's consecutive new blocks share one zstd frame until their plaintext reaches this size
    /// (the frame then ends with the block that crossed it). Measured on the 768 MiB bench file at
    /// level 3: one frame per block (mean 167 KiB) 292.0 MB; frames of 1 MiB 273.2 MB, 2 MiB
    /// 263.8 MB, and compression about a fifth faster. A large frame is compressed with settings of
    /// its own that keep zstd's tables in a core's cache (`ZstdCompressor.compress`). Reading one
    /// block decodes its frame.
    public static let frameTarget = 2 << 20
    /// New blocks at least this long share frames; shorter ones (small files, and the tails of
    /// larger ones) are compressed alone where they are read (see `BackupWorker`).
    public static let frameMinimumBlock = 64 << 10

    /// Whether a pack holds file data or catalog metadata.
    public enum Kind: UInt8, Sendable {
        case data = 0
        case metadata = 1
    }

    /// How a block's bytes are stored.
    public enum Encoding: UInt8, Sendable {
        case raw = 0
        case zstd = 1
        /// A zstd frame that needs the dictionary its header names. A value of its own, not `zstd`,
        /// so that the footer says which blocks need a dictionary, and a build that knows none
        /// refuses the entry instead of failing on the frame.
        case zstdDictionary = 2
        /// A block inside a zstd frame that holds several consecutive blocks of a file.
        case zstdShared = 3
    }

    /// Whether a pack of `entries` needs footer format 1 (entries with skips), which its trailer names.
    static func needsSkips(_ entries: [PackEntry]) -> Bool { entries.contains { $0.encoding == .zstdShared } }

    /// Encodes the footer and trailer for `entries`.
    static func footer(kind: Kind, entries: [PackEntry]) -> [UInt8] {
        let withSkips = needsSkips(entries)
        var footer = ByteWriter()
        footer.append(kind.rawValue)
        footer.appendUInt32(UInt32(entries.count))
        for entry in entries {
            footer.append(entry.id)
            footer.appendUInt64(UInt64(entry.offset))
            footer.appendUInt32(UInt32(entry.storedLength))
            footer.appendUInt32(UInt32(entry.rawLength))
            footer.append(entry.encoding.rawValue)
            if withSkips { footer.appendUInt32(UInt32(entry.skip)) }
        }
        var result = footer.bytes
        let digest = SHA256Hasher.hash(footer.bytes)
        var trailer = ByteWriter()
        trailer.append(digest)
        trailer.appendUInt32(UInt32(footer.bytes.count))
        trailer.appendUInt32(withSkips ? 1 : 0)
        trailer.append(contentsOf: endMagic)
        result.append(contentsOf: trailer.bytes)
        return result
    }

    /// Parses and checks a pack's footer given the file's size and a way to read ranges of it.
    /// Every offset and length is validated against the file before it is returned.
    package static func parseFooter(fileSize: Int, name: String,
                            read: (_ offset: Int, _ count: Int) throws(StoreError) -> [UInt8]) throws(StoreError) -> (Kind, [PackEntry]) {
        guard fileSize >= header.count + trailerSize + 5 else { throw .corrupt("pack \(name) is too short (\(fileSize) bytes)") }
        let trailer = try read(fileSize - trailerSize, trailerSize)
        guard Array(trailer[40..<48]) == endMagic else { throw .corrupt("pack \(name) has no valid trailer (truncated?)") }
        var trailerReader = ByteReader(trailer)
        let expectedDigest = try trailerReader.blockID()
        let footerLength = Int(try trailerReader.uint32())
        let footerFormat = try trailerReader.uint32()
        guard footerFormat <= 1 else { throw .corrupt("pack \(name) has footer format \(footerFormat), which this build does not read; upgrade blockvault") }
        let size = footerFormat == 1 ? framedEntrySize : entrySize
        let footerStart = fileSize - trailerSize - footerLength
        guard footerLength >= 5, footerStart >= header.count else { throw .corrupt("pack \(name) has an impossible footer length") }
        let footer = try read(footerStart, footerLength)
        guard SHA256Hasher.hash(footer) == expectedDigest else { throw .corrupt("pack \(name): footer checksum mismatch") }
        var reader = ByteReader(footer)
        guard let kind = Kind(rawValue: try reader.uint8()) else { throw .corrupt("pack \(name): unknown kind") }
        let count = Int(try reader.uint32())
        guard footerLength == 5 + count * size else { throw .corrupt("pack \(name): footer length does not match its count") }
        var entries: [PackEntry] = []
        entries.reserveCapacity(count)
        for _ in 0..<count {
            let id = try reader.blockID()
            let offset = try reader.uint64()
            let stored = Int(try reader.uint32())
            let raw = Int(try reader.uint32())
            let encoding = Encoding(rawValue: try reader.uint8())
            let skip = footerFormat == 1 ? Int(try reader.uint32()) : 0
            guard let encoding, offset >= UInt64(header.count), stored <= maximumBlockSize, raw <= maximumBlockSize,
                  offset <= UInt64(footerStart), UInt64(stored) <= UInt64(footerStart) - offset,   // no overflow on a forged offset
                  encoding != .raw || stored == raw,
                  skip == 0 || (encoding == .zstdShared && skip + raw <= maximumBlockSize) else {
                throw .corrupt("pack \(name): footer entry for block \(id) is invalid")
            }
            entries.append(PackEntry(id: id, offset: Int(offset), storedLength: stored, rawLength: raw, encoding: encoding, skip: skip))
        }
        return (kind, entries)
    }
}

/// Where one block sits in a pack.
public struct PackEntry: Sendable, Hashable {
    public var id: BlockID
    public var offset: Int
    public var storedLength: Int
    public var rawLength: Int
    public var encoding: PackFormat.Encoding
    /// For `.zstdShared`: where the block starts in its frame's plaintext; 0 otherwise.
    public var skip: Int

    public init(id: BlockID, offset: Int, storedLength: Int, rawLength: Int, encoding: PackFormat.Encoding, skip: Int = 0) {
        self.id = id
        self.offset = offset
        self.storedLength = storedLength
        self.rawLength = rawLength
        self.encoding = encoding
        self.skip = skip
    }

    /// Whether this entry's bytes are a frame it shares with other entries at the same offset.
    public var isShared: Bool { encoding == .zstdShared }
}
