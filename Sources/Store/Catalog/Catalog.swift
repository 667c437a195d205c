import Chunker
#if canImport(Glibc)
import Glibc
#endif

/// The vault's SQLite catalog: folders, interned names, every recorded file version, block lists,
/// the block index, packs and snapshots.
///
/// Not thread-safe: each thread opens its own `Catalog` on the same file (WAL lets readers run beside
/// the one writer). Write methods expect to run inside `transaction`.
public final class Catalog {
    public static let schemaVersion: Int64 = 8
    /// The connection: only the catalog's own files run SQL on it (callers ask by name).
    let database: Database
    /// Maps the catalog's device rows to short device ids and back (see `DeviceTable`).
    var devices = DeviceTable()
    /// The vault id each write transaction records again (see `stampVault`); nil when unknown.
    private var vaultStamp: String?

    /// Opens the catalog, creating or migrating the schema when `writable`; checks its integrity
    /// header so a damaged file is reported at open, not half-way through a backup.
    ///
    /// `readOnly` opens it without writing anything (see `Database.init`), for commands that only
    /// read; an older schema is still migrated, which needs write access.
    ///
    /// With `vaultID` (config.json's), the catalog must belong to that vault: a catalog, or a WAL,
    /// copied from another vault is refused (SQLite would apply another vault's WAL to this
    /// catalog). A catalog that does not record its vault yet (older ones) has it recorded at its
    /// first writable open.
    public init(path: String, writable: Bool = true, readOnly: Bool = false, vaultID: String? = nil) throws(StoreError) {
        // A foreign WAL is refused before SQLite sees it: it would apply its pages to this catalog
        // (a mix that may not even read as a database) and, closing, checkpoint them into it.
        if let vaultID, let foreign = Catalog.vaultIDs(inWALOf: path).first(where: { $0 != vaultID }) {
            throw Catalog.foreignVault(foreign, expected: vaultID, path: path)
        }
        var database = try Catalog.openDatabase(path, writable: writable, readOnly: readOnly)
        var version = try database.scalar("PRAGMA user_version") ?? 0
        if readOnly && version > 0 && version < Catalog.schemaVersion {
            database.close()
            database = try Catalog.openDatabase(path, writable: writable, readOnly: false)
            version = try database.scalar("PRAGMA user_version") ?? 0
        }
        self.database = database
        if version == 0 && writable && !readOnly {
            try inTransaction { () throws(StoreError) in
                try database.execute("\(Catalog.schema) PRAGMA user_version=\(Catalog.schemaVersion);")
            }
        } else if version > Catalog.schemaVersion {
            throw .invalidVault("catalog schema \(version) is newer than this blockvault understands (\(Catalog.schemaVersion)); upgrade blockvault")
        } else if version == 0 {
            throw .invalidVault("catalog \(path) is empty or not a blockvault catalog")
        } else if version < Catalog.schemaVersion {
            try migrate(from: version)
        }
        if let vaultID { try checkVault(vaultID, path: path) }
    }

