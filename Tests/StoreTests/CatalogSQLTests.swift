import Chunker
import Foundation
import Testing
import TestSupport
@testable import Store

/// The catalog answers by name: each question and command that used to be SQL written elsewhere,
/// against a real catalog in a temporary directory; and no file outside `Store/Catalog/` holds the
/// connection.
@Suite struct CatalogSQLTests {
    func block(_ seed: Int) -> BlockID { SHA256Hasher.hash(Array("block \(seed)".utf8)) }

    func file(_ path: String, blocks: [BlockID], list: BlockID? = nil, deleted: Bool = false) -> FileVersion {
        var version = FileVersion(path: Array(path.utf8), type: .file, size: Int64(blocks.count), mode: 0o644, deleted: deleted)
        version.blockCount = blocks.count
        version.blockListHash = blocks.count == 1 ? blocks[0] : list
        return version
    }

    /// Records `version` under a name of its own in `folder`.
    @discardableResult
    func record(_ version: FileVersion, in catalog: Catalog, folder: Int64) throws -> Int64 {
        let name = try catalog.nameID(folder: folder, parent: 0, name: version.path)
        return try catalog.insertVersion(version, nameID: name)
    }

    @Test func totalsCountDataBlocksOnceAndSharedFramesOnce() throws {
        let directory = try TemporaryDirectory()
        let catalog = try Catalog(path: directory.path(for: "catalog.db"))
        let folder = try #require(try catalog.folderID(path: Array("/src".utf8), create: true))
        try catalog.transaction {
            try catalog.insertPack(SealedPack(name: "data-1", kind: .data, size: 5000, entries: [
                PackEntry(id: block(1), offset: 0, storedLength: 100, rawLength: 400, encoding: .zstd),
                PackEntry(id: block(2), offset: 100, storedLength: 50, rawLength: 60, encoding: .zstdDictionary),
                // Two blocks of one shared frame: its 300 stored bytes count once.
                PackEntry(id: block(3), offset: 150, storedLength: 300, rawLength: 700, encoding: .zstdShared, skip: 0),
                PackEntry(id: block(4), offset: 150, storedLength: 300, rawLength: 500, encoding: .zstdShared, skip: 700),
            ]))
            try catalog.insertPack(SealedPack(name: "meta-1", kind: .metadata, size: 900, entries: [
                PackEntry(id: block(5), offset: 0, storedLength: 80, rawLength: 200, encoding: .zstd),
            ]))
            try record(file("a", blocks: [block(1)]), in: catalog, folder: folder)
            try record(file("b", blocks: [block(2)]), in: catalog, folder: folder)
            try record(file("b", blocks: [], deleted: true), in: catalog, folder: folder)
        }
        var expected = Catalog.Totals()
        expected.versions = 3
        expected.dataBlocks = 4
        expected.packs = 2
        expected.uniqueDataBytes = 400 + 60 + 700 + 500
        expected.storedDataBytes = 100 + 50 + 300
        expected.packBytes = 5900
        expected.dictionaryBlocks = 1
        #expect(try catalog.totals() == expected)
        #expect(try Catalog(path: directory.path(for: "empty.db")).totals() == Catalog.Totals())
    }

    @Test func blockListsContainingNameEachListWithTheBlocksItHolds() throws {
        let directory = try TemporaryDirectory()
        let catalog = try Catalog(path: directory.path(for: "catalog.db"))
        let first = [block(1), block(2), block(3)].flatMap(\.bytes)
        let second = [block(3), block(4), block(3)].flatMap(\.bytes)
        let (firstHash, secondHash) = (SHA256Hasher.hash(first), SHA256Hasher.hash(second))
        try catalog.transaction {
            try catalog.insertBlockList(hash: firstHash, ids: first, size: 3)
            try catalog.insertBlockList(hash: secondHash, ids: second, size: 3)
        }
        #expect(try catalog.blockLists(containing: [block(3), block(9)]) == [firstHash: [block(3)], secondHash: [block(3), block(3)]])
        #expect(try catalog.blockLists(containing: [block(1), block(4)]) == [firstHash: [block(1)], secondHash: [block(4)]])
        #expect(try catalog.blockLists(containing: [block(9)]).isEmpty)
        #expect(try catalog.blockLists(containing: []).isEmpty)
    }

