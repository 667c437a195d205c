import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEndTests {
    /// The zstd dictionary a vault trains from samples of its first backup's small files, before
    /// the backup stores anything: blocks that use it name it in their frames, and every command
    /// that reads or moves blocks (restore, check, repair, prune, push) carries it along or fails
    /// by name without it.
    @Suite("zstd dictionary")
    struct DictionaryEndToEndTests {}
}

/// Small text files alike the way a documentation or source tree's are: a shared header, then
/// prose from one vocabulary. `count` files of about 5.5 KB under `directory/name-N/`.
func writeSimilarSmallFiles(in directory: String, count: Int, name: String = "doc", seed: UInt64 = 1) throws {
    var state: UInt64 = 77
    let vocabulary = (0..<3000).map { _ in
        String((0..<Int(3 + DeterministicData.next(&state) % 7)).map { _ in
            Character(Unicode.Scalar(UInt8(97 + DeterministicData.next(&state) % 26)))
        })
    }
    func prose(_ words: Int, _ state: inout UInt64) -> String {
        (0..<words).map { index in vocabulary[Int(DeterministicData.next(&state) % 3000)] + (index % 12 == 11 ? ".\n" : " ") }.joined()
    }
    var headerState: UInt64 = 4242
    let header = "Copyright notice. " + prose(180, &headerState) + "\n"
    var fileState = seed
    for index in 0..<count {
        let subdirectory = "\(directory)/\(name)-\(index / 500)"
        if index % 500 == 0 { try Files.makeDirectory(subdirectory) }
        try Files.write("\(subdirectory)/\(index).txt", text: header + "Part \(index).\n" + prose(500 + Int(DeterministicData.next(&fileState) % 400), &fileState))
    }
}

/// What the catalog and the packs say about a vault's dictionaries.
struct DictionaryFacts {
    /// zstd dictionary ID → its metadata record (hex), from the catalog's `dictionary.<id>` settings.
    var records: [UInt32: String]
    /// Data blocks stored with encoding 2 (zstd with a dictionary).
    var blocksUsingDictionary: Int
    /// The dictionary IDs named in the frame headers of up to 50 of those blocks.
    var frameDictionaryIDs: Set<UInt32>
    var format: Int

    init(_ vault: TestVault) throws {
        let catalog = vault.path + "/catalog.db"
        var records: [UInt32: String] = [:]
        for row in try SQLiteShell.rows(catalog, "SELECT key, value FROM settings_text WHERE key LIKE 'dictionary.%'") {
            if let id = UInt32(row[0].dropFirst("dictionary.".count)) { records[id] = row[1] }
        }
        self.records = records
        blocksUsingDictionary = Int(try SQLiteShell.rows(catalog, "SELECT count(*) FROM blocks WHERE encoding = 2")[0][0]) ?? -1
        var ids = Set<UInt32>()
        for row in try SQLiteShell.rows(catalog, """
            SELECT p.name, b.offset, b.stored_length FROM blocks b JOIN packs p ON p.id = b.pack WHERE b.encoding = 2 LIMIT 50
            """) {
            let pack = "\(vault.path)/packs/\(row[0].prefix(2))/\(row[0]).pack"
            let bytes = try Files.read(pack)
            let offset = Int(row[1])!
            ids.insert(try DictionaryFacts.frameDictionaryID(Array(bytes[offset..<offset + Int(row[2])!])))
        }
        frameDictionaryIDs = ids
        let config = try JSONSerialization.jsonObject(with: Data(try Files.read(vault.path + "/config.json"))) as? [String: Any]
        format = config?["format"] as? Int ?? -1
    }

    /// The dictionary ID in a zstd frame header (RFC 8878 §3.1.1.1): magic, a descriptor byte whose
    /// low two bits give the ID's size (0, 1, 2 or 4 bytes), a window byte unless single-segment.
    static func frameDictionaryID(_ frame: [UInt8]) throws -> UInt32 {
        guard frame.count >= 6, frame[0..<4] == [0x28, 0xB5, 0x2F, 0xFD] else { throw TestFailure("not a zstd frame") }
        let descriptor = frame[4]
        let start = 5 + (descriptor & 0x20 != 0 ? 0 : 1)
        let size = [0, 1, 2, 4][Int(descriptor & 3)]
        return (0..<size).reduce(UInt32(0)) { $0 | UInt32(frame[start + $1]) << (8 * UInt32($1)) }
    }
}

