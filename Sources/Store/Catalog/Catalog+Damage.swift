import Chunker

extension Catalog {
    /// Whether this catalog may be written (a vault opened read-only, or on read-only storage, is only reported on).
    public var isWritable: Bool { !database.isReadOnly }

    /// Records copies of blocks found damaged (each in the pack named) by `check --read-data` or a
    /// restore: each copy's row goes and its block is remembered as missing (`dropBlocks`), so that
    /// the next backup that meets the block, in a changed file or an unchanged one, stores it again,
    /// and every version that shares it reads the new copy. A copy the catalog no longer places in
    /// that pack (stored again meanwhile) is left alone. One transaction.
    public func markDamaged(_ copies: [(id: BlockID, pack: String)]) throws {
        guard !copies.isEmpty else { return }
        try transaction {
            var packIDs: [String: Int64] = [:]
            var resolved: [(id: BlockID, pack: Int64)] = []
            for (id, name) in copies {
                if packIDs[name] == nil {
                    guard let packID = try database.scalar("SELECT id FROM packs WHERE name = ?", [.text(name)]) else { continue }
                    packIDs[name] = packID
                }
                resolved.append((id, packIDs[name]!))
            }
            try dropBlocks(resolved)
        }
    }
}
