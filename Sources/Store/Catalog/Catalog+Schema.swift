extension Catalog {
    /// The current schema, which a new catalog gets directly.
    static let schema = """
    CREATE TABLE folders(id INTEGER PRIMARY KEY, path BLOB NOT NULL UNIQUE) STRICT;
    \(devicesTable("devices"))
    \(namesTable("names"))
    \(namesIndex)
    \(versionsTable("versions"))
    \(versionsIndex)
    CREATE TABLE blocklists(hash BLOB PRIMARY KEY, ids BLOB NOT NULL, size INTEGER NOT NULL) STRICT, WITHOUT ROWID;
    CREATE TABLE packs(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind INTEGER NOT NULL,
                       size INTEGER NOT NULL, blocks INTEGER NOT NULL) STRICT;
    CREATE TABLE blocks(hash BLOB PRIMARY KEY, pack INTEGER NOT NULL, offset INTEGER NOT NULL,
                        stored_length INTEGER NOT NULL, raw_length INTEGER NOT NULL,
                        encoding INTEGER NOT NULL, skip INTEGER NOT NULL DEFAULT 0) STRICT, WITHOUT ROWID;
    CREATE TABLE snapshots(id INTEGER PRIMARY KEY, snapshot_id TEXT NOT NULL UNIQUE, folder INTEGER NOT NULL,
                           time_ns INTEGER NOT NULL, host TEXT NOT NULL, tags TEXT NOT NULL,
                           sequence INTEGER NOT NULL, files INTEGER NOT NULL, bytes INTEGER NOT NULL,
                           partial INTEGER NOT NULL, metadata BLOB) STRICT;
    CREATE TABLE settings(key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
    CREATE TABLE settings_text(key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
    CREATE TABLE missing_blocks(hash BLOB PRIMARY KEY) STRICT, WITHOUT ROWID;
    CREATE TABLE pending_deletions(name TEXT PRIMARY KEY) STRICT;
    \(schema7)
    \(schema8)
    """

    /// Schema 6 → 7, also part of a new catalog: a version's extended attributes (POSIX ACLs are
    /// the `system.posix_acl_*` attributes) and a device node's device number; the snapshots
    /// `forget` removed, so a replica never takes them back from its master without their versions;
    /// and a snapshot's root (the backed-up directory's own status, `MetadataRecord.encodeRoot`).
    static let schema7 = """
    ALTER TABLE versions ADD COLUMN xattrs BLOB;
    ALTER TABLE versions ADD COLUMN rdev INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE forgotten_snapshots(snapshot_id TEXT PRIMARY KEY) STRICT, WITHOUT ROWID;
    ALTER TABLE snapshots ADD COLUMN root BLOB;
    """

    /// Schema 7 → 8, also part of a new catalog: the origin of a version received from a peer (the
    /// `devices` row of the device that numbered it, and its sequence there; NULL for a version made
    /// here), each origin recorded once; and the highest sequence seen from each such device.
    static let schema8 = """
    ALTER TABLE versions ADD COLUMN origin INTEGER;
    ALTER TABLE versions ADD COLUMN origin_sequence INTEGER;
    CREATE UNIQUE INDEX versions_by_origin ON versions(origin, origin_sequence) WHERE origin IS NOT NULL;
    CREATE TABLE seen_sequences(device INTEGER PRIMARY KEY, sequence INTEGER NOT NULL) STRICT;
    """

    /// One row per device met, keyed by short id; `device_id` (the full id as hex) is NULL for a
    /// device known only from the version vectors a replica received.
    static func devicesTable(_ table: String) -> String {
        "CREATE TABLE \(table)(id INTEGER PRIMARY KEY, short_id INTEGER NOT NULL UNIQUE, device_id BLOB) STRICT;"
    }

    /// A name is one path component (bytes, not necessarily UTF-8) under its parent's name
    /// (0: the folder's root); the full path is the chain of names up to the root.
    static func namesTable(_ table: String) -> String {
        "CREATE TABLE \(table)(id INTEGER PRIMARY KEY, folder INTEGER NOT NULL, parent INTEGER NOT NULL, name BLOB NOT NULL) STRICT;"
    }

    /// Finds a name from its parent, lists a directory in name order, and keeps names unique.
    static let namesIndex = "CREATE UNIQUE INDEX names_by_parent_name ON names(folder, parent, name);"

    /// One row per recorded version; the sequence is the row id. `version` is the version vector as
    /// `DeviceTable` encodes it and `modified_by` a row of `devices`; the folder is the name's.
    static func versionsTable(_ table: String) -> String {
        """
        CREATE TABLE \(table)(sequence INTEGER PRIMARY KEY, name INTEGER NOT NULL, type INTEGER NOT NULL,
                              size INTEGER NOT NULL, mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL,
                              mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, inode INTEGER NOT NULL,
                              device INTEGER NOT NULL, nlink INTEGER NOT NULL, deleted INTEGER NOT NULL,
                              version BLOB NOT NULL, blocklist BLOB, blocks INTEGER NOT NULL, link_target BLOB,
                              modified_by INTEGER NOT NULL) STRICT;
        """
    }

    static let versionsIndex = "CREATE INDEX versions_by_name ON versions(name, sequence);"

    /// Takes a catalog from schema `version` to `version + 1`.
    static func migration(from version: Int64, in database: Database) throws(StoreError) {
        switch version {
        case 1:   // blocks the catalog knew but whose pack is gone; a backup stores them again when it meets them.
            try database.execute("CREATE TABLE missing_blocks(hash BLOB PRIMARY KEY) STRICT, WITHOUT ROWID;")
        case 2:   // packs prune has unreferenced and is about to delete; whoever finds them here deletes them.
            try database.execute("CREATE TABLE pending_deletions(name TEXT PRIMARY KEY) STRICT;")
        case 3:   // text settings (a replica's master device).
            try database.execute("CREATE TABLE settings_text(key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;")
        case 4:
            try migrateToCompactNamesAndVersions(database)
        case 5:   // blocks inside a zstd frame shared with their neighbours (pack encoding 3).
            try database.execute("ALTER TABLE blocks ADD COLUMN skip INTEGER NOT NULL DEFAULT 0;")
        case 6:
            try database.execute(schema7)
        case 7:   // a replica's versions were numbered by its master: they get it as their origin.
            try database.execute(schema8)
            let setting = try database.prepare("SELECT value FROM settings_text WHERE key = 'master_device'")
            guard try setting.step() else { break }
            let master = setting.text(0)
            try setting.step()
            var devices = DeviceTable()
            try assignOrigin(master, toVersionsWithout: database, devices: &devices)
        default:
            throw .invalidVault("no migration from catalog schema \(version)")
        }
    }

    /// Brings an older catalog to `schemaVersion`. Each step runs in one transaction with its
    /// version bump: all of it or none. A step another process finished meanwhile is skipped.
    func migrate(from version: Int64) throws(StoreError) {
        for next in version..<Catalog.schemaVersion {
            try inTransaction { () throws(StoreError) in
                guard try database.scalar("PRAGMA user_version") == next else { return }
                try Catalog.migration(from: next, in: database)
                try database.execute("PRAGMA user_version=\(next + 1)")
            }
        }
        // The 4 → 5 step leaves the old tables' pages free in the file: give them back. Best effort
        // (a reader holding the file open can make it fail); the free pages are reused otherwise.
        if version < 5 { try? database.execute("VACUUM") }
    }

    /// 4 → 5. Names kept the full path with a 64-bit hash of it, indexed twice (folder + hash,
    /// folder + parent); now a name keeps its last component only, under one unique index on
    /// (folder, parent, name). Versions drop their folder (the name has it), name devices by their
    /// row in `devices` instead of the 8-byte short id, and encode version vectors as varints.
    /// Row ids (name ids and sequence numbers) stay as they were.
    static func migrateToCompactNamesAndVersions(_ database: Database) throws(StoreError) {
        // Devices: keyed by short id now, since that is what vectors hold.
        try database.execute("""
            \(devicesTable("devices_v5"))
            INSERT INTO devices_v5(id, short_id, device_id) SELECT min(id), short_id, device_id FROM devices GROUP BY short_id;
            DROP TABLE devices;
            ALTER TABLE devices_v5 RENAME TO devices;
            """)

        // Names: every name extends its parent's path by one component, as the writer made them;
        // a catalog where one does not cannot be converted (repair rebuilds it from the packs).
        let inconsistent = try database.scalar("""
            SELECT count(*) FROM names n LEFT JOIN names p ON p.id = n.parent
            WHERE CASE WHEN n.parent = 0 THEN instr(n.name, x'2f') > 0
                  ELSE p.id IS NULL OR p.folder != n.folder OR length(n.name) <= length(p.name) + 1
                       OR substr(n.name, 1, length(p.name)) != p.name OR substr(n.name, length(p.name) + 1, 1) != x'2f'
                       OR instr(substr(n.name, length(p.name) + 2), x'2f') > 0 END
            """) ?? 0
        guard inconsistent == 0 else {
            throw .corrupt("\(inconsistent) names in the catalog do not extend their parent's path; run 'blockvault repair --apply' to rebuild it from the packs")
        }
        try database.execute("""
            \(namesTable("names_v5"))
            INSERT INTO names_v5(id, folder, parent, name)
                SELECT n.id, n.folder, n.parent, CASE WHEN n.parent = 0 THEN n.name ELSE substr(n.name, length(p.name) + 2) END
                FROM names n LEFT JOIN names p ON p.id = n.parent ORDER BY n.id;
            DROP TABLE names;
            ALTER TABLE names_v5 RENAME TO names;
            \(namesIndex)
            """)

        // Versions: vectors and modified-by converted row by row into a side table, then the whole
        // table copied once, in sequence order.
        try database.execute("""
            CREATE TEMP TABLE converted(sequence INTEGER PRIMARY KEY, version BLOB NOT NULL, modified_by INTEGER NOT NULL);
            """)
        var devices = DeviceTable()
        let read = try database.prepare("SELECT sequence, version, modified_by FROM versions")
        let write = try database.prepare("INSERT INTO temp.converted(sequence, version, modified_by) VALUES(?, ?, ?)")
        while try read.step() {
            let vector = try VersionVector(encoded: read.blob(1))
            try write.bind(read.int64(0), at: 1)
            try write.bind(try devices.encode(vector, in: database), at: 2)
            try write.bind(try devices.row(for: UInt64(bitPattern: read.int64(2)), in: database), at: 3)
            try write.step()
        }
        let columns = """
            sequence, name, type, size, mode, uid, gid, mtime_ns, ctime_ns, inode, device, nlink, deleted,
            version, blocklist, blocks, link_target, modified_by
            """
        try database.execute("""
            \(versionsTable("versions_v5"))
            INSERT INTO versions_v5(\(columns))
                SELECT v.sequence, v.name, v.type, v.size, v.mode, v.uid, v.gid, v.mtime_ns, v.ctime_ns, v.inode, v.device,
                       v.nlink, v.deleted, c.version, v.blocklist, v.blocks, v.link_target, c.modified_by
                FROM versions v JOIN temp.converted c ON c.sequence = v.sequence ORDER BY v.sequence;
            DROP TABLE temp.converted;
            DROP TABLE versions;
            ALTER TABLE versions_v5 RENAME TO versions;
            \(versionsIndex)
            """)
    }
}
