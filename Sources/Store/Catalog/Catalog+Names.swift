extension Catalog {
    /// The name's row id (interned per folder), created with `parent` if new.
    public func nameID(folder: Int64, path: [UInt8], parent: Int64) throws(StoreError) -> Int64 {
        if let existing = try existingNameID(folder: folder, path: path) { return existing }
        try database.prepare("INSERT INTO names(folder, parent, hash, name) VALUES(?, ?, ?, ?)")
            .run([.integer(folder), .integer(parent), .integer(Catalog.pathHash(path)), .blob(path)])
        return database.lastInsertRowID
    }

    public func existingNameID(folder: Int64, path: [UInt8]) throws(StoreError) -> Int64? {
        try database.scalar("SELECT id FROM names WHERE folder = ? AND hash = ? AND name = ?",
                            [.integer(folder), .integer(Catalog.pathHash(path)), .blob(path)])
    }

    /// Names are looked up by a 64-bit hash of the path (the index then holds 8 bytes a name, not
    /// the whole path a second time); the query compares the stored path, so collisions are harmless.
    static func pathHash(_ path: [UInt8]) -> Int64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325   // FNV-1a, 64-bit
        for byte in path {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return Int64(bitPattern: hash)
    }
}