    @Test func absentReferencedBlocksAreThoseLiveVersionsNeedAndNoPackHas() throws {
        let directory = try TemporaryDirectory()
        let catalog = try Catalog(path: directory.path(for: "catalog.db"))
        let folder = try #require(try catalog.folderID(path: Array("/src".utf8), create: true))
        let list = [block(1), block(2)].flatMap(\.bytes)
        let listHash = SHA256Hasher.hash(list)
        let lostList = SHA256Hasher.hash(Array("a block list nobody stored".utf8))
        try catalog.transaction {
            try catalog.insertPack(SealedPack(name: "data-1", kind: .data, size: 100, entries: [
                PackEntry(id: block(1), offset: 0, storedLength: 10, rawLength: 10, encoding: .raw),
                PackEntry(id: block(3), offset: 10, storedLength: 10, rawLength: 10, encoding: .raw),
            ]))
            try catalog.insertBlockList(hash: listHash, ids: list, size: 2)
            try record(file("indexed", blocks: [block(3)]), in: catalog, folder: folder)
            try record(file("single", blocks: [block(4)]), in: catalog, folder: folder)
            try record(file("listed", blocks: [block(1), block(2)], list: listHash), in: catalog, folder: folder)
            try record(file("unlisted", blocks: [block(6), block(7)], list: lostList), in: catalog, folder: folder)
            // A deletion names no content; an empty file has none.
            try record(file("gone", blocks: [block(5)], deleted: true), in: catalog, folder: folder)
            try record(file("empty", blocks: []), in: catalog, folder: folder)
        }
        #expect(try catalog.absentReferencedBlocks() == [block(4), block(2), lostList])
    }

    @Test func integrityIsIntactForAHealthyCatalogAndDamagedWhenATableAndItsIndexDisagree() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path(for: "catalog.db")
        let catalog = try Catalog(path: path)
        #expect(try catalog.integrity() == .intact)
        try catalog.transaction {
            for index in 1000..<1100 { _ = try catalog.folderID(path: Array("/folder/\(index)".utf8), create: true) }
        }
        #expect(try catalog.integrity() == .intact)
        try catalog.checkpointAndClose()