extension EndToEndTests.DictionaryEndToEndTests {
    @Test("the first backup trains a dictionary and its small blocks use it; restore and check --read-data; smaller than without")
    func firstBackupTrainsAndUsesADictionary() throws {
        let life = try LifecycleVault("dict-train")
        defer { life.scratch.remove() }
        try life.writeBaseTree()
        try writeSimilarSmallFiles(in: life.source, count: 4000)
        try life.backup()
        let facts = try DictionaryFacts(life.vault)
        #expect(facts.records.count == 1, "one dictionary recorded: \(facts.records)")
        let id = try #require(facts.records.keys.first)
        #expect(facts.blocksUsingDictionary >= 4000, "every small text file uses the dictionary: \(facts.blocksUsingDictionary)")
        #expect(facts.frameDictionaryIDs == [id], "their frames name the recorded dictionary: \(facts.frameDictionaryIDs) vs \(id)")
        #expect(facts.format >= 2, "a vault holding a dictionary says so in config.json, for older builds to refuse it")
        let stats = try life.vault.expectSuccess(life.vault.run("stats", ["--json"])).decode([String: JSONValue].self)
        #expect(stats["dictionaries"] == .number(1) && stats["dictionary_blocks"] == .number(Double(facts.blocksUsingDictionary)), "\(stats)")
        try life.expectSnapshotsRestore()
        let check = try life.check(["--read-data"])
        #expect(check.succeeded, "\(check)")

        // The same tree without a dictionary takes more room (the vault is at format 3 all the same:
        // every backup by this build raises it, for the shared frames of large files).
        let plain = try TestVault.create(at: life.scratch.child("plain"))
        _ = try plain.backup(life.source, ["--no-dictionary"])
        let without = try DictionaryFacts(plain)
        #expect(without.records.isEmpty && without.blocksUsingDictionary == 0 && without.format == 3)
        let (sizeWith, sizeWithout) = (try life.vault.packBytes(), try plain.packBytes())
        #expect(sizeWith < sizeWithout * 9 / 10, "with a dictionary \(sizeWith) bytes of packs, without \(sizeWithout)")

        // A later backup loads the dictionary: every new small file uses it, none is trained again.
        try writeSimilarSmallFiles(in: life.source, count: 300, name: "later", seed: 99)
        try life.backup()
        let later = try DictionaryFacts(life.vault)
        #expect(later.records == facts.records)
        #expect(later.blocksUsingDictionary == facts.blocksUsingDictionary + 300)
        try life.expectSnapshotsRestore()
    }

    @Test("a backup with little small data trains nothing; the next one, with enough, does")
    func littleSmallDataTrainsNothing() throws {
        let life = try LifecycleVault("dict-little")
        defer { life.scratch.remove() }
        try life.writeBaseTree()
        try writeSimilarSmallFiles(in: life.source, count: 100)
        try life.backup()
        let before = try DictionaryFacts(life.vault)
        #expect(before.records.isEmpty && before.blocksUsingDictionary == 0 && before.format == 3)
        try writeSimilarSmallFiles(in: life.source, count: 4000, name: "more", seed: 5)
        try life.backup()
        let after = try DictionaryFacts(life.vault)
        #expect(after.records.count == 1 && after.blocksUsingDictionary > 0)
        try life.expectSnapshotsRestore()
    }

