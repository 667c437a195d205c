extension Catalog {
    static let schema = """
    CREATE TABLE folders(id INTEGER PRIMARY KEY, path BLOB NOT NULL UNIQUE) STRICT;
    CREATE TABLE devices(id INTEGER PRIMARY KEY, device_id BLOB NOT NULL UNIQUE, short_id INTEGER NOT NULL) STRICT;
    CREATE TABLE names(id INTEGER PRIMARY KEY, folder INTEGER NOT NULL, parent INTEGER NOT NULL,
                       hash INTEGER NOT NULL, name BLOB NOT NULL) STRICT;
    CREATE INDEX names_by_hash ON names(folder, hash);
    CREATE INDEX names_by_parent ON names(folder, parent);
    CREATE TABLE versions(sequence INTEGER PRIMARY KEY, folder INTEGER NOT NULL, name INTEGER NOT NULL,
                          type INTEGER NOT NULL, size INTEGER NOT NULL, mode INTEGER NOT NULL,
                          uid INTEGER NOT NULL, gid INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
                          ctime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, device INTEGER NOT NULL,
                          nlink INTEGER NOT NULL, deleted INTEGER NOT NULL, version BLOB NOT NULL,
                          blocklist BLOB, blocks INTEGER NOT NULL, link_target BLOB, modified_by INTEGER NOT NULL) STRICT;
    CREATE INDEX versions_by_name ON versions(name, sequence);
    CREATE TABLE blocklists(hash BLOB PRIMARY KEY, ids BLOB NOT NULL, size INTEGER NOT NULL) STRICT, WITHOUT ROWID;
    CREATE TABLE packs(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind INTEGER NOT NULL,
                       size INTEGER NOT NULL, blocks INTEGER NOT NULL) STRICT;
    CREATE TABLE blocks(hash BLOB PRIMARY KEY, pack INTEGER NOT NULL, offset INTEGER NOT NULL,
                        stored_length INTEGER NOT NULL, raw_length INTEGER NOT NULL,
                        encoding INTEGER NOT NULL) STRICT, WITHOUT ROWID;
    CREATE TABLE snapshots(id INTEGER PRIMARY KEY, snapshot_id TEXT NOT NULL UNIQUE, folder INTEGER NOT NULL,
                           time_ns INTEGER NOT NULL, host TEXT NOT NULL, tags TEXT NOT NULL,
                           sequence INTEGER NOT NULL, files INTEGER NOT NULL, bytes INTEGER NOT NULL,
                           partial INTEGER NOT NULL, metadata BLOB) STRICT;
    CREATE TABLE settings(key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
    """

    /// `migrations[n - 1]` takes schema n to n + 1.
    static let migrations = [
        // 1 → 2: blocks the catalog knew but whose pack is gone; a backup stores them again when it meets them.
        "CREATE TABLE missing_blocks(hash BLOB PRIMARY KEY) STRICT, WITHOUT ROWID;",
        // 2 → 3: packs prune has unreferenced and is about to delete; whoever finds them here deletes them.
        "CREATE TABLE pending_deletions(name TEXT PRIMARY KEY) STRICT;",
        // 3 → 4: text settings (a replica's master device).
        "CREATE TABLE settings_text(key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;",
    ]
}
