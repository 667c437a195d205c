import Chunker

/// Where the catalog says a block is.
public struct BlockLocation: Sendable, Hashable {
    public var pack: String
    public var entry: PackEntry
}

/// Reads blocks out of packs, decompressing and re-hashing each one: a block whose bytes do not hash
/// to its ID is an error, never returned. Not thread-safe: one per worker.
public final class PackReader {
    private let storage: any BlobStorage
    private let decoder: BlockDecoder
    private var storedBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    /// The shared frame whose stored bytes `storedBuffer` holds, if any.
    private var lastFrame: FrameKey?
    /// Made for the first block of a shared frame sent alone (`readAlone`).
    private var encoder: BlockEncoder?

    /// `dictionaries`: those blocks compressed with a dictionary may need (a vault's; empty for
    /// readers of metadata, which is never compressed with one).
    public init(storage: any BlobStorage, dictionaries: DictionarySet) {
        self.storage = storage
        decoder = BlockDecoder(dictionaries: dictionaries)
    }

    deinit { storedBuffer.deallocate() }

    private static func grow(_ buffer: inout UnsafeMutableRawBufferPointer, to count: Int) {
        guard buffer.count < count else { return }
        buffer.deallocate()
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
    }

    /// Reads one block as stored (compressed or raw) after verifying that it decodes to bytes
    /// matching its hash. The returned bytes are valid until the next call. For a block of a shared
    /// frame, they are the whole frame.
    public func readStored(_ location: BlockLocation) throws(StoreError) -> UnsafeRawBufferPointer {
        _ = try read(location)
        return UnsafeRawBufferPointer(rebasing: storedBuffer[0..<location.entry.storedLength])
    }

    /// A block as a peer can take it alone, verified: as stored, or, for a block of a shared frame,
    /// compressed on its own (zstd at `level`; raw when that does not shrink it). Valid until the
    /// next call.
    public func readAlone(_ location: BlockLocation, level: Int32) throws(StoreError) -> (bytes: UnsafeRawBufferPointer, encoding: PackFormat.Encoding) {
        guard location.entry.isShared else { return (try readStored(location), location.entry.encoding) }
        let plain = try read(location)
        if encoder == nil || encoder!.level != level { encoder = BlockEncoder(level: level) }
        return try encoder!.encode(plain, id: location.entry.id)
    }

    /// Reads, decompresses and verifies one block. The returned bytes are valid until the next call.
    /// Blocks of one shared frame read one after another decode it once.
    public func read(_ location: BlockLocation) throws(StoreError) -> UnsafeRawBufferPointer {
        let entry = location.entry
        let key = FrameKey(pack: location.pack, offset: entry.offset)
        PackReader.grow(&storedBuffer, to: entry.storedLength)
        let stored = UnsafeMutableRawBufferPointer(rebasing: storedBuffer[0..<entry.storedLength])
        if !(entry.isShared && lastFrame == key) {
            lastFrame = nil
            try readBytes(of: location.pack, at: entry.offset, into: stored)
            if entry.isShared { lastFrame = key }
        }
        do {
            return try decoder.decode(UnsafeRawBufferPointer(stored), encoding: entry.encoding, rawLength: entry.rawLength, id: entry.id,
                                      skip: entry.skip, key: key)
        } catch {
            throw PackReader.failure(error, of: entry, in: location.pack)
        }
    }

    /// Reads `buffer.count` bytes of a pack as they are stored, from `offset`: one call for a run of
    /// neighbouring blocks, which the caller then decodes and verifies one by one.
    func readBytes(of pack: String, at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(StoreError) {
        try storage.readPack(named: pack, at: offset, into: buffer)
    }

    /// The error that names a block which does not decode to its ID, and its pack.
    static func failure(_ failure: BlockDecodingFailure, of entry: PackEntry, in pack: String) -> StoreError {
        switch failure {
        case .undecodable: .corrupt("block \(entry.id) in pack \(pack) does not decompress")
        case .mismatch: .corrupt("block \(entry.id) in pack \(pack) does not match its hash")
        case .missingDictionary(_, let why): .corrupt("block \(entry.id) in pack \(pack) needs \(why); run 'blockvault check'")
        }
    }
}
