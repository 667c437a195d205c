import Chunker
import Testing
import TestSupport
@testable import Store

/// Catalogs written by earlier versions open with this one and read back the same.
@Suite struct CatalogMigrationTests {
    /// Schema 4 as blockvault 0.2 created it: full paths in `names` with a 64-bit FNV-1a hash of
    /// each, a folder in every version, vectors of 16-byte (short device id, counter) pairs and
    /// `modified_by` as a short device id.
    static let schemaFour = """
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
        CREATE TABLE missing_blocks(hash BLOB PRIMARY KEY) STRICT, WITHOUT ROWID;
        CREATE TABLE pending_deletions(name TEXT PRIMARY KEY) STRICT;
        CREATE TABLE settings_text(key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
        PRAGMA user_version=4;
        """

    static let ownDevice = "3bbac227f62d0568f4b566832b27de25f81ba763556f67f188bfc08b4565d79d"
    static let own: UInt64 = 0x3BBA_C227_F62D_0568
    /// A master's device, met only in the vectors a replica received; its top bit is set.
    static let foreign: UInt64 = 0xF00D_F00D_F00D_F00D

    /// A schema-4 catalog as 0.2 wrote it, and the versions it holds.
    struct OldCatalog {
        let path: String
        var versions: [(folder: Int64, version: FileVersion)] = []
        var names: [[UInt8]: Int64] = [:]   // "folder:path" → name id
        let database: Database

        init(path: String) throws {
            self.path = path
            database = try Database(path: path)
            try database.execute(CatalogMigrationTests.schemaFour)
            try database.execute("INSERT INTO folders(id, path) VALUES(1, CAST('/src' AS BLOB)), (2, x'2fff')")
            try database.prepare("INSERT INTO devices(device_id, short_id) VALUES(?, ?)")
                .run([.blob(Array(CatalogMigrationTests.ownDevice.utf8)), .integer(Int64(bitPattern: CatalogMigrationTests.own))])
        }

