extension Catalog {
    /// Remembers that these snapshots were forgotten, so that nothing (a push from the master, a
    /// rebuilt catalog) lists them again: their versions are gone. Call in the transaction that
    /// deletes them. Idempotent.
    public func recordForgottenSnapshots(_ ids: [String]) throws(StoreError) {
        let statement = try database.prepare("INSERT OR IGNORE INTO forgotten_snapshots(snapshot_id) VALUES(?)")
        for id in ids { try statement.run([.text(id)]) }
    }

    /// The IDs of every snapshot this vault has forgotten.
    public func forgottenSnapshotIDs() throws(StoreError) -> Set<String> {
        let statement = try database.prepare("SELECT snapshot_id FROM forgotten_snapshots")
        var result = Set<String>()
        while try statement.step() { result.insert(statement.text(0)) }
        return result
    }

    /// The regular files of a folder's state as of `sequence` (the newest version of each name at or
    /// before it, deletions left out: what `ls` and `restore` of a snapshot at that sequence see),
    /// counted and their sizes summed, as a backup counts a snapshot's `files` and `bytes`.
    public func fileTotals(folder: Int64, asOf sequence: Int64) throws(StoreError) -> (files: Int64, bytes: Int64) {
        let statement = try database.prepare("""
            SELECT count(*), coalesce(sum(v.size), 0) FROM names n
            JOIN versions v ON v.sequence = (SELECT max(x.sequence) FROM versions x WHERE x.name = n.id AND x.sequence <= ?2)
            WHERE n.folder = ?1 AND v.deleted = 0 AND v.type = ?3
            """)
        try statement.bind([.integer(folder), .integer(sequence), .integer(Int64(EntryType.file.rawValue))])
        _ = try statement.step()
        return (statement.int64(0), statement.int64(1))
    }

    /// How `fileTotals(folder:asOf:)` changes from `after` to `through`: only the names with a
    /// version in between are read, so totals of many snapshots cost one pass over their versions.
    public func fileTotalsChange(folder: Int64, after: Int64, through: Int64) throws(StoreError) -> (files: Int64, bytes: Int64) {
        let statement = try database.prepare("""
            WITH changed(name) AS (
                SELECT DISTINCT v.name FROM versions v JOIN names n ON n.id = v.name
                WHERE v.sequence > ?2 AND v.sequence <= ?3 AND n.folder = ?1
            )
            SELECT coalesce(sum(CASE WHEN b.type = ?4 AND b.deleted = 0 THEN 1 ELSE 0 END), 0)
                       - coalesce(sum(CASE WHEN a.type = ?4 AND a.deleted = 0 THEN 1 ELSE 0 END), 0),
                   coalesce(sum(CASE WHEN b.type = ?4 AND b.deleted = 0 THEN b.size ELSE 0 END), 0)
                       - coalesce(sum(CASE WHEN a.type = ?4 AND a.deleted = 0 THEN a.size ELSE 0 END), 0)
            FROM changed c
            LEFT JOIN versions a ON a.sequence = (SELECT max(x.sequence) FROM versions x WHERE x.name = c.name AND x.sequence <= ?2)
            LEFT JOIN versions b ON b.sequence = (SELECT max(x.sequence) FROM versions x WHERE x.name = c.name AND x.sequence <= ?3)
            """)
        try statement.bind([.integer(folder), .integer(after), .integer(through), .integer(Int64(EntryType.file.rawValue))])
        _ = try statement.step()
        return (statement.int64(0), statement.int64(1))
    }
}
