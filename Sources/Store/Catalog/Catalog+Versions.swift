import Chunker

extension Catalog {
    /// A version row's columns, decoded by `version(from:first:path:)`; the path comes from the names.
    static let versionColumns = """
        v.sequence, v.type, v.size, v.mode, v.uid, v.gid, v.mtime_ns, v.ctime_ns, v.inode, v.device,
        v.nlink, v.deleted, v.version, v.blocklist, v.link_target, v.modified_by, v.blocks, v.xattrs, v.rdev,
        v.origin, v.origin_sequence
        """
    /// How many columns `versionColumns` lists.
    static let versionColumnCount = 21

    /// Decodes the columns listed in `versionColumns`, starting at `first`.
    func version(from row: Statement, first: Int = 0, path: [UInt8]) throws(StoreError) -> FileVersion {
        guard let type = EntryType(rawValue: row.int(first + 1)) else { throw .corrupt("unknown entry type in catalog") }
        var version = FileVersion(path: path, type: type)
        version.sequence = row.int64(first)
        version.size = row.int64(first + 2)
        version.mode = UInt32(truncatingIfNeeded: row.int64(first + 3))
        version.uid = UInt32(truncatingIfNeeded: row.int64(first + 4))
        version.gid = UInt32(truncatingIfNeeded: row.int64(first + 5))
        version.modificationTime = row.int64(first + 6)
        version.changeTime = row.int64(first + 7)
        version.inode = UInt64(bitPattern: row.int64(first + 8))
        version.device = UInt64(bitPattern: row.int64(first + 9))
        version.linkCount = UInt32(truncatingIfNeeded: row.int64(first + 10))
        version.deleted = row.int64(first + 11) != 0
        version.version = try row.withBlob(first + 12) { bytes throws(StoreError) in try devices.decode(bytes, in: database) }
        version.blockListHash = row.isNull(first + 13) ? nil : row.blockID(first + 13)
        version.linkTarget = row.isNull(first + 14) ? nil : row.blob(first + 14)
        version.modifiedBy = try devices.shortID(ofRow: row.int64(first + 15), in: database)
        version.blockCount = row.int(first + 16)
        if !row.isNull(first + 17) { version.xattrs = try ExtendedAttributes(encoded: row.blob(first + 17)) }
        version.rdev = UInt64(bitPattern: row.int64(first + 18))
        if !row.isNull(first + 19) {
            version.origin = VersionOrigin(device: try devices.deviceID(ofRow: row.int64(first + 19), in: database),
                                           sequence: row.int64(first + 20))
        }
        return version
    }