    private static func openDatabase(_ path: String, writable: Bool, readOnly: Bool) throws(StoreError) -> Database {
        let database = try Database(path: path, create: writable, readOnly: readOnly)
        try database.execute(readOnly ? "PRAGMA query_only=1; PRAGMA cache_size=-16384"
                                      : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-16384")
        return database
    }

    /// The settings_text key that names the vault a catalog belongs to.
    static let vaultIDKey = "vault_id"

    /// Refuses a catalog (or WAL) of another vault; records the vault in one that names none yet.
    private func checkVault(_ vaultID: String, path: String) throws(StoreError) {
        let recorded = try settingText(Catalog.vaultIDKey)
        if let recorded, recorded != vaultID {
            // SQLite would otherwise checkpoint the foreign WAL into this catalog when it closes.
            database.disableCheckpointOnClose()
            database.close()
            throw Catalog.foreignVault(recorded, expected: vaultID, path: path)
        }
        guard !database.isReadOnly else { return }
        vaultStamp = vaultID
        if recorded == nil { try inTransaction {} }
    }

    /// Writes the page that records the vault into the write-ahead log, unchanged (deleted and
    /// inserted again, so SQLite writes it), so that every WAL this catalog leaves names its vault:
    /// copied next to another vault's catalog, it is recognised and refused. Run inside every write
    /// transaction (`transaction`, `beginTransaction`) on a catalog opened with its vault's id.
    func stampVault() throws(StoreError) {
        guard let vaultStamp else { return }
        try database.prepare("DELETE FROM settings_text WHERE key = ?").run([.text(Catalog.vaultIDKey)])
        try setSettingText(Catalog.vaultIDKey, vaultStamp)
    }

    /// Runs `body` inside one transaction: committed if it returns, rolled back if it throws. A
    /// rollback also drops cached device rows, which may name rows that are gone with it.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        do {
            return try database.transaction {
                try stampVault()
                return try body()
            }
        } catch {
            devices.forgetAll()
            throw error
        }
    }

    /// `transaction` for bodies that throw only `StoreError`.
    func inTransaction(_ body: () throws(StoreError) -> Void) throws(StoreError) {
        try beginTransaction()
        do throws(StoreError) {
            try body()
            try commitTransaction()
        } catch {
            rollbackTransaction()
            throw error
        }
    }

    /// Sets this connection's page cache (SQLite's default here is 16 MiB a connection). The
    /// backup's committer, which inserts into indexes keyed by hashes (random places in the
    /// B-tree), rereads and rewrites far fewer pages with more.
    public func setCacheSize(megabytes: Int) throws(StoreError) {
        try database.execute("PRAGMA cache_size=-\(megabytes * 1024)")
    }

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

    /// Records a device (idempotent); `deviceID` is its full id as hex. A device first met in a
    /// version vector has a row with its short id only; this fills in the full id.
    public func registerDevice(deviceID: String, shortID: UInt64) throws(StoreError) {
        try database.prepare("""
            INSERT INTO devices(short_id, device_id) VALUES(?, ?)
            ON CONFLICT(short_id) DO UPDATE SET device_id = excluded.device_id WHERE device_id IS NULL
            """).run([.integer(Int64(bitPattern: shortID)), .blob(Array(deviceID.utf8))])
    }

    // MARK: Folders

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
            INSERT OR \(replacingLocations ? "REPLACE" : "IGNORE") INTO blocks(hash, pack, offset, stored_length, raw_length, encoding, skip)
            VALUES(?, ?, ?, ?, ?, ?, ?)
            """)
        for entry in pack.entries {
            try insert.bind(entry.id, at: 1)
            try insert.bind(packID, at: 2)
            try insert.bind(entry.offset, at: 3)
            try insert.bind(entry.storedLength, at: 4)
            try insert.bind(entry.rawLength, at: 5)
            try insert.bind(Int(entry.encoding.rawValue), at: 6)
            try insert.bind(entry.skip, at: 7)
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
            let isMetadata = try database.scalar("SELECT kind FROM packs WHERE id = ?", [.integer(packID)]) == Int64(PackFormat.Kind.metadata.rawValue)
            // A metadata pack whose records were all salvaged elsewhere (repair) has no rows left.
            let rows = try database.scalar("SELECT count(*) FROM blocks WHERE pack = ?", [.integer(packID)]) ?? 0
            if isMetadata && rows == 0 {
                // Nothing of it is referenced any more.
            } else if isMetadata {
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
    /// A damaged metadata record is not "missing" (no backup stores it again from a source): the
    /// next backup writes all metadata records again instead, as for a lost metadata pack.
    public func dropBlocks(_ copies: [(id: BlockID, pack: Int64)]) throws(StoreError) {
        let remember = try database.prepare("INSERT OR IGNORE INTO missing_blocks(hash) VALUES(?)")
        let forget = try database.prepare("DELETE FROM blocks WHERE hash = ? AND pack = ?")
        for (id, pack) in copies {
            let isMetadata = try database.scalar("SELECT kind FROM packs WHERE id = ?", [.integer(pack)]) == Int64(PackFormat.Kind.metadata.rawValue)
            try forget.bind(id, at: 1)
            try forget.bind(pack, at: 2)
            try forget.step()
            guard database.changes > 0 else { continue }
            if isMetadata {
                try setSetting("metadata_sequence", 0)
                try setSetting("metadata_rewrite", 1)
            } else {
                try remember.bind(id, at: 1)
                try remember.step()
            }
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
        let statement = try database.prepare("SELECT hash, offset, stored_length, raw_length, encoding, skip FROM blocks WHERE pack = ?")
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
            SELECT pack, hash, offset, stored_length, raw_length, encoding, skip FROM blocks ORDER BY pack
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

    /// Decodes hash, offset, stored length, raw length, encoding and skip, starting at column `first`.
    static func packEntry(from row: Statement, first: Int) throws(StoreError) -> PackEntry {
        guard let id = row.blockID(first) else { throw .corrupt("a block row has a hash that is not 32 bytes") }
        let encoding = PackFormat.Encoding(rawValue: UInt8(truncatingIfNeeded: row.int(first + 4))) ?? .raw
        return PackEntry(id: id, offset: row.int(first + 1), storedLength: row.int(first + 2), rawLength: row.int(first + 3),
                         encoding: encoding, skip: row.int(first + 5))
    }

    /// Every block the catalog knows when they are at most `limit`; nil when there are more.
    public func allBlocks(ifAtMost limit: Int) throws(StoreError) -> [BlockID]? {
        let statement = try database.prepare("SELECT hash FROM blocks LIMIT ?")
        try statement.bind(Int64(limit + 1), at: 1)
        var ids: [BlockID] = []
        while try statement.step() {
            guard let id = statement.blockID(0) else { throw .corrupt("a block row has a hash that is not 32 bytes") }
            ids.append(id)
        }
        return ids.count <= limit ? ids : nil
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
            SELECT p.name, b.offset, b.stored_length, b.raw_length, b.encoding, b.skip FROM blocks b JOIN packs p ON p.id = b.pack
            WHERE b.hash = ?
            """)
        try statement.bind(id, at: 1)
        guard try statement.step() else { return nil }
        guard let encoding = PackFormat.Encoding(rawValue: UInt8(truncatingIfNeeded: statement.int(4))) else {
            throw .corrupt("block \(id) has an unknown encoding in the catalog")
        }
        let location = BlockLocation(pack: statement.text(0), entry: PackEntry(
            id: id, offset: statement.int(1), storedLength: statement.int(2), rawLength: statement.int(3), encoding: encoding,
            skip: statement.int(5)))
        try statement.step()
        return location
    }

    // MARK: Snapshots

    public func insertSnapshot(_ snapshot: Snapshot, folder: Int64) throws(StoreError) {
        let statement = try database.prepare("""
            INSERT INTO snapshots(snapshot_id, folder, time_ns, host, tags, sequence, files, bytes, partial, metadata, root)
            VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        try statement.bind([.text(snapshot.id), .integer(folder), .integer(snapshot.time), .text(snapshot.host),
                            .text(snapshot.tags.joined(separator: ",")), .integer(snapshot.sequence),
                            .integer(snapshot.files), .integer(snapshot.bytes), .integer(snapshot.partial ? 1 : 0)])
        if let metadata = snapshot.metadataID { try statement.bind(metadata, at: 10) }
        if let root = snapshot.root { try statement.bind(MetadataRecord.encodeRoot(root), at: 11) }
        try statement.step()
    }

    /// Every snapshot, oldest first, with its folder's row id.
    public func snapshots() throws(StoreError) -> [(folder: Int64, snapshot: Snapshot)] {
        let statement = try database.prepare("""
            SELECT s.snapshot_id, f.path, s.time_ns, s.host, s.tags, s.sequence, s.files, s.bytes, s.partial, s.metadata, s.folder,
                   s.root
            FROM snapshots s JOIN folders f ON f.id = s.folder ORDER BY s.time_ns, s.id
            """)
        var result: [(Int64, Snapshot)] = []
        while try statement.step() {
            let tags = statement.text(4)
            let root = statement.isNull(11) ? nil : try MetadataRecord.decodeRoot(statement.blob(11))
            result.append((statement.int64(10), Snapshot(
                id: statement.text(0), folderPath: statement.blob(1), time: statement.int64(2), host: statement.text(3),
                tags: tags.isEmpty ? [] : tags.split(separator: ",").map(String.init), sequence: statement.int64(5),
                files: statement.int64(6), bytes: statement.int64(7), partial: statement.int64(8) != 0,
                metadataID: statement.isNull(9) ? nil : statement.blockID(9), root: root)))
        }
        return result
    }
}
