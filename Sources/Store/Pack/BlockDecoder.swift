import Chunker

/// Why a stored block could not be turned back into its plaintext.
enum BlockDecodingFailure: Error {
    /// It does not decompress to exactly its declared size (or, raw, does not have that size).
    case undecodable
    /// Its plaintext does not hash to its ID.
    case mismatch
    /// It was compressed with a dictionary the vault lacks; `why` ends the sentence "it needs …".
    case missingDictionary(id: UInt32, why: String)
}

/// Identifies one stored frame, so that the blocks sharing it decode it once.
struct FrameKey: Hashable {
    var pack: String
    var offset: Int
}

/// Turns blocks as stored (raw, zstd, zstd with a dictionary, or a part of a shared zstd frame)
/// back into their plaintext and
/// checks each against its ID: the one place every reader of stored blocks (restore, check, repair,
/// prune, a replica receiving from a peer) verifies them. Decompression is bounded by the declared
/// size, so a frame that would expand beyond it fails instead of allocating. Reuses its buffer;
/// not thread-safe: one per thread.
final class BlockDecoder {
    private let decompressor = ZstdDecompressor()
    private let hasher = SHA256Hasher()
    private let dictionaries: DictionarySet
    /// The dictionary used last: consecutive blocks almost always share it, so the set (and its
    /// lock) is consulted only when a block names another.
    private var lastDictionary: ZstdDictionary?
    private var plain = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    /// The plaintext of the shared frame decoded last, whole (its blocks are verified one by one).
    private var frame = UnsafeMutableRawBufferPointer.allocate(byteCount: 0, alignment: 16)
    private var frameLength = 0
    private var frameKey: FrameKey?

    init(dictionaries: DictionarySet) { self.dictionaries = dictionaries }

    deinit {
        plain.deallocate()
        frame.deallocate()
    }

    /// The verified plaintext, valid until the next call. Precondition: `rawLength` is within the
    /// block limit (callers check lengths from untrusted sources first). A block of a shared frame
    /// (`.zstdShared`) names its frame with `key` and its place in it with `skip`.
    func decode(_ stored: UnsafeRawBufferPointer, encoding: PackFormat.Encoding, rawLength: Int,
                id: BlockID, skip: Int = 0, key: FrameKey? = nil) throws(BlockDecodingFailure) -> UnsafeRawBufferPointer {
        if encoding == .raw {
            guard stored.count == rawLength else { throw .undecodable }
            guard hasher.hash(stored) == id else { throw .mismatch }
            return stored
        }
        if encoding == .zstdShared {
            let block = try sharedBlock(stored, key: key, skip: skip, count: rawLength)
            guard hasher.hash(block) == id else { throw .mismatch }
            return block
        }
        if plain.count < rawLength {
            plain.deallocate()
            plain = .allocate(byteCount: rawLength, alignment: 16)
        }
        let target = UnsafeMutableRawBufferPointer(rebasing: plain[0..<rawLength])
        try decode(stored, encoding: encoding, id: id, into: target)
        return UnsafeRawBufferPointer(target)
    }

    /// Decodes into `destination`, whose size is the block's declared raw length, and verifies the
    /// result; on failure the destination's contents are unspecified.
    func decode(_ stored: UnsafeRawBufferPointer, encoding: PackFormat.Encoding, id: BlockID,
                into destination: UnsafeMutableRawBufferPointer, skip: Int = 0, key: FrameKey? = nil) throws(BlockDecodingFailure) {
        switch encoding {
        case .zstdShared:
            let block = try sharedBlock(stored, key: key, skip: skip, count: destination.count)
            if let base = block.baseAddress, block.count > 0 { destination.baseAddress!.copyMemory(from: base, byteCount: block.count) }
        case .raw:
            guard stored.count == destination.count else { throw .undecodable }
            destination.copyMemory(from: stored)
        case .zstd:
            guard decompressor.decompress(stored, into: destination) else { throw .undecodable }
        case .zstdDictionary:
            let dictionary = try self.dictionary(for: stored)
            guard decompressor.decompress(stored, into: destination, dictionary: dictionary) else { throw .undecodable }
        }
        guard hasher.hash(UnsafeRawBufferPointer(destination)) == id else { throw .mismatch }
    }

    /// Decompresses a whole shared frame straight into `destination`, which must be exactly the size
    /// its header declares (within the block limit); its blocks are then checked with `verify`. For
    /// a reader that wants every block of the frame, one after another: no copy out of a frame buffer.
    func decodeWholeFrame(_ stored: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws(BlockDecodingFailure) {
        guard let size = ZstdDecompressor.declaredSize(stored), size == destination.count, size <= PackFormat.maximumBlockSize,
              decompressor.decompress(stored, into: destination) else { throw .undecodable }
    }

    /// Checks one block's plaintext against its ID.
    func verify(_ plain: UnsafeRawBufferPointer, id: BlockID) throws(BlockDecodingFailure) {
        guard hasher.hash(plain) == id else { throw .mismatch }
    }

    /// The bytes `skip..<skip + count` of a shared frame's plaintext, unverified. The frame is
    /// decompressed whole, once for all its blocks while `key` stays the same (nil: no reuse); the
    /// size its header declares must cover the block and stay within the block limit, so a damaged
    /// or hostile frame fails instead of allocating.
    private func sharedBlock(_ stored: UnsafeRawBufferPointer, key: FrameKey?, skip: Int, count: Int) throws(BlockDecodingFailure) -> UnsafeRawBufferPointer {
        guard skip >= 0, count >= 0 else { throw .undecodable }
        if key == nil || key != frameKey {
            frameKey = nil
            guard let size = ZstdDecompressor.declaredSize(stored), size <= PackFormat.maximumBlockSize else { throw .undecodable }
            if frame.count < size {
                frame.deallocate()
                frame = .allocate(byteCount: size, alignment: 16)
            }
            guard decompressor.decompress(stored, into: UnsafeMutableRawBufferPointer(rebasing: frame[0..<size])) else { throw .undecodable }
            frameLength = size
            frameKey = key
        }
        guard skip + count <= frameLength else { throw .undecodable }
        return UnsafeRawBufferPointer(rebasing: frame[skip..<skip + count])
    }

    /// The dictionary the frame's header names.
    private func dictionary(for frame: UnsafeRawBufferPointer) throws(BlockDecodingFailure) -> ZstdDictionary {
        let wanted = ZstdDictionary.id(ofFrame: frame)
        guard wanted != 0 else { throw .undecodable }
        if let last = lastDictionary, last.id == wanted { return last }
        guard let found = dictionaries.dictionary(id: wanted) else {
            throw .missingDictionary(id: wanted, why: dictionaries.whyMissing(wanted))
        }
        lastDictionary = found
        return found
    }
}
