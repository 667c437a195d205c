import Foundation
import Testing

extension EndToEndTests.LifecycleTests {
    /// The blocks of a source file, as `blockvault blocks` cuts it.
    static func blockIDs(ofFile path: String) throws -> [String] {
        let blocks = try Blockvault.run(["blocks", "--json", path])
        guard blocks.succeeded else { throw TestFailure("\(blocks)") }
        return try blocks.decode([BlockInfo].self).map(\.id)
    }

    @Test("a bit flipped in a stored block: check --read-data marks it, a backup of the unchanged source stores it again, every snapshot restores")
    func checkMarksDamagedBlockForTheNextBackup() throws {
        let life = try LifecycleVault("life-mark-unchanged")
        defer { life.scratch.remove() }
        try life.writeHistoryWithEdits()
        let id = try Self.blockIDs(ofFile: life.source + "/data/target.bin")[0]
        try life.flipBit(in: try life.storedBlock(id: id))

        let check = try life.check(["--read-data"])
        let problems = Self.problemLines(check)
        #expect(check.status == 1 && problems.count == 1, "\(check)")
        #expect(problems.first.map { $0.contains(String(id.prefix(16))) && $0.contains("data/target.bin") && $0.contains("next backup") } == true,
                "the line names the block, the file it breaks and that the next backup stores it again: \(check)")

        let healing = try life.backup()
        #expect(healing.filesNew == 0 && healing.filesChanged == 0 && healing.errors == 0, "\(healing)")
        #expect(healing.bytesAdded >= 48 << 10, "the damaged block is stored again: \(healing)")
        // The latest snapshot and the older ones sharing the block all find its new copy.
        try life.expectSnapshotsRestore(nil, "after the backup that stored the block again")
        let clean = try life.check(["--read-data"])
        #expect(clean.succeeded, "\(clean)")
    }

    @Test("a bit flipped in a block of a file that then changes: the backup of the changed file stores the block again")
    func changedFileStoresDamagedBlockAgain() throws {
        let life = try LifecycleVault("life-mark-changed")
        defer { life.scratch.remove() }
        try life.writeBaseTree()
        try life.backup()
        let big = life.source + "/data/big.bin"
        let ids = try Self.blockIDs(ofFile: big)
        try #require(ids.count >= 4, "big.bin should span several blocks: \(ids)")
        let id = ids[ids.count / 2]
        try life.flipBit(in: try life.storedBlock(id: id))

        let check = try life.check(["--read-data"])
        #expect(check.status == 1, "\(check)")
        #expect(Self.problemLines(check).contains { $0.contains(String(id.prefix(16))) && $0.contains("data/big.bin") && $0.contains("next backup") },
                "\(check)")

        // Changed at its end: the damaged block, in its middle, is still part of it.
        try Files.append(big, DeterministicData.bytes(count: 70_000, seed: 977))
        let changedIDs = try Self.blockIDs(ofFile: big)
        #expect(changedIDs.contains(id), "the changed file still holds the damaged block")
        let next = try life.backup()
        #expect(next.filesChanged == 1 && next.errors == 0, "\(next)")
        try life.expectSnapshotsRestore(nil, "after the backup of the changed file")
        let clean = try life.check(["--read-data"])
        #expect(clean.succeeded, "\(clean)")
    }

    @Test("a restore that meets a damaged block marks it: the next backup stores it again and the restore then succeeds")
    func restoreMarksDamagedBlockForTheNextBackup() throws {
        let life = try LifecycleVault("life-mark-restore")
        defer { life.scratch.remove() }
        try life.writeBaseTree()
        try life.backup()
        let id = try Self.blockIDs(ofFile: life.source + "/data/target.bin")[0]
        try life.flipBit(in: try life.storedBlock(id: id))

        let target = life.scratch.child("failed-restore")
        let failed = try life.vault.run("restore", ["--target", target, "latest"])
        #expect(!failed.succeeded && failed.errorOutput.contains("data/target.bin"), "\(failed)")

        let healing = try life.backup()
        #expect(healing.errors == 0 && healing.bytesAdded >= 48 << 10, "the damaged block is stored again: \(healing)")
        try life.expectSnapshotsRestore(nil, "after the backup that stored the block again")
        let clean = try life.check(["--read-data"])
        #expect(clean.succeeded, "\(clean)")
    }
}

extension EndToEndTests.LifecycleTests {
    @Test("a pack cut in half: check --read-data marks the blocks it lost, a backup stores them again, repair salvages the rest")
    func truncatedPackBlocksAreStoredAgain() throws {
        let life = try LifecycleVault("life-mark-truncated")
        defer { life.scratch.remove() }
        try life.writeHistoryWithEdits()
        let block = try life.storedBlock(ofSourceFile: "data/target.bin")
        let pack = life.packPath(block.pack)
        let size = Int(try Files.status(pack).st_size)
        guard truncate(pack, off_t(block.offset + block.storedLength / 2)) == 0 else { throw FileSystemError("cannot truncate", pack) }
        #expect(block.offset + block.storedLength / 2 < size)

        let check = try life.check(["--read-data"])
        #expect(check.status == 1 && !check.signaled, "\(check)")
        #expect(Self.problemLines(check).contains { $0.contains("data/target.bin") && $0.contains("next backup") },
                "the block cut off is named with the file it breaks, marked for the next backup: \(check)")

        let healing = try life.backup()
        #expect(healing.errors == 0 && healing.bytesAdded > 0, "the lost blocks are stored again: \(healing)")
        let latest = life.scratch.child("latest")
        _ = try life.vault.expectSuccess(life.vault.run("restore", ["--target", latest, "latest"]))
        #expect(try Files.read(latest + "/data/target.bin") == Files.read(life.source + "/data/target.bin"))

        // What the cut pack still holds is copied out; the latest snapshot keeps restoring.
        let repair = try life.vault.run("repair", ["--apply"])
        #expect(repair.succeeded, "\(repair)")
        let repaired = life.scratch.child("repaired")
        _ = try life.vault.expectSuccess(life.vault.run("restore", ["--target", repaired, "latest"]))
        #expect(try Files.read(repaired + "/data/target.bin") == Files.read(life.source + "/data/target.bin"))
    }
}