        // A folder's path is stored twice, in its row and in the index over paths: one byte of the
        // row changed leaves a file every page of which still reads, but the two disagree.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let needle = Array("/folder/1042".utf8)
        let found = (0...(bytes.count - needle.count)).filter { bytes[$0..<($0 + needle.count)].elementsEqual(needle) }
        try #require(found.count == 2)
        bytes[found[0] + needle.count - 1] = UInt8(ascii: "9")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        guard case .damaged(let lines) = try Catalog(path: path, writable: false, readOnly: true).integrity() else {
            Issue.record("a row that disagrees with its index passes the integrity check")
            return
        }
        #expect(!lines.isEmpty && lines != ["ok"])
    }

    @Test func aBatchTransactionRecordsTheVaultInTheWAL() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path(for: "catalog.db")
        let vaultID = String(repeating: "ab", count: 16)
        try Catalog(path: path, vaultID: vaultID).checkpointAndClose()
        let catalog = try Catalog(path: path, vaultID: vaultID)
        #expect(Catalog.vaultIDs(inWALOf: path).isEmpty, "the checkpoint left an empty log, and opening writes nothing")

        try catalog.beginTransaction()
        try catalog.setSetting("batch", 1)
        try catalog.commitTransaction()
        #expect(Catalog.vaultIDs(inWALOf: path) == [vaultID], "the committer's transactions name the vault like every other")
        #expect(try catalog.setting("batch") == 1)

        try catalog.beginTransaction()
        try catalog.setSetting("batch", 2)
        catalog.rollbackTransaction()
        #expect(try catalog.setting("batch") == 1, "a rolled back batch leaves nothing")
        catalog.rollbackTransaction()   // none open: nothing happens
        try catalog.transaction { try catalog.setSetting("batch", 3) }
        #expect(try catalog.setting("batch") == 3)
    }

    @Test func missingBlocksAndPendingDeletionsAreRememberedAndForgottenByName() throws {
        let directory = try TemporaryDirectory()
        let catalog = try Catalog(path: directory.path(for: "catalog.db"))
        try catalog.transaction {
            try catalog.rememberMissing([block(1), block(2), block(1)])
            try catalog.rememberMissing([block(2)])
        }
        #expect(try catalog.missingBlocks() == [block(1), block(2)])

        let markPending = try catalog.database.prepare("INSERT INTO pending_deletions(name) VALUES(?)")
        for name in ["p-1", "p-2"] { try markPending.run([.text(name)]) }
        #expect(try catalog.pendingDeletions() == ["p-1", "p-2"])
        try catalog.transaction { try catalog.clearPendingDeletions() }
        try catalog.transaction { try catalog.clearPendingDeletions() }
        #expect(try catalog.pendingDeletions().isEmpty)
    }

    @Test func checkpointAndCloseLeavesTheWholeCatalogInItsFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path(for: "catalog.db")
        let catalog = try Catalog(path: path)
        try catalog.transaction { try catalog.setSetting("kept", 7) }
        #expect(FileSystem.lstat(Array((path + "-wal").utf8)).map(\.st_size) ?? 0 > 0)
        try catalog.checkpointAndClose()
        #expect(FileSystem.lstat(Array((path + "-wal").utf8)).map(\.st_size) ?? 0 == 0, "an empty log, or none")
        // The file alone, copied where no log follows it, holds what was committed.
        let copy = directory.path(for: "copy.db")
        try Data(contentsOf: URL(fileURLWithPath: path)).write(to: URL(fileURLWithPath: copy))
        #expect(try Catalog(path: copy).setting("kept") == 7)
        #expect(throws: StoreError.self, "a closed catalog answers nothing") { try catalog.setting("kept") }
    }

    @Test func aClosedCatalogAnswersNothingAndClosingTwiceIsHarmless() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path(for: "catalog.db")
        let catalog = try Catalog(path: path)
        try catalog.transaction { try catalog.setSetting("kept", 8) }
        catalog.close()
        catalog.close()
        #expect(throws: StoreError.self) { try catalog.setting("kept") }
        #expect(try Catalog(path: path).setting("kept") == 8)
    }

    /// SQL lives in `Store/Catalog/`: no other source file reaches the connection (`database.`),
    /// or holds it (`.database`).
    @Test func onlyTheCatalogFilesUseTheConnection() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources")
        let files = try FileManager.default.subpathsOfDirectory(atPath: sources.path).filter { $0.hasSuffix(".swift") }
        #expect(files.contains("Store/Catalog/Catalog.swift"), "the scan reads the Sources tree")
        #expect(files.count > 50)
        // Not `\b`: Swift's default word boundaries (Unicode's) read `catalog.database.execute` as one word.
        let connection = try Regex(#"(^|[^A-Za-z0-9_])database\.[A-Za-z_]|\.database($|[^A-Za-z0-9_])"#)
        for use in ["catalog.database.prepare(", "try database.execute(", "let database = catalog.database", "f(vault.catalog.database)"] {
            #expect(use.contains(connection), "the scan finds \(use)")
        }
        for text in ["the database. Then", "Database.isDiskError(error)", "catalog.databaseSize"] {
            #expect(!text.contains(connection), "the scan lets \(text) be")
        }
        var offenders: [String: [String]] = [:]
        for file in files where !file.hasPrefix("Store/Catalog/") {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            for (number, line) in lines.enumerated() where line.contains(connection) {
                offenders[file, default: []].append("\(number + 1): \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
        #expect(offenders.isEmpty, "SQL outside Store/Catalog/ (ask Catalog by name instead): \(offenders.sorted { $0.key < $1.key })")
    }
}