    /// Records a new version of `nameID` and makes it the latest; returns its sequence number.
    /// With `keepSequence` the version keeps `version.sequence` (rebuilding a catalog); otherwise it
    /// gets the next one. Its origin, when it has one, is recorded with it (a version received from
    /// a peer: see `insertReceivedVersion`, which also raises the seen sequence); an origin recorded
    /// already is refused (throws).
    @discardableResult
    public func insertVersion(_ version: FileVersion, nameID: Int64, keepSequence: Bool = false) throws(StoreError) -> Int64 {
        let vector = try devices.encode(version.version, in: database)
        let modifiedBy = try devices.row(for: version.modifiedBy, in: database)
        var originRow: Int64?
        if let origin = version.origin { originRow = try devices.row(forDevice: origin.device, in: database) }
        let insert = try database.prepare("""
            INSERT INTO versions(name, type, size, mode, uid, gid, mtime_ns, ctime_ns, inode, device, nlink,
                                 deleted, version, blocklist, link_target, modified_by, blocks, sequence, xattrs, rdev,
                                 origin, origin_sequence)
            VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        try insert.bind(nameID, at: 1)
        try insert.bind(version.type.rawValue, at: 2)
        try insert.bind(version.size, at: 3)
        try insert.bind(Int64(version.mode), at: 4)
        try insert.bind(Int64(version.uid), at: 5)
        try insert.bind(Int64(version.gid), at: 6)
        try insert.bind(version.modificationTime, at: 7)
        try insert.bind(version.changeTime, at: 8)
        try insert.bind(Int64(bitPattern: version.inode), at: 9)
        try insert.bind(Int64(bitPattern: version.device), at: 10)
        try insert.bind(Int64(version.linkCount), at: 11)
        try insert.bind(version.deleted ? 1 : 0, at: 12)
        try insert.bind(vector, at: 13)
        if let hash = version.blockListHash { try insert.bind(hash, at: 14) } else { try insert.bindNull(at: 14) }
        if let target = version.linkTarget { try insert.bind(target, at: 15) } else { try insert.bindNull(at: 15) }
        try insert.bind(modifiedBy, at: 16)
        try insert.bind(version.blockCount, at: 17)
        if keepSequence { try insert.bind(version.sequence, at: 18) } else { try insert.bindNull(at: 18) }
        if let xattrs = version.xattrs.encoded { try insert.bind(xattrs, at: 19) } else { try insert.bindNull(at: 19) }
        try insert.bind(Int64(bitPattern: version.rdev), at: 20)
        if let originRow, let origin = version.origin {
            try insert.bind(originRow, at: 21)
            try insert.bind(origin.sequence, at: 22)
        } else {
            try insert.bindNull(at: 21)
            try insert.bindNull(at: 22)
        }
        try insert.step()
        return database.lastInsertRowID
    }

    /// The latest version (deleted or not) of every name directly under `parent` (0: the root),
    /// whose path is `directory`, keyed by path, with the name's row id: `recordedChildren`, then
    /// each whole version by its sequence (for a subtree being deleted, and for tests).
    func latestChildren(folder: Int64, parent: Int64, directory: [UInt8]) throws(StoreError) -> [PathKey: (nameID: Int64, version: FileVersion)] {
        var result: [PathKey: (nameID: Int64, version: FileVersion)] = [:]
        for child in try recordedChildren(folder: folder, parent: parent) {
            let path = child.name.withUnsafeBytes { Catalog.path(in: directory, name: $0) }
            result[PathKey(path)] = (child.nameID, try version(sequence: child.sequence, path: path))
        }
        return result
    }

    /// What a backup's walk compares a directory entry with: the status fields of its name's latest
    /// version (deleted or not). The rest of the version (version vector, block list, who changed
    /// it) is decoded only for entries that changed, by `version(sequence:path:)`.
    struct RecordedChild {
        var name: [UInt8]
        var nameID: Int64
        var sequence: Int64
        var type: EntryType
        var deleted: Bool
        var size: Int64
        var mode: UInt32
        var uid: UInt32
        var gid: UInt32
        var modificationTime: Int64
        var changeTime: Int64
        var inode: UInt64
        var linkTarget: [UInt8]?
    }

    /// The latest version of every name directly under `parent` (0: the root), in bytewise name
    /// order (the order of a sorted directory listing): one query per directory, no paths built.
    func recordedChildren(folder: Int64, parent: Int64) throws(StoreError) -> [RecordedChild] {
        let statement = try database.prepare("""
            SELECT n.id, n.name, v.sequence, v.type, v.deleted, v.size, v.mode, v.uid, v.gid, v.mtime_ns, v.ctime_ns,
                   v.inode, v.link_target
            FROM names n JOIN versions v ON v.sequence = (SELECT max(x.sequence) FROM versions x WHERE x.name = n.id)
            WHERE n.folder = ? AND n.parent = ? ORDER BY n.name
            """)
        try statement.bind([.integer(folder), .integer(parent)])
        var children: [RecordedChild] = []
        while try statement.step() {
            guard let type = EntryType(rawValue: statement.int(3)) else { throw .corrupt("unknown entry type in catalog") }
            children.append(RecordedChild(
                name: statement.blob(1), nameID: statement.int64(0), sequence: statement.int64(2), type: type,
                deleted: statement.int64(4) != 0, size: statement.int64(5),
                mode: UInt32(truncatingIfNeeded: statement.int64(6)), uid: UInt32(truncatingIfNeeded: statement.int64(7)),
                gid: UInt32(truncatingIfNeeded: statement.int64(8)), modificationTime: statement.int64(9),
                changeTime: statement.int64(10), inode: UInt64(bitPattern: statement.int64(11)),
                linkTarget: statement.isNull(12) ? nil : statement.blob(12)))
        }
        // SQLite orders blobs by memcmp, then length, as the listing is sorted; checked, not assumed,
        // since the walk merges the two lists.
        if !zip(children, children.dropFirst()).allSatisfy({ FileSystem.bytewiseLess($0.name, $1.name) }) {
            children.sort { FileSystem.bytewiseLess($0.name, $1.name) }
        }
        return children
    }

    /// The version numbered `sequence`, as recorded, under `path`.
    func version(sequence: Int64, path: [UInt8]) throws(StoreError) -> FileVersion {
        let statement = try database.prepare("SELECT \(Catalog.versionColumns) FROM versions v WHERE v.sequence = ?")
        try statement.bind([.integer(sequence)])
        guard try statement.step() else { throw .corrupt("version \(sequence) of \(FileSystem.display(path)) is missing from the catalog") }
        return try version(from: statement, path: path)
    }

    /// Calls `body` for each entry of the folder's state as of `sequence` (the newest version of each
    /// name at or before it, deletions left out), in bytewise path order, so parents come first.
    /// One query: SQLite builds the paths of the names that have children down the tree (only those,
    /// so the recursion stays small), joins every name to its parent's path, and sorts.
    public func forEachEntry(folder: Int64, asOf sequence: Int64, _ body: (FileVersion) throws -> Void) throws {
        let statement = try database.prepare("""
            WITH RECURSIVE directories(id, path) AS (
                SELECT 0, NULL
                UNION ALL
                SELECT n.id, CASE WHEN d.id = 0 THEN n.name ELSE CAST(d.path || x'2f' || n.name AS BLOB) END
                FROM directories d JOIN names n ON n.folder = ?1 AND n.parent = d.id
                WHERE n.id IN (SELECT parent FROM names WHERE folder = ?1)
            )
            SELECT CASE WHEN d.id = 0 THEN n.name ELSE CAST(d.path || x'2f' || n.name AS BLOB) END AS full_path,
                   \(Catalog.versionColumns)
            FROM directories d JOIN names n ON n.folder = ?1 AND n.parent = d.id
            JOIN versions v ON v.sequence = (SELECT max(x.sequence) FROM versions x WHERE x.name = n.id AND x.sequence <= ?2)
            WHERE v.deleted = 0 ORDER BY full_path
            """)
        try statement.bind([.integer(folder), .integer(sequence)])
        while try statement.step() { try body(try version(from: statement, first: 1, path: statement.blob(0))) }
    }

    /// Every recorded version of one path, oldest first.
    public func history(folder: Int64, path: [UInt8]) throws(StoreError) -> [FileVersion] {
        guard let nameID = try existingNameID(folder: folder, path: path) else { return [] }
        let statement = try database.prepare("SELECT \(Catalog.versionColumns) FROM versions v WHERE v.name = ? ORDER BY v.sequence")
        try statement.bind([.integer(nameID)])
        var result: [FileVersion] = []
        while try statement.step() { result.append(try version(from: statement, path: path)) }
        return result
    }

    /// Versions with sequence in (after, through], oldest first, with their folder's row id.
    public func versions(after: Int64, through: Int64, _ body: (Int64, FileVersion) throws -> Void) throws {
        let statement = try database.prepare("""
            SELECT n.folder, n.parent, n.name, \(Catalog.versionColumns) FROM versions v JOIN names n ON n.id = v.name
            WHERE v.sequence > ? AND v.sequence <= ? ORDER BY v.sequence
            """)
        try statement.bind([.integer(after), .integer(through)])
        var paths = DirectoryPaths(catalog: self)
        while try statement.step() {
            let path = try statement.withBlob(2) { name throws(StoreError) in try paths.path(parent: statement.int64(1), name: name) }
            try body(statement.int64(0), try version(from: statement, first: 3, path: path))
        }
    }

    /// Up to `limit` versions with sequence above `after`, oldest first, with their folder's path.
    public func versionBatch(after: Int64, limit: Int) throws(StoreError) -> [(folder: [UInt8], version: FileVersion)] {
        let statement = try database.prepare("""
            SELECT f.path, n.parent, n.name, \(Catalog.versionColumns) FROM versions v JOIN names n ON n.id = v.name
            JOIN folders f ON f.id = n.folder WHERE v.sequence > ? ORDER BY v.sequence LIMIT ?
            """)
        try statement.bind([.integer(after), .integer(Int64(limit))])
        var paths = DirectoryPaths(catalog: self)
        var result: [([UInt8], FileVersion)] = []
        while try statement.step() {
            let path = try statement.withBlob(2) { name throws(StoreError) in try paths.path(parent: statement.int64(1), name: name) }
            result.append((statement.blob(0), try version(from: statement, first: 3, path: path)))
        }
        return result
    }

    /// The versions, not deletions, whose content is `hash` (a block ID for one-block files, else a
    /// block list hash), with their folder's row id and the sequence of the version that replaced
    /// them (nil while they are the latest).
    public func versions(withContent hash: BlockID) throws(StoreError) -> [(folder: Int64, version: FileVersion, replacedAt: Int64?)] {
        let statement = try database.prepare("""
            SELECT n.folder, n.parent, n.name, \(Catalog.versionColumns),
                   (SELECT min(x.sequence) FROM versions x WHERE x.name = v.name AND x.sequence > v.sequence)
            FROM versions v JOIN names n ON n.id = v.name
            WHERE v.blocks > 0 AND v.deleted = 0 AND v.blocklist = ?
            """)
        try statement.bind(hash, at: 1)
        var paths = DirectoryPaths(catalog: self)
        var result: [(Int64, FileVersion, Int64?)] = []
        while try statement.step() {
            let path = try statement.withBlob(2) { name throws(StoreError) in try paths.path(parent: statement.int64(1), name: name) }
            let replaced = 3 + Catalog.versionColumnCount
            let replacedAt: Int64? = statement.isNull(replaced) ? nil : statement.int64(replaced)
            result.append((statement.int64(0), try version(from: statement, first: 3, path: path), replacedAt))
        }
        return result
    }

    public func hasVersion(sequence: Int64) throws(StoreError) -> Bool {
        try database.scalar("SELECT 1 FROM versions WHERE sequence = ?", [.integer(sequence)]) != nil
    }

    public func maximumSequence() throws(StoreError) -> Int64 {
        try database.scalar("SELECT max(sequence) FROM versions") ?? 0
    }
}