        /// Records a version the way 0.2's `NameResolver` and `insertVersion` did.
        mutating func record(folder: Int64, _ path: [UInt8], _ type: EntryType = .file, size: Int64 = 0, deleted: Bool = false,
                             vector: VersionVector, modifiedBy: UInt64) throws {
            var version = FileVersion(path: path, type: type, size: size, mode: 0o640, uid: 1000, gid: 100,
                                      modificationTime: 1_795_278_912_130_246_025 + size, changeTime: -5, inode: .max - 1,
                                      device: 65024, linkCount: 2, deleted: deleted, version: vector,
                                      blockListHash: type == .file && !deleted ? SHA256Hasher.hash(path) : nil,
                                      linkTarget: type == .symlink ? [0xC3, 0x28] : nil, modifiedBy: modifiedBy)
            version.blockCount = version.blockListHash == nil ? 0 : 1
            let nameID = try name(folder: folder, path)
            try database.prepare("""
                INSERT INTO versions(folder, name, type, size, mode, uid, gid, mtime_ns, ctime_ns, inode, device, nlink,
                                     deleted, version, blocklist, link_target, modified_by, blocks)
                VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).run([.integer(folder), .integer(nameID), .integer(Int64(type.rawValue)), .integer(size),
                          .integer(Int64(version.mode)), .integer(Int64(version.uid)), .integer(Int64(version.gid)),
                          .integer(version.modificationTime), .integer(version.changeTime),
                          .integer(Int64(bitPattern: version.inode)), .integer(Int64(bitPattern: version.device)),
                          .integer(Int64(version.linkCount)), .integer(deleted ? 1 : 0), .blob(vector.encoded),
                          version.blockListHash.map { SQLValue.blob($0.bytes) } ?? .null, version.linkTarget.map { SQLValue.blob($0) } ?? .null,
                          .integer(Int64(bitPattern: modifiedBy)), .integer(Int64(version.blockCount))])
            version.sequence = database.lastInsertRowID
            versions.append((folder, version))
        }

        private mutating func name(folder: Int64, _ path: [UInt8]) throws -> Int64 {
            let key = Array("\(folder):".utf8) + path
            if let known = names[key] { return known }
            var parent: Int64 = 0
            if let slash = path.lastIndex(of: UInt8(ascii: "/")) { parent = try name(folder: folder, Array(path[..<slash])) }
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325
            for byte in path { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
            try database.prepare("INSERT INTO names(folder, parent, hash, name) VALUES(?, ?, ?, ?)")
                .run([.integer(folder), .integer(parent), .integer(Int64(bitPattern: hash)), .blob(path)])
            names[key] = database.lastInsertRowID
            return database.lastInsertRowID
        }
    }

    static func vector(_ counters: [(UInt64, UInt64)]) -> VersionVector {
        VersionVector(counters: counters.map { VersionVector.Counter(device: $0.0, value: $0.1) })
    }

    /// Two folders holding the same path, nested directories, names that are not UTF-8 (with a NUL
    /// in one), names one of which prefixes another, a deleted and recreated file, a file that became
    /// a directory, and vectors with one device, two, or none.
    static func makeOldCatalog(at path: String) throws -> OldCatalog {
        var old = try OldCatalog(path: path)
        let one = vector([(own, 1_795_293_776)])
        let two = vector([(own, 1_795_293_780), (foreign, 1_795_000_000)])
        try old.record(folder: 1, Array("docs".utf8), .directory, vector: one, modifiedBy: own)
        try old.record(folder: 1, Array("docs/a.txt".utf8), size: 10, vector: one, modifiedBy: own)
        try old.record(folder: 1, Array("docs/sub/\u{00E9}t\u{00E9}.md".utf8), size: 11, vector: two, modifiedBy: foreign)
        try old.record(folder: 1, Array("docs/sub".utf8), .directory, vector: one, modifiedBy: own)
        try old.record(folder: 1, [0x64, 0x6F, 0x63, 0x73, 0x2F, 0x73, 0x75, 0x62, 0x2F, 0xFF, 0xFE, 0x00, 0x2E], size: 12, vector: one, modifiedBy: own)
        try old.record(folder: 1, Array("docs.txt".utf8), size: 13, vector: VersionVector(), modifiedBy: 0)
        try old.record(folder: 1, Array("docs-link".utf8), .symlink, size: 2, vector: two, modifiedBy: own)
        try old.record(folder: 2, Array("docs".utf8), .directory, vector: two, modifiedBy: foreign)
        try old.record(folder: 2, Array("docs/x".utf8), size: 14, vector: two, modifiedBy: foreign)
        try old.record(folder: 1, Array("docs/a.txt".utf8), size: 10, deleted: true, vector: two, modifiedBy: own)
        try old.record(folder: 1, Array("docs/a.txt".utf8), size: 15, vector: two, modifiedBy: own)
        try old.record(folder: 1, [0x80], size: 16, vector: one, modifiedBy: own)
        try old.record(folder: 1, [0x80], .directory, vector: one, modifiedBy: own)
        try old.record(folder: 1, [0x80, 0x2F, 0x79], size: 17, vector: one, modifiedBy: own)
        old.database.close()
        return old
    }

    @Test func aSchemaFourCatalogReadsBackTheSameAfterMigrating() throws {
        let directory = try TemporaryDirectory(prefix: "blockvault-migration")
        let old = try Self.makeOldCatalog(at: directory.path(for: "catalog.db"))
        let catalog = try Catalog(path: old.path)
        #expect(try catalog.database.scalar("PRAGMA user_version") == Catalog.schemaVersion)

        // Every version, with its path, vector and modified-by, in sequence order.
        var all: [(Int64, FileVersion)] = []
        try catalog.versions(after: 0, through: .max) { all.append(($0, $1)) }
        #expect(all.map(\.0) == old.versions.map(\.folder))
        #expect(all.map(\.1) == old.versions.map(\.version))
        #expect(try catalog.versionBatch(after: 0, limit: 100).map(\.version) == old.versions.map(\.version))
        for (folder, version) in old.versions {
            #expect(try catalog.history(folder: folder, path: version.path) == old.versions.filter { $0.folder == folder && $0.version.path == version.path }.map(\.version))
        }

        // Each folder's state at every sequence: the newest version of each path, in bytewise order.
        for folder: Int64 in [1, 2] {
            for sequence in 0...Int64(old.versions.count) {
                var latest: [[UInt8]: FileVersion] = [:]
                for (owner, version) in old.versions where owner == folder && version.sequence <= sequence { latest[version.path] = version }
                let expected = latest.values.filter { !$0.deleted }.sorted { FileSystem.bytewiseLess($0.path, $1.path) }
                var state: [FileVersion] = []
                try catalog.forEachEntry(folder: folder, asOf: sequence) { state.append($0) }
                #expect(state == expected, "folder \(folder) as of \(sequence)")
            }
        }

        // Devices: the own one keeps its full id; the master's, met only in vectors, has its short id.
        let devices = try catalog.database.prepare("SELECT short_id, device_id IS NOT NULL FROM devices ORDER BY id")
        var rows: [(UInt64, Bool)] = []
        while try devices.step() { rows.append((UInt64(bitPattern: devices.int64(0)), devices.int64(1) != 0)) }
        #expect(rows.map(\.0) == [Self.own, Self.foreign, 0])
        #expect(rows.map(\.1) == [true, false, false])

        // Writing on: names are found again, not duplicated.
        var resolver = NameResolver(catalog: catalog, folder: 1)
        let nested: [UInt8] = [0x64, 0x6F, 0x63, 0x73, 0x2F, 0x73, 0x75, 0x62, 0x2F, 0xFF, 0xFE, 0x00, 0x2E]
        #expect(try resolver.nameID(for: nested) == old.names[Array("1:".utf8) + nested])
        #expect(try resolver.nameID(for: Array("docs".utf8)) == old.names[Array("1:docs".utf8)])
        #expect(try catalog.database.scalar("SELECT count(*) FROM names") == Int64(old.names.count))
    }

    @Test func aMigratedCatalogHasTheSchemaOfANewOne() throws {
        let directory = try TemporaryDirectory(prefix: "blockvault-migration")
        let migrated = try Catalog(path: try Self.makeOldCatalog(at: directory.path(for: "old.db")).path)
        let fresh = try Catalog(path: directory.path(for: "new.db"))
        func shape(_ catalog: Catalog) throws -> [String] {
            var lines: [String] = []
            let objects = try catalog.database.prepare("SELECT type, name, tbl_name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
            var tables: [String] = []
            while try objects.step() {
                lines.append("\(objects.text(0)) \(objects.text(1)) on \(objects.text(2))")
                if objects.text(0) == "table" { tables.append(objects.text(1)) }
            }
            for table in tables {
                let columns = try catalog.database.prepare("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)")
                try columns.bind([.text(table)])
                while try columns.step() { lines.append("\(table).\(columns.text(0)) \(columns.text(1)) \(columns.int(2)) \(columns.int(3))") }
            }
            let indexes = try catalog.database.prepare("SELECT name, \"unique\" FROM pragma_index_list(?) ORDER BY name")
            for table in tables {
                try indexes.bind([.text(table)])
                while try indexes.step() { lines.append("index \(indexes.text(0)) unique \(indexes.int(1))") }
            }
            return lines
        }
        #expect(try shape(migrated) == shape(fresh))
        #expect(try migrated.database.scalar("PRAGMA freelist_count") == 0, "the old tables' pages are given back")
    }

    @Test func aCatalogWhoseNamesDoNotNestIsLeftAsItWasForRepair() throws {
        let directory = try TemporaryDirectory(prefix: "blockvault-migration")
        let path = directory.path(for: "catalog.db")
        _ = try Self.makeOldCatalog(at: path)
        let database = try Database(path: path)
        try database.execute("UPDATE names SET name = CAST('elsewhere/a.txt' AS BLOB) WHERE name = CAST('docs/a.txt' AS BLOB)")
        database.close()
        let error = #expect(throws: StoreError.self) { _ = try Catalog(path: path) }
        #expect(error?.description.contains("repair") == true)
        let after = try Database(path: path)
        #expect(try after.scalar("PRAGMA user_version") == 4, "the failed step is rolled back whole")
        #expect(try after.scalar("SELECT count(*) FROM names WHERE hash IS NOT NULL") == 11)
    }
}
