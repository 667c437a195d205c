extension Catalog {
    /// Calls `body` with the size, link count, device and inode of every regular file in the
    /// folder's state as of `sequence` (the newest version of each name at or before it, deletions
    /// left out), in no particular order. What `forEachEntry` would list of those files, without
    /// building and sorting their paths: a restore counts its work with it before it starts.
    public func forEachFileSize(folder: Int64, asOf sequence: Int64,
                                _ body: (_ size: Int64, _ links: UInt32, _ device: UInt64, _ inode: UInt64) -> Void) throws(StoreError) {
        let statement = try database.prepare("""
            SELECT v.size, v.nlink, v.device, v.inode FROM names n
            JOIN versions v ON v.sequence = (SELECT max(x.sequence) FROM versions x WHERE x.name = n.id AND x.sequence <= ?2)
            WHERE n.folder = ?1 AND v.deleted = 0 AND v.type = ?3
            """)
        try statement.bind([.integer(folder), .integer(sequence), .integer(Int64(EntryType.file.rawValue))])
        while try statement.step() {
            body(statement.int64(0), UInt32(truncatingIfNeeded: statement.int64(1)), UInt64(bitPattern: statement.int64(2)),
                 UInt64(bitPattern: statement.int64(3)))
        }
    }
}
