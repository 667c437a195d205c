import Chunker

/// The vault's SQLite catalog: folders, interned names, every recorded file version, block lists,
/// the block index, packs and snapshots.
///
/// Not thread-safe: each thread opens its own `Catalog` on the same file (WAL lets readers run beside
/// the one writer). Write methods expect to run inside `transaction`.
public final class Catalog {
    public static let schemaVersion: Int64 = 4
    public let database: Database

    /// Opens the catalog, creating or migrating the schema when `writable`; checks its integrity
    /// header so a damaged file is reported at open, not half-way through a backup.
    public init(path: String, writable: Bool = true) throws(StoreError) {
        database = try Database(path: path, create: writable, readOnly: false)
        try database.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-16384")
        let version = try database.scalar("PRAGMA user_version") ?? 0
        if version == 0 && writable {
            try database.execute("BEGIN IMMEDIATE; \(Catalog.schema) \(Catalog.migrations.joined()) PRAGMA user_version=\(Catalog.schemaVersion); COMMIT;")
        } else if version > Catalog.schemaVersion {
            throw .invalidVault("catalog schema \(version) is newer than this blockvault understands (\(Catalog.schemaVersion)); upgrade blockvault")
        } else if version == 0 {
            throw .invalidVault("catalog \(path) is empty or not a blockvault catalog")
        } else if version < Catalog.schemaVersion {
            // Each migration runs in one transaction with the version bump: all of it or none.
            for next in Int(version)..<Int(Catalog.schemaVersion) {
                try database.execute("BEGIN IMMEDIATE; \(Catalog.migrations[next - 1]) PRAGMA user_version=\(next + 1); COMMIT;")
            }
        }
    }

    /// `migrations[n - 1]` takes schema n to n + 1.
    static let migrations = [
        // 1 → 2: blocks the catalog knew but whose pack is gone; a backup stores them again when it meets them.
        "CREATE TABLE missing_blocks(hash BLOB PRIMARY KEY) STRICT, WITHOUT ROWID;",
        // 2 → 3: packs prune has unreferenced and is about to delete; whoever finds them here deletes them.
        "CREATE TABLE pending_deletions(name TEXT PRIMARY KEY) STRICT;",
        // 3 → 4: text settings (a replica's master device).
        "CREATE TABLE settings_text(key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;",
    ]

    public func transaction<T>(_ body: () throws -> T) throws -> T { try database.transaction(body) }

    /// Sets this connection's page cache (SQLite's default here is 16 MiB a connection). The
    /// backup's committer, which inserts into indexes keyed by hashes (random places in the
    /// B-tree), rereads and rewrites far fewer pages with more.
    public func setCacheSize(megabytes: Int) throws(StoreError) {
        try database.execute("PRAGMA cache_size=-\(megabytes * 1024)")
    }

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

    // MARK: Settings

    public func setting(_ key: String) throws(StoreError) -> Int64? {
        try database.scalar("SELECT value FROM settings WHERE key = ?", [.text(key)])
    }

