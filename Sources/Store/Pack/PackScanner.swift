import CZstd
import Chunker

/// Finds what a pack whose footer is lost still holds, with neither footer nor catalog to say
/// where its blocks are (a catalog rebuilt from the packs): every zstd frame in its body that
/// decompresses without a dictionary. A frame of one block is that block; a frame shared by a
/// file's consecutive blocks is cut again with the vault's content-defined chunker, which finds the
/// same cuts (they depend only on the bytes since the previous cut, and a shared frame starts at
/// one). Blocks stored raw, or with a dictionary, cannot be told apart from the bytes around them
/// and are not found; nor are a fixed-size chunker's shared blocks. Each block found is named by
/// the hash of its bytes, so whatever is found is exactly what was stored.
struct PackScanner {
    let storage: any BlobStorage
    let chunker: ChunkerParameters

    private static let magic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]

    /// The blocks found in pack `name` (a metadata pack when every frame found is a metadata
    /// record), or nil when none is found.
    func scan(_ name: String) throws(StoreError) -> SealedPack? {
        var bytes = [UInt8](repeating: 0, count: try storage.packSize(named: name))
        var failure: StoreError?
        bytes.withUnsafeMutableBytes { buffer in
            do throws(StoreError) { try storage.readPack(named: name, at: 0, into: buffer) } catch { failure = error }
        }
        if let failure { throw failure }

        let decompressor = ZstdDecompressor()
        let reader = BlockReader(parameters: chunker)
        var entries: [PackEntry] = []
        var frames = 0
        var records = 0
        bytes.withUnsafeBytes { raw in
            var offset = PackFormat.header.count
            while offset + PackScanner.magic.count <= raw.count {
                guard raw[offset] == PackScanner.magic[0], Array(raw[offset..<offset + 4]) == PackScanner.magic else {
                    offset += 1
                    continue
                }
                let rest = UnsafeRawBufferPointer(rebasing: raw[offset...])
                let frameSize = ZSTD_findFrameCompressedSize(rest.baseAddress, rest.count)
                guard ZSTD_isError(frameSize) == 0, frameSize <= PackFormat.maximumBlockSize, ZstdDictionary.id(ofFrame: rest) == 0,
                      let size = ZstdDecompressor.declaredSize(rest), size > 0, size <= PackFormat.maximumBlockSize else {
                    offset += 1
                    continue
                }
                let frame = UnsafeRawBufferPointer(rebasing: rest[0..<frameSize])
                var plain = [UInt8](repeating: 0, count: size)
                guard plain.withUnsafeMutableBytes({ decompressor.decompress(frame, into: $0) }) else {
                    offset += 1
                    continue
                }
                frames += 1
                var blocks: [(id: BlockID, skip: Int, length: Int)] = []
                if PackScanner.isMetadataRecord(plain) {
                    records += 1
                    blocks = [(SHA256Hasher.hash(plain), 0, size)]
                } else {
                    plain.withUnsafeBytes { reader.forEachBlock(in: $0) { blocks.append(($0.id, Int($0.offset), $0.length)) } }
                }
                for block in blocks {
                    entries.append(PackEntry(id: block.id, offset: offset, storedLength: frameSize, rawLength: block.length,
                                             encoding: blocks.count == 1 ? .zstd : .zstdShared, skip: blocks.count == 1 ? 0 : block.skip))
                }
                offset += frameSize
            }
        }
        guard !entries.isEmpty else { return nil }
        return SealedPack(name: name, kind: records == frames ? .metadata : .data, size: bytes.count, entries: entries)
    }

    /// Whether `bytes` decode as a metadata record of a known kind.
    static func isMetadataRecord(_ bytes: [UInt8]) -> Bool {
        switch bytes.first {
        case MetadataRecord.versionsKind: (try? MetadataRecord.decodeVersions(bytes)) != nil
        case MetadataRecord.snapshotKind: (try? MetadataRecord.decodeSnapshot(bytes)) != nil
        case MetadataRecord.forgetKind: (try? MetadataRecord.decodeForget(bytes)) != nil
        case MetadataRecord.dictionaryKind: (try? MetadataRecord.decodeDictionary(bytes)) != nil
        default: false
        }
    }
}