    @Test("push to a replica that already had history and to a fresh one: both store the dictionary, mirror the master, check --read-data clean")
    func replicasReceiveTheDictionary() throws {
        let setup = try ReplicationSetup("dict-repl", ssh: true)
        defer { setup.scratch.remove() }
        let master = setup.master
        try master.writeBaseTree()
        try master.backup()
        let earlier = try setup.makeReplica("replica-earlier")
        _ = try setup.expectPush(to: [earlier.path])   // protocol 1: the master has no dictionary yet
        #expect(try DictionaryFacts(earlier).records.isEmpty)

        try writeSimilarSmallFiles(in: master.source, count: 4000)
        try master.backup()
        try Files.append(master.source + "/docs/note-1.txt", Array("edited\n".utf8))
        try master.backup()
        let facts = try DictionaryFacts(master.vault)
        try #require(facts.records.count == 1 && facts.blocksUsingDictionary > 0)

        let fresh = try setup.makeReplica("replica-fresh")
        _ = try setup.expectPush(to: [earlier.path, try setup.peer(fresh, overSSH: true)])
        for replica in [earlier, fresh] {
            let copy = try DictionaryFacts(replica)
            #expect(Set(copy.records.keys) == Set(facts.records.keys), "\(replica.path): \(copy.records)")
            #expect(copy.blocksUsingDictionary == facts.blocksUsingDictionary && copy.frameDictionaryIDs == facts.frameDictionaryIDs)
            #expect(copy.format == 2)
            try setup.expectMirror(replica, paths: ["docs/note-1.txt", "doc-0/0.txt", "doc-7/3999.txt"], replica.path)
        }
        // A push with nothing new sends no dictionary and no block.
        let again = try setup.expectPush(to: [fresh.path])
        #expect(again[0].blocksSent == 0)
    }

    @Test("catalog.db removed: repair --apply recovers the dictionary record, every snapshot restores")
    func repairRecoversTheDictionary() throws {
        let life = try LifecycleVault("dict-repair")
        defer { life.scratch.remove() }
        try life.writeBaseTree()
        try writeSimilarSmallFiles(in: life.source, count: 4000)
        try life.backup()
        let facts = try DictionaryFacts(life.vault)
        try #require(facts.records.count == 1)
        for suffix in ["", "-wal", "-shm"] { unlink(life.catalog + suffix) }
        let repaired = try life.vault.run("repair", ["--apply", "--json"])
        let report = try repaired.decode(RepairJSON.self)
        #expect(repaired.succeeded && report.rebuilt && report.actions.first?.contains("1 zstd dictionary") == true, "\(repaired)")
        let after = try DictionaryFacts(life.vault)
        #expect(after.records == facts.records && after.blocksUsingDictionary == facts.blocksUsingDictionary)
        try life.expectSnapshotsRestore()
        let check = try life.check(["--read-data"])
        #expect(check.succeeded, "\(check)")
    }

    @Test("forget every snapshot and prune: the dictionary nothing uses goes, and the next backup trains one, uses it and restores")
    func pruneKeepsTheDictionary() throws {
        let life = try LifecycleVault("dict-prune")
        defer { life.scratch.remove() }
        try Files.write(life.source + "/random.bin", DeterministicData.bytes(count: 10_000, seed: 5))   // stored raw
        try writeSimilarSmallFiles(in: life.source, count: 4000)
        try life.backup()
        let facts = try DictionaryFacts(life.vault)
        try #require(facts.records.count == 1 && facts.blocksUsingDictionary > 0)
        // Every file that used the dictionary deleted, then every snapshot forgotten: no version
        // needs any of those blocks, and prune deletes them all.
        for index in 0..<8 { try Files.removeTree(life.source + "/doc-\(index)") }
        try life.backup()
        let forget = try life.vault.run("forget", ["--keep-tag", "none-has-it", "--prune", "--json"])
        #expect(forget.succeeded, "\(forget)")
        #expect(try life.vault.snapshots().isEmpty)
        let pruned = try DictionaryFacts(life.vault)
        #expect(pruned.blocksUsingDictionary == 0, "prune deleted every block compressed with the dictionary")
        #expect(pruned.records.isEmpty, "prune removes a dictionary no block uses (issue 18): \(pruned.records)")

        try writeSimilarSmallFiles(in: life.source, count: 500, name: "after", seed: 7)
        try life.backup()
        let after = try DictionaryFacts(life.vault)
        #expect(after.records.count == 1, "a vault without a dictionary trains one again: \(after.records)")
        #expect(after.blocksUsingDictionary == 500, "every new small file uses the new dictionary from the start")
        try life.expectSnapshotsRestore([life.taken.last!])
        let check = try life.check(["--read-data"])
        #expect(check.succeeded, "\(check)")
    }

