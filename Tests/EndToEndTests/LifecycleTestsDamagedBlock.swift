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