    public func setSetting(_ key: String, _ value: Int64) throws(StoreError) {
        try database.prepare("INSERT INTO settings(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .run([.text(key), .integer(value)])
    }

    /// A text setting (such as the device a replica follows), or nil.
    public func settingText(_ key: String) throws(StoreError) -> String? {
        let statement = try database.prepare("SELECT value FROM settings_text WHERE key = ?")
        try statement.bind([.text(key)])
        guard try statement.step() else { return nil }
        let value = statement.text(0)
        try statement.step()
        return value
    }

    public func setSettingText(_ key: String, _ value: String) throws(StoreError) {
        try database.prepare("INSERT INTO settings_text(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .run([.text(key), .text(value)])
    }

    // MARK: Devices

    /// Records a device (idempotent); `deviceID` is its full id as hex.
    public func registerDevice(deviceID: String, shortID: UInt64) throws(StoreError) {
        try database.prepare("INSERT OR IGNORE INTO devices(device_id, short_id) VALUES(?, ?)")
            .run([.blob(Array(deviceID.utf8)), .integer(Int64(bitPattern: shortID))])
    }

    // MARK: Folders and names

    /// The folder's row id, created if new.
    public func folderID(path: [UInt8], create: Bool) throws(StoreError) -> Int64? {
        if let id = try database.scalar("SELECT id FROM folders WHERE path = ?", [.blob(path)]) { return id }
        guard create else { return nil }
        try database.prepare("INSERT INTO folders(path) VALUES(?)").run([.blob(path)])
        return database.lastInsertRowID
    }

    /// Every folder: (row id, path).
    public func folders() throws(StoreError) -> [(id: Int64, path: [UInt8])] {
        let statement = try database.prepare("SELECT id, path FROM folders ORDER BY id")
        var result: [(Int64, [UInt8])] = []
        while try statement.step() { result.append((statement.int64(0), statement.blob(1))) }
        return result
    }

    public func folderPath(id: Int64) throws(StoreError) -> [UInt8] {
        let statement = try database.prepare("SELECT path FROM folders WHERE id = ?")
        try statement.bind([.integer(id)])
        guard try statement.step() else { throw .catalog("folder \(id) is missing") }
        let path = statement.blob(0)
        try statement.step()
        return path
    }

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

    // MARK: Versions

    static let versionColumns = """
        v.sequence, n.name, v.type, v.size, v.mode, v.uid, v.gid, v.mtime_ns, v.ctime_ns, v.inode, v.device,
        v.nlink, v.deleted, v.version, v.blocklist, v.link_target, v.modified_by, v.blocks
        """

    /// Decodes the columns listed in `versionColumns`, starting at `first`.
    static func version(from row: Statement, first: Int = 0) throws(StoreError) -> FileVersion {
        guard let type = EntryType(rawValue: row.int(first + 2)) else { throw .corrupt("unknown entry type in catalog") }
        var version = FileVersion(path: row.blob(first + 1), type: type)
        version.sequence = row.int64(first)
        version.size = row.int64(first + 3)
        version.mode = UInt32(truncatingIfNeeded: row.int64(first + 4))
        version.uid = UInt32(truncatingIfNeeded: row.int64(first + 5))
        version.gid = UInt32(truncatingIfNeeded: row.int64(first + 6))
        version.modificationTime = row.int64(first + 7)
        version.changeTime = row.int64(first + 8)
        version.inode = UInt64(bitPattern: row.int64(first + 9))
        version.device = UInt64(bitPattern: row.int64(first + 10))
        version.linkCount = UInt32(truncatingIfNeeded: row.int64(first + 11))
        version.deleted = row.int64(first + 12) != 0
        version.version = try VersionVector(encoded: row.blob(first + 13))
        version.blockListHash = row.isNull(first + 14) ? nil : row.blockID(first + 14)
        version.linkTarget = row.isNull(first + 15) ? nil : row.blob(first + 15)
        version.modifiedBy = UInt64(bitPattern: row.int64(first + 16))
        version.blockCount = row.int(first + 17)
        return version
    }

    /// Records a new version of `nameID` and makes it the latest; returns its sequence number.
    /// With `keepSequence` the version keeps `version.sequence` (rebuilding a catalog); otherwise it
    /// gets the next one.
    @discardableResult
    public func insertVersion(_ version: FileVersion, folder: Int64, nameID: Int64, keepSequence: Bool = false) throws(StoreError) -> Int64 {
        let insert = try database.prepare("""
            INSERT INTO versions(folder, name, type, size, mode, uid, gid, mtime_ns, ctime_ns, inode, device, nlink,
                                 deleted, version, blocklist, link_target, modified_by, blocks, sequence)
            VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        try insert.bind(folder, at: 1)
        try insert.bind(nameID, at: 2)
        try insert.bind(version.type.rawValue, at: 3)
        try insert.bind(version.size, at: 4)
        try insert.bind(Int64(version.mode), at: 5)
        try insert.bind(Int64(version.uid), at: 6)
        try insert.bind(Int64(version.gid), at: 7)
        try insert.bind(version.modificationTime, at: 8)
        try insert.bind(version.changeTime, at: 9)
        try insert.bind(Int64(bitPattern: version.inode), at: 10)
        try insert.bind(Int64(bitPattern: version.device), at: 11)
        try insert.bind(Int64(version.linkCount), at: 12)
        try insert.bind(version.deleted ? 1 : 0, at: 13)
        try insert.bind(version.version.encoded, at: 14)
        if let hash = version.blockListHash { try insert.bind(hash, at: 15) } else { try insert.bindNull(at: 15) }
        if let target = version.linkTarget { try insert.bind(target, at: 16) } else { try insert.bindNull(at: 16) }
        try insert.bind(Int64(bitPattern: version.modifiedBy), at: 17)
        try insert.bind(version.blockCount, at: 18)
        if keepSequence { try insert.bind(version.sequence, at: 19) } else { try insert.bindNull(at: 19) }
        try insert.step()
        return database.lastInsertRowID
    }

    /// The latest version (deleted or not) of every name directly under `parent` (0: the root),
    /// keyed by path, with the name's row id: one query per directory.
    func latestChildren(folder: Int64, parent: Int64) throws(StoreError) -> [PathKey: (nameID: Int64, version: FileVersion)] {
        let statement = try database.prepare("""
            SELECT n.id, \(Catalog.versionColumns) FROM names n JOIN versions v
              ON v.sequence = (SELECT max(x.sequence) FROM versions x WHERE x.name = n.id)
            WHERE n.folder = ? AND n.parent = ?
            """)
        try statement.bind([.integer(folder), .integer(parent)])
        var result: [PathKey: (nameID: Int64, version: FileVersion)] = [:]
        while try statement.step() {
            let version = try Catalog.version(from: statement, first: 1)
            result[PathKey(version.path)] = (statement.int64(0), version)
        }
        return result
    }

    /// Calls `body` for each entry of the folder's state as of `sequence` (the newest version of each
    /// name at or before it, deletions left out), in bytewise path order, so parents come first.
    public func forEachEntry(folder: Int64, asOf sequence: Int64, _ body: (FileVersion) throws -> Void) throws {
        let statement = try database.prepare("""
            SELECT \(Catalog.versionColumns) FROM names n JOIN versions v ON v.sequence =
              (SELECT max(x.sequence) FROM versions x WHERE x.name = n.id AND x.sequence <= ?)
            WHERE n.folder = ? AND v.deleted = 0 ORDER BY n.name
            """)
        try statement.bind([.integer(sequence), .integer(folder)])
        while try statement.step() { try body(try Catalog.version(from: statement)) }
    }

    /// Every recorded version of one path, oldest first.
    public func history(folder: Int64, path: [UInt8]) throws(StoreError) -> [FileVersion] {
        let statement = try database.prepare("""
            SELECT \(Catalog.versionColumns) FROM names n JOIN versions v ON v.name = n.id
            WHERE n.folder = ? AND n.hash = ? AND n.name = ? ORDER BY v.sequence
            """)
        try statement.bind([.integer(folder), .integer(Catalog.pathHash(path)), .blob(path)])
        var result: [FileVersion] = []
        while try statement.step() { result.append(try Catalog.version(from: statement)) }
        return result
    }

    /// Versions with sequence in (after, through], oldest first, with their folder's row id.
    public func versions(after: Int64, through: Int64, _ body: (Int64, FileVersion) throws -> Void) throws {
        let statement = try database.prepare("""
            SELECT v.folder, \(Catalog.versionColumns) FROM versions v JOIN names n ON n.id = v.name
            WHERE v.sequence > ? AND v.sequence <= ? ORDER BY v.sequence
            """)
        try statement.bind([.integer(after), .integer(through)])
        while try statement.step() { try body(statement.int64(0), try Catalog.version(from: statement, first: 1)) }
    }

    /// Up to `limit` versions with sequence above `after`, oldest first, with their folder's path.
    public func versionBatch(after: Int64, limit: Int) throws(StoreError) -> [(folder: [UInt8], version: FileVersion)] {
        let statement = try database.prepare("""
            SELECT f.path, \(Catalog.versionColumns) FROM versions v JOIN names n ON n.id = v.name
            JOIN folders f ON f.id = v.folder WHERE v.sequence > ? ORDER BY v.sequence LIMIT ?
            """)
        try statement.bind([.integer(after), .integer(Int64(limit))])
        var result: [([UInt8], FileVersion)] = []
        while try statement.step() { result.append((statement.blob(0), try Catalog.version(from: statement, first: 1))) }
        return result
    }

    public func hasVersion(sequence: Int64) throws(StoreError) -> Bool {
        try database.scalar("SELECT 1 FROM versions WHERE sequence = ?", [.integer(sequence)]) != nil
    }

    public func maximumSequence() throws(StoreError) -> Int64 {
        try database.scalar("SELECT max(sequence) FROM versions") ?? 0
    }

    // MARK: Block lists

    /// Stores a block list once per distinct content (idempotent).
    public func insertBlockList(hash: BlockID, ids: [UInt8], size: Int64) throws(StoreError) {
        let statement = try database.prepare("INSERT OR IGNORE INTO blocklists(hash, ids, size) VALUES(?, ?, ?)")
        try statement.bind(hash, at: 1)
        try statement.bind(ids, at: 2)
        try statement.bind(size, at: 3)
        try statement.step()
    }

    /// The block IDs of a file version's content, in file order.
    public func blockIDs(of version: FileVersion) throws(StoreError) -> [BlockID] {
        guard let hash = version.blockListHash, version.blockCount > 0 else { return [] }
        if version.blockCount == 1 { return [hash] }
        let ids = try blockList(hash)
        guard ids.count == version.blockCount else {
            throw .corrupt("block list \(hash) has \(ids.count) blocks, the version says \(version.blockCount)")
        }
        return ids
    }

    /// The block IDs of a block list, in file order.
    public func blockList(_ hash: BlockID) throws(StoreError) -> [BlockID] {
        let statement = try database.prepare("SELECT ids FROM blocklists WHERE hash = ?")
        try statement.bind(hash, at: 1)
        guard try statement.step() else { throw .corrupt("block list \(hash) is missing from the catalog") }
        let ids = statement.withBlob(0, BlockID.list(in:))
        try statement.step()
        return ids
    }

    public func blockListBytes(_ hash: BlockID) throws(StoreError) -> [UInt8]? {
        let statement = try database.prepare("SELECT ids FROM blocklists WHERE hash = ?")
        try statement.bind(hash, at: 1)
        guard try statement.step() else { return nil }
        let bytes = statement.blob(0)
        try statement.step()
        return bytes
    }

    // MARK: Packs and blocks

    /// Records a sealed pack and all its blocks. Blocks already indexed keep their first location,
    /// unless `replacingLocations` (repacking), when the new pack becomes their location.
    public func insertPack(_ pack: SealedPack, replacingLocations: Bool = false) throws(StoreError) {
        // A block stored again is no longer missing.
        let found = try database.prepare("DELETE FROM missing_blocks WHERE hash = ?")
        if try database.scalar("SELECT count(*) FROM missing_blocks") ?? 0 > 0 {
            for entry in pack.entries {
                try found.bind(entry.id, at: 1)
                try found.step()
            }
        }
        try database.prepare("INSERT INTO packs(name, kind, size, blocks) VALUES(?, ?, ?, ?)")
            .run([.text(pack.name), .integer(Int64(pack.kind.rawValue)), .integer(Int64(pack.size)),
                  .integer(Int64(pack.entries.count))])
        let packID = database.lastInsertRowID
        let insert = try database.prepare("""
            INSERT OR \(replacingLocations ? "REPLACE" : "IGNORE") INTO blocks(hash, pack, offset, stored_length, raw_length, encoding)
            VALUES(?, ?, ?, ?, ?, ?)
            """)
        for entry in pack.entries {
            try insert.bind(entry.id, at: 1)
            try insert.bind(packID, at: 2)
            try insert.bind(entry.offset, at: 3)
            try insert.bind(entry.storedLength, at: 4)
            try insert.bind(entry.rawLength, at: 5)
            try insert.bind(Int(entry.encoding.rawValue), at: 6)
            try insert.step()
        }
    }

    /// Packs that are no longer referenced and wait to be deleted.
    public func pendingDeletions() throws(StoreError) -> [String] {
        let statement = try database.prepare("SELECT name FROM pending_deletions ORDER BY name")
        var names: [String] = []
        while try statement.step() { names.append(statement.text(0)) }
        return names
    }

    public func packNames() throws(StoreError) -> [String] {
        let statement = try database.prepare("SELECT name FROM packs")
        var names: [String] = []
        while try statement.step() { names.append(statement.text(0)) }
        return names
    }

    /// Forgets the packs named (their files are gone): their rows and their blocks' rows go, and
    /// the blocks are remembered as missing so a backup that meets them stores them again.
    /// Returns how many blocks went missing.
    @discardableResult
    public func dropLostPacks(_ names: [String]) throws(StoreError) -> Int {
        var lost = 0
        for name in names {
            guard let packID = try database.scalar("SELECT id FROM packs WHERE name = ?", [.text(name)]) else { continue }
            if try database.scalar("SELECT kind FROM packs WHERE id = ?", [.integer(packID)]) == Int64(PackFormat.Kind.metadata.rawValue) {
                // The records that let repair rebuild the catalog went with it: have the next backup
                // write all of them again from the catalog (new records, so nothing is "missing").
                try setSetting("metadata_sequence", 0)
                try setSetting("metadata_rewrite", 1)
            } else {
                try database.prepare("INSERT OR IGNORE INTO missing_blocks(hash) SELECT hash FROM blocks WHERE pack = ?")
                    .run([.integer(packID)])
                lost += database.changes
            }
            try database.prepare("DELETE FROM blocks WHERE pack = ?").run([.integer(packID)])
            try database.prepare("DELETE FROM packs WHERE id = ?").run([.integer(packID)])
        }
        return lost
    }

    /// Forgets damaged copies of blocks (each in the pack named), remembering the blocks as
    /// missing. Only the row for that pack goes: a healthy copy elsewhere is never dropped.
    public func dropBlocks(_ copies: [(id: BlockID, pack: Int64)]) throws(StoreError) {
        let remember = try database.prepare("INSERT OR IGNORE INTO missing_blocks(hash) VALUES(?)")
        let forget = try database.prepare("DELETE FROM blocks WHERE hash = ? AND pack = ?")
        for (id, pack) in copies {
            try forget.bind(id, at: 1)
            try forget.bind(pack, at: 2)
            try forget.step()
            guard database.changes > 0 else { continue }
            try remember.bind(id, at: 1)
            try remember.step()
        }
    }

    /// Blocks known to be missing from the vault.
    public func missingBlocks() throws(StoreError) -> Set<BlockID> {
        let statement = try database.prepare("SELECT hash FROM missing_blocks")
        var result = Set<BlockID>()
        while try statement.step() { if let id = statement.blockID(0) { result.insert(id) } }
        return result
    }

    /// Every pack the catalog records: (row id, name, kind, size).
    public func packs() throws(StoreError) -> [(id: Int64, name: String, kind: Int, size: Int)] {
        let statement = try database.prepare("SELECT id, name, kind, size FROM packs ORDER BY name")
        var result: [(Int64, String, Int, Int)] = []
        while try statement.step() { result.append((statement.int64(0), statement.text(1), statement.int(2), statement.int(3))) }
        return result
    }

    /// The catalog's entries for one pack, keyed by block. The block table is keyed by hash, so this
    /// reads all of it: to visit many packs, use `forEachPackEntries`.
    public func entries(ofPack packID: Int64) throws(StoreError) -> [BlockID: PackEntry] {
        let statement = try database.prepare("SELECT hash, offset, stored_length, raw_length, encoding FROM blocks WHERE pack = ?")
        try statement.bind([.integer(packID)])
        var result: [BlockID: PackEntry] = [:]
        while try statement.step() {
            let entry = try Catalog.packEntry(from: statement, first: 0)
            result[entry.id] = entry
        }
        return result
    }

    /// Calls `body` with each pack's entries (keyed by block), in pack row-id order, from one ordered
    /// pass over the block table; only one pack's entries are in memory at a time. Packs without
    /// block rows are not visited; with `only`, other packs are skipped.
    public func forEachPackEntries(only: Set<Int64>? = nil, _ body: (Int64, [BlockID: PackEntry]) throws -> Void) throws {
        let statement = try database.prepare("""
            SELECT pack, hash, offset, stored_length, raw_length, encoding FROM blocks ORDER BY pack
            """)
        var current: Int64?
        var entries: [BlockID: PackEntry] = [:]
        while try statement.step() {
            let pack = statement.int64(0)
            if let only, !only.contains(pack) { continue }
            if pack != current {
                if let current { try body(current, entries) }
                current = pack
                entries.removeAll(keepingCapacity: true)
            }
            let entry = try Catalog.packEntry(from: statement, first: 1)
            entries[entry.id] = entry
        }
        if let current { try body(current, entries) }
    }

    /// Decodes hash, offset, stored length, raw length and encoding, starting at column `first`.
    static func packEntry(from row: Statement, first: Int) throws(StoreError) -> PackEntry {
        guard let id = row.blockID(first) else { throw .corrupt("a block row has a hash that is not 32 bytes") }
        let encoding = PackFormat.Encoding(rawValue: UInt8(truncatingIfNeeded: row.int(first + 4))) ?? .raw
        return PackEntry(id: id, offset: row.int(first + 1), storedLength: row.int(first + 2), rawLength: row.int(first + 3),
                         encoding: encoding)
    }

    public func hasBlock(_ id: BlockID) throws(StoreError) -> Bool {
        let statement = try database.prepare("SELECT 1 FROM blocks WHERE hash = ?")
        try statement.bind(id, at: 1)
        let found = try statement.step()
        if found { try statement.step() }
        return found
    }

    /// Where a block is stored, or nil when the catalog does not know it.
    public func location(of id: BlockID) throws(StoreError) -> BlockLocation? {
        let statement = try database.prepare("""
            SELECT p.name, b.offset, b.stored_length, b.raw_length, b.encoding FROM blocks b JOIN packs p ON p.id = b.pack
            WHERE b.hash = ?
            """)
        try statement.bind(id, at: 1)
        guard try statement.step() else { return nil }
        guard let encoding = PackFormat.Encoding(rawValue: UInt8(truncatingIfNeeded: statement.int(4))) else {
            throw .corrupt("block \(id) has an unknown encoding in the catalog")
        }
        let location = BlockLocation(pack: statement.text(0), entry: PackEntry(
            id: id, offset: statement.int(1), storedLength: statement.int(2), rawLength: statement.int(3), encoding: encoding))
        try statement.step()
        return location
    }

    // MARK: Snapshots

    public func insertSnapshot(_ snapshot: Snapshot, folder: Int64) throws(StoreError) {
        let statement = try database.prepare("""
            INSERT INTO snapshots(snapshot_id, folder, time_ns, host, tags, sequence, files, bytes, partial, metadata)
            VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        try statement.bind([.text(snapshot.id), .integer(folder), .integer(snapshot.time), .text(snapshot.host),
                            .text(snapshot.tags.joined(separator: ",")), .integer(snapshot.sequence),
                            .integer(snapshot.files), .integer(snapshot.bytes), .integer(snapshot.partial ? 1 : 0)])
        if let metadata = snapshot.metadataID { try statement.bind(metadata, at: 10) }
        try statement.step()
    }

    /// Every snapshot, oldest first, with its folder's row id.
    public func snapshots() throws(StoreError) -> [(folder: Int64, snapshot: Snapshot)] {
        let statement = try database.prepare("""
            SELECT s.snapshot_id, f.path, s.time_ns, s.host, s.tags, s.sequence, s.files, s.bytes, s.partial, s.metadata, s.folder
            FROM snapshots s JOIN folders f ON f.id = s.folder ORDER BY s.time_ns, s.id
            """)
        var result: [(Int64, Snapshot)] = []
        while try statement.step() {
            let tags = statement.text(4)
            result.append((statement.int64(10), Snapshot(
                id: statement.text(0), folderPath: statement.blob(1), time: statement.int64(2), host: statement.text(3),
                tags: tags.isEmpty ? [] : tags.split(separator: ",").map(String.init), sequence: statement.int64(5),
                files: statement.int64(6), bytes: statement.int64(7), partial: statement.int64(8) != 0,
                metadataID: statement.isNull(9) ? nil : statement.blockID(9))))
        }
        return result
    }
}
