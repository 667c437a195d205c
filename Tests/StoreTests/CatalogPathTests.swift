import Chunker
import Testing
import TestSupport
@testable import Store
#if canImport(Glibc)
import Glibc
#endif

/// Names are stored one path component each under their parent; every query that gives paths
/// builds them back. These check that they come back exact, in bytewise order, on shapes of tree
/// that could trip the rebuilding.
@Suite struct CatalogPathTests {
    /// A catalog with one folder, recording versions by path the way the backup's committer does.
    final class Recorder {
        let directory: TemporaryDirectory
        let catalog: Catalog
        let folder: Int64
        var names: NameResolver

        init(folderPath: [UInt8] = Array("/src".utf8)) throws {
            directory = try TemporaryDirectory(prefix: "blockvault-paths")
            catalog = try Catalog(path: directory.path(for: "catalog.db"))
            folder = try #require(try catalog.folderID(path: folderPath, create: true))
            names = NameResolver(catalog: catalog, folder: folder)
        }

        @discardableResult
        func record(_ path: [UInt8], _ type: EntryType = .file, size: Int64 = 0, deleted: Bool = false) throws -> Int64 {
            var version = FileVersion(path: path, type: type, size: size, mode: 0o644, deleted: deleted,
                                      version: VersionVector().updated(by: 0xABCD, nowSeconds: 1_800_000_000), modifiedBy: 0xABCD)
            let nameID = try names.nameID(for: path, isDirectory: type == .directory)
            version.sequence = try catalog.insertVersion(version, nameID: nameID)
            return version.sequence
        }

        @discardableResult
        func record(_ path: String, _ type: EntryType = .file, size: Int64 = 0, deleted: Bool = false) throws -> Int64 {
            try record(Array(path.utf8), type, size: size, deleted: deleted)
        }

        /// The folder's state as of `sequence` (default: everything), in the order listed.
        func state(_ sequence: Int64 = .max) throws -> [FileVersion] {
            var entries: [FileVersion] = []
            try catalog.forEachEntry(folder: folder, asOf: sequence) { entries.append($0) }
            return entries
        }

        /// Every version in sequence order, through the two readers that find paths by parent links.
        func allVersions() throws -> (metadata: [FileVersion], batch: [FileVersion]) {
            var metadata: [FileVersion] = []
            try catalog.versions(after: 0, through: .max) { _, version in metadata.append(version) }
            return (metadata, try catalog.versionBatch(after: 0, limit: 1 << 20).map(\.version))
        }
    }

    @Test func aDeepTreeComesBackWithItsFullPaths() throws {
        let recorder = try Recorder()
        var directories: [[UInt8]] = []
        var path: [UInt8] = []
        for level in 0..<300 {
            path += (path.isEmpty ? [] : [UInt8(ascii: "/")]) + Array("d\(level)".utf8)
            directories.append(path)
        }
        // Only the deepest file is recorded first: its parents are interned on the way.
        let deepFile = path + Array("/leaf.txt".utf8)
        try recorder.record(deepFile, size: 7)
        for directory in directories { try recorder.record(directory, .directory) }
        let state = try recorder.state()
        #expect(state.map(\.path) == directories + [deepFile])
        #expect(try recorder.catalog.history(folder: recorder.folder, path: deepFile).map(\.size) == [7])
        let (metadata, batch) = try recorder.allVersions()
        #expect(metadata.map(\.path) == [deepFile] + directories)
        #expect(batch == metadata)
        let deepest = try #require(try recorder.catalog.existingNameID(folder: recorder.folder, path: directories.last!))
        let children = try recorder.catalog.latestChildren(folder: recorder.folder, parent: deepest, directory: directories.last!)
        #expect(children.keys.map(\.bytes) == [deepFile])
    }

    @Test func listingsAreInBytewisePathOrderNotTreeOrder() throws {
        let recorder = try Recorder()
        // Bytes below '/' (space, '-', '.') sort a sibling between a directory and its children.
        let paths = ["a", "a/x", "a/x/y", "a b", "a b/z", "a-b", "a.txt", "a0", "A", "b", "b/-", "b/a", "~", "a/x.d", "a/x-"]
        let directories: Set = ["a", "a/x", "a b", "b"]
        for path in paths { try recorder.record(path, directories.contains(path) ? .directory : .file) }
        try recorder.record([0xFF, 0x2E], .file)
        try recorder.record([0x61, 0x2F, 0x80], .file)   // a/\x80
        let expected = (paths.map { Array($0.utf8) } + [[0xFF, 0x2E], [0x61, 0x2F, 0x80]]).sorted(by: FileSystem.bytewiseLess)
        #expect(try recorder.state().map(\.path) == expected)
    }

