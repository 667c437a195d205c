import Chunker

extension Catalog {
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
}