    @Test("the dictionary's record or its pack gone: restore and check fail naming the block and the dictionary, prune refuses; no crash")
    func aMissingDictionaryIsNamed() throws {
        let life = try LifecycleVault("dict-missing")
        defer { life.scratch.remove() }
        try writeSimilarSmallFiles(in: life.source, count: 4000)
        try life.backup()
        let facts = try DictionaryFacts(life.vault)
        let (id, record) = try #require(facts.records.first)
        let dictionaryPack = try SQLiteShell.rows(life.catalog, """
            SELECT p.name FROM blocks b JOIN packs p ON p.id = b.pack WHERE b.hash = X'\(record)'
            """)[0][0]
        let withoutRecord = TestVault(path: try life.copyVault(to: "without-record"))
        try SQLiteShell.execute(withoutRecord.path + "/catalog.db", "DELETE FROM settings_text WHERE key = 'dictionary.\(id)'")
        let withoutPack = TestVault(path: try life.copyVault(to: "without-pack"))
        try Files.remove(life.packPath(dictionaryPack, in: withoutPack.path))

        for (vault, why) in [(withoutRecord, "which the vault does not have"), (withoutPack, "which cannot be loaded")] {
            let restore = try vault.run("restore", ["--target", life.scratch.child("target-\(why.count)"), "latest"])
            #expect(!restore.succeeded && !restore.signaled && restore.errorLines.count == 1, "\(restore)")
            #expect(restore.errorOutput.contains("needs zstd dictionary \(id), \(why)") && restore.errorOutput.contains("block "), "\(restore)")
            let check = try vault.run("check", ["--read-data"])
            #expect(!check.succeeded && !check.signaled && check.output.contains("zstd dictionary \(id)"), "\(check)")
        }
        let prune = try withoutPack.run("prune")
        #expect(!prune.succeeded && prune.errorOutput.contains("zstd dictionary \(id) cannot be loaded"), "\(prune)")
    }

    /// Storing a trained dictionary takes a few fsyncs on the backup's main thread before any block
    /// is compressed (the packs directory when the pack's shard is new, the pack, its directory; the
    /// vault's format was raised by the first backup): the backup is killed at each of the first five
    /// fsyncs in turn (strace counts per thread; later ones fall after the dictionary is recorded).
    @Test("kill -9 at each fsync of storing the dictionary: earlier snapshots restore, check is clean, the next backup ends with one dictionary",
          arguments: 1...5)
    func killedWhileStoringTheDictionary(fsync: Int) throws {
        let life = try LifecycleVault("dict-kill")
        defer { life.scratch.remove() }
        try life.writeBaseTree()
        try life.backup()
        try writeSimilarSmallFiles(in: life.source, count: 4000)
        let log = life.scratch.child("strace.log")
        let fault = SyscallFault(syscalls: "fsync", action: "signal=KILL", when: "\(fsync)..\(fsync)")
        let killed = try TestVault(path: life.vault.path, wrapper: try fault.wrapper(log: log)).run("backup", ["--json", life.source])
        #expect(killed.signaled && killed.status == SIGKILL, "\(fault): \(killed)")
        let state = try DictionaryFacts(life.vault)
        // The first backup raised config.json to format 3 already; the dictionary's pack is sealed
        // (its last fsync) before the dictionary is recorded.
        #expect(state.format == 3 && (fsync >= 2 || state.records.isEmpty), "killed at fsync \(fsync): \(state)")

        try life.expectSnapshotsRestore(nil, "after the kill at fsync \(fsync)")
        let check = try life.check()
        #expect(check.succeeded, "\(check)")
        try life.backup()
        let facts = try DictionaryFacts(life.vault)
        #expect(facts.records.count == 1 && facts.format == 3 && facts.frameDictionaryIDs.isSubset(of: Set(facts.records.keys)), "\(facts)")
        try life.expectSnapshotsRestore(nil, "after the next backup")
        let readData = try life.check(["--read-data"])
        #expect(readData.succeeded, "\(readData)")
    }
}
