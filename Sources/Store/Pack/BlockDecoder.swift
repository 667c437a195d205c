import Chunker

/// Why a stored block could not be turned back into its plaintext.
enum BlockDecodingFailure: Error {
    /// It does not decompress to exactly its declared size (or, raw, does not have that size).
    case undecodable
    /// Its plaintext does not hash to its ID.
    case mismatch
}

/// Turns blocks as stored (raw or zstd) back into their plaintext and checks each against its ID:
/// the one place every reader of stored blocks (restore, check, repair, prune, a replica receiving
/// from a peer) verifies them. Decompression is bounded by the declared size, so a frame that would
/// expand beyond it fails instead of allocating. Reuses its buffer; not thread-safe: one per thread.
final class BlockDecoder {
    private let decompressor = ZstdDecompressor()
    private let hasher = SHA256Hasher()
    private var plain = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)

    deinit { plain.deallocate() }

    /// The verified plaintext, valid until the next call. Precondition: `rawLength` is within the
    /// block limit (callers check lengths from untrusted sources first).
    func decode(_ stored: UnsafeRawBufferPointer, encoding: PackFormat.Encoding, rawLength: Int,
                id: BlockID) throws(BlockDecodingFailure) -> UnsafeRawBufferPointer {
        if encoding == .raw {
            guard stored.count == rawLength else { throw .undecodable }
            guard hasher.hash(stored) == id else { throw .mismatch }
            return stored
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
                into destination: UnsafeMutableRawBufferPointer) throws(BlockDecodingFailure) {
        switch encoding {
        case .raw:
            guard stored.count == destination.count else { throw .undecodable }
            destination.copyMemory(from: stored)
        case .zstd:
            guard decompressor.decompress(stored, into: destination) else { throw .undecodable }
        }
        guard hasher.hash(UnsafeRawBufferPointer(destination)) == id else { throw .mismatch }
    }
}
