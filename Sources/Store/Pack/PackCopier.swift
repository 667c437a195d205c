import Chunker

/// Copies blocks of one pack into a `PackWriter`, each verified as it is read: as stored, a shared
/// frame whole when every block it holds is copied, and otherwise the blocks of a frame compressed
/// again as a frame of their own. Prune repacks with it; repair salvages what a damaged pack still
/// holds. Not thread-safe.
struct PackCopier {
    let reader: PackReader
    let encoder: BlockEncoder
    let writer: PackWriter

    init(vault: Vault, writer: PackWriter) {
        reader = PackReader(storage: vault.storage, dictionaries: vault.dictionaries)
        encoder = BlockEncoder(level: vault.configuration.compression.level)
        self.writer = writer
    }

    /// Copies `entries` of `pack`. `frameBlocks` counts, by offset, every block each shared frame
    /// of the pack holds (copied or not). `unreadable` is called for a block that cannot be read or
    /// verified, with the reason: it throws to stop the copy, or returns to skip the block. A
    /// failure to write is always thrown.
    func copy(_ entries: [PackEntry], of pack: String, frameBlocks: [Int: Int],
              unreadable: (PackEntry, StoreError) throws -> Void) throws {
        let sorted = entries.sorted { $0.offset != $1.offset ? $0.offset < $1.offset : $0.skip < $1.skip }
        var next = 0
        while next < sorted.count {
            var end = next + 1
            while end < sorted.count && sorted[next].isShared && sorted[end].isShared && sorted[end].offset == sorted[next].offset { end += 1 }
            var good: [PackEntry] = []
            var stored: UnsafeRawBufferPointer?
            for entry in sorted[next..<end] {
                do {
                    stored = try reader.readStored(BlockLocation(pack: pack, entry: entry))
                    good.append(entry)
                } catch {
                    try unreadable(entry, error)
                }
            }
            if let stored, !sorted[next].isShared, let only = good.first {
                try writer.append(id: only.id, stored: stored, rawLength: only.rawLength, encoding: only.encoding)
            } else if let stored, good.count == end - next, frameBlocks[sorted[next].offset] == good.count {
                try writer.appendFrame(stored: stored, blocks: good.map { ($0.id, $0.rawLength, $0.skip) })
            } else if !good.isEmpty {
                try storeAgain(good, of: pack)
            }
            next = end
        }
    }

    /// Stores blocks of a shared frame without the rest of it: decoded (each verified) and
    /// compressed again, as one frame of their own (one block: alone).
    private func storeAgain(_ entries: [PackEntry], of pack: String) throws {
        var plain: [UInt8] = []
        plain.reserveCapacity(entries.reduce(0) { $0 + $1.rawLength })
        for entry in entries { plain.append(contentsOf: try reader.read(BlockLocation(pack: pack, entry: entry))) }
        _ = try plain.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) throws in
            try encoder.store(bytes, blocks: entries.map { ($0.id, $0.rawLength) }, in: writer)
        }
    }
}