    @Test func namesThatAreNotUTF8ComeBackByteForByte() throws {
        let recorder = try Recorder(folderPath: [0x2F, 0x74, 0xE9])   // "/t\xe9" (Latin-1)
        let directory: [UInt8] = [0xFF, 0xFE, 0x20]
        let file = directory + [0x2F, 0x80, 0x00, 0x41]             // a NUL inside a name survives too
        try recorder.record(directory, .directory)
        try recorder.record(file, size: 3)
        #expect(try recorder.state().map(\.path) == [directory, file])
        #expect(try recorder.catalog.history(folder: recorder.folder, path: file).map(\.path) == [file])
        let (metadata, batch) = try recorder.allVersions()
        #expect(metadata.map(\.path) == [directory, file])
        #expect(batch.map(\.path) == [directory, file])
        #expect(try recorder.catalog.versionBatch(after: 0, limit: 1).first?.folder == [0x2F, 0x74, 0xE9])
        // Prefixes of a name, or a path through a file, are not names.
        #expect(try recorder.catalog.existingNameID(folder: recorder.folder, path: [0xFF, 0xFE]) == nil)
        #expect(try recorder.catalog.existingNameID(folder: recorder.folder, path: file + [0x2F, 0x41]) == nil)
        #expect(try recorder.catalog.history(folder: recorder.folder, path: directory + [0x2F]).isEmpty)
    }

    @Test func aNameReusedAfterDeletionKeepsOneHistory() throws {
        let recorder = try Recorder()
        let first = try recorder.record("x", size: 1)
        let gone = try recorder.record("x", size: 1, deleted: true)
        let again = try recorder.record("x", size: 3)
        #expect(try recorder.catalog.database.scalar("SELECT count(*) FROM names") == 1)
        #expect(try recorder.state(first).map(\.size) == [1])
        #expect(try recorder.state(gone).isEmpty)
        #expect(try recorder.state(again).map(\.size) == [3])
        #expect(try recorder.catalog.history(folder: recorder.folder, path: Array("x".utf8)).map(\.deleted) == [false, true, false])
    }

    @Test func aFileReplacedByADirectoryOfTheSameName() throws {
        let recorder = try Recorder()
        let asFile = try recorder.record("x", size: 5)
        try recorder.record("x", .directory)
        let asDirectory = try recorder.record("x/y", size: 2)
        try recorder.record("x/y", size: 2, deleted: true)
        let fileAgain = try recorder.record("x", size: 9)
        #expect(try recorder.state(asFile).map(\.displayPath) == ["x"])
        #expect(try recorder.state(asDirectory).map { "\($0.displayPath):\($0.type.name)" } == ["x:dir", "x/y:file"])
        #expect(try recorder.state(fileAgain).map { "\($0.displayPath):\($0.size)" } == ["x:9"])
        let x = try #require(try recorder.catalog.existingNameID(folder: recorder.folder, path: Array("x".utf8)))
        let children = try recorder.catalog.latestChildren(folder: recorder.folder, parent: x, directory: Array("x".utf8))
        #expect(children.mapValues(\.version.deleted) == [PathKey(Array("x/y".utf8)): true])
        #expect(try recorder.allVersions().metadata.map(\.displayPath) == ["x", "x", "x/y", "x/y", "x"])
    }

    /// The same shapes through real backups: the walker's per-directory lookups find what the
    /// committer recorded, and each snapshot lists exactly what the tree held.
    @Test func backupsOfATreeThatChangesShape() throws {
        let directory = try TemporaryDirectory(prefix: "blockvault-paths")
        let source = directory.path(for: "src")
        try directory.makeDirectory("src")
        try Vault.create(at: directory.path(for: "v"))
        let vault = try Vault(path: directory.path(for: "v"))
        func backup() throws -> [String] {
            _ = try Backup(vault: vault).run(directory: source)
            let (folder, snapshot) = try vault.snapshot("latest")
            return try vault.entries(of: snapshot, folder: folder).map { "\($0.displayPath):\($0.type.name)" }
        }
        try directory.write([1], to: "src/x")
        try directory.makeDirectory("src/a")
        try directory.write([2], to: "src/a/deep")
        try directory.write([3], to: "src/a.b")
        #expect(try backup() == ["a:dir", "a.b:file", "a/deep:file", "x:file"])

        unlink(source + "/x")
        try directory.makeDirectory("src/x")
        try directory.write([4], to: "src/x/inside")
        unlink(source + "/a/deep")
        rmdir(source + "/a")
        try directory.write([5], to: "src/a")
        #expect(try backup() == ["a:file", "a.b:file", "x:dir", "x/inside:file"])

        unlink(source + "/a")
        try directory.makeDirectory("src/a")
        try directory.write([6], to: "src/a/deep")
        #expect(try backup() == ["a:dir", "a.b:file", "a/deep:file", "x:dir", "x/inside:file"])
        #expect(try backup() == ["a:dir", "a.b:file", "a/deep:file", "x:dir", "x/inside:file"], "nothing changed")
        let deep = try vault.history(of: Array("a/deep".utf8))
        #expect(deep.map(\.version.deleted) == [false, true, false], "a/deep was deleted with its directory, then came back")
        #expect(try vault.catalog.database.scalar("SELECT count(*) FROM names") == 5)
    }
}
