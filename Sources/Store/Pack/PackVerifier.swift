import Chunker

/// Reads one pack into memory and verifies its footer and every block. Not thread-safe: one per thread.
final class PackVerifier {
    private let storage: any BlobStorage
    private let decoder: BlockDecoder
    private var buffer: [UInt8] = []

    init(storage: any BlobStorage, dictionaries: DictionarySet) {
        self.storage = storage
        decoder = BlockDecoder(dictionaries: dictionaries)
    }

    struct Outcome {
        var blocks = 0
        var bytes: Int64 = 0
        var damaged: [BlockID: String] = [:]
        /// The damaged blocks whose bytes do not match their hash (not those that need a dictionary the vault lacks).
        var corrupt: Set<BlockID> = []
        /// Set when the pack could not be read or parsed at all.
        var packError: String?
    }

    /// Reads pack `name` and verifies every block; damage counts only for blocks in `referenced`
    /// (the copies the catalog points at), so a stale copy left behind in an old pack is not reported.
    func verify(_ name: String, referenced: Set<BlockID>) -> Outcome {
        var outcome = Outcome()
        do {
            let size = try storage.packSize(named: name)
            if buffer.count < size { buffer = [UInt8](repeating: 0, count: size) }
            var failure: StoreError?
            buffer.withUnsafeMutableBytes { raw in
                do throws(StoreError) {
                    try storage.readPack(named: name, at: 0, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<size]))
                } catch { failure = error }
            }
            if let failure { throw failure }
            outcome.bytes = Int64(size)
            let bytes = buffer
            let (_, entries) = try PackFormat.parseFooter(fileSize: size, name: name) { (offset, count) throws(StoreError) -> [UInt8] in
                Array(bytes[offset..<offset + count])
            }
            for entry in entries {
                outcome.blocks += 1
                if referenced.contains(entry.id), let failure = verifyBlock(entry, in: name) {
                    switch failure {
                    case .missingDictionary(_, let why): outcome.damaged[entry.id] = "pack \(name): it needs \(why)"
                    case .undecodable, .mismatch:
                        outcome.damaged[entry.id] = "pack \(name): its bytes do not match its hash"
                        outcome.corrupt.insert(entry.id)
                    }
                }
            }
        } catch {
            outcome.packError = "pack \(name) cannot be read: \(error)"
        }
        return outcome
    }

    /// Why the block does not decode to its ID, or nil when it does.
    private func verifyBlock(_ entry: PackEntry, in pack: String) -> BlockDecodingFailure? {
        buffer.withUnsafeBytes { raw -> BlockDecodingFailure? in
            let stored = UnsafeRawBufferPointer(rebasing: raw[entry.offset..<entry.offset + entry.storedLength])
            do throws(BlockDecodingFailure) {
                _ = try decoder.decode(stored, encoding: entry.encoding, rawLength: entry.rawLength, id: entry.id,
                                       skip: entry.skip, key: FrameKey(pack: pack, offset: entry.offset))
                return nil
            } catch {
                return error
            }
        }
    }
}
