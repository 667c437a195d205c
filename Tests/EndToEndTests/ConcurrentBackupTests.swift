import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEndTests {
    /// Two backups into one vault at the same time.
    @Suite("Concurrent backups")
    struct ConcurrentBackupTests {
        /// Two trees of 48 MiB each, so that two backups started together overlap.
        private func makeTree(_ path: String, seed: UInt64) throws {
            try Files.makeDirectory(path)
            try Files.makeDirectory(path + "/nested")
            for index in 0..<6 {
                try Files.write(path + "/nested/part-\(index).bin", DeterministicData.bytes(count: 8 << 20, seed: seed + UInt64(index)))
            }
            try Files.write(path + "/notes.txt", text: DeterministicData.text(lines: 20, seed: seed))
        }

        private func realPath(_ path: String) throws -> String {
            guard let resolved = realpath(path, nil) else { throw FileSystemError("realpath", path) }
            defer { free(resolved) }
            return String(cString: resolved)
        }

        /// Restores each of `snapshots` and compares it with `expected[tree it was taken of]`.
        private func expectRestoresExactly(_ snapshots: [SnapshotInfo], _ vault: TestVault, expected: [String: String],
                                           scratch: ScratchDirectory) throws {
            for snapshot in snapshots {
                let tree = try #require(expected[snapshot.path], "snapshot \(snapshot.id) of unknown path \(snapshot.path)")
                let target = scratch.child("check")
                defer { try? Files.removeTree(target) }
                try vault.restore(snapshot.id, to: target)
                let problems = try Tree.differences(expected: tree, actual: target)
                #expect(problems.isEmpty, "snapshot \(snapshot.id) of \(snapshot.path): \(problems)")
            }
        }

        @Test("two backups at once: each succeeds or fails saying the vault is locked; every snapshot restores")
        func racingBackups() throws {
            let scratch = try ScratchDirectory("concurrent")
            defer { scratch.remove() }
            let trees = [scratch.child("first"), scratch.child("second")]
            try makeTree(trees[0], seed: 71)
            try makeTree(trees[1], seed: 81)
            let vault = try TestVault.create(at: scratch.child("vault"))

            let running = try trees.map { try vault.start("backup", ["--json", $0]) }
            let results = running.map { $0.wait(timeout: 120) }
            for result in results where !result.succeeded {
                #expect(!result.signaled && !result.timedOut && result.status != 0, "\(result)")
                #expect(result.errorOutput.hasPrefix("blockvault: vault is locked by "),
                        "a backup that loses the race must say the vault is locked: \(result)")
                #expect(result.errorLines.count == 1, "\(result)")
            }
            #expect(results.contains { $0.succeeded }, "one of the two must have held the lock: \(results)")
            let snapshots = try vault.snapshots()
            #expect(snapshots.count == results.filter(\.succeeded).count)
            try expectRestoresExactly(snapshots, vault, expected: Dictionary(uniqueKeysWithValues: zip(try trees.map(realPath), trees)),
                                      scratch: scratch)
        }

        @Test("two backups at once with --lock-wait: the second waits for the first, both succeed and restore")
        func waitingBackups() throws {
            let scratch = try ScratchDirectory("lock-wait")
            defer { scratch.remove() }
            let trees = [scratch.child("first"), scratch.child("second")]
            try makeTree(trees[0], seed: 171)
            try makeTree(trees[1], seed: 181)
            let vault = try TestVault.create(at: scratch.child("vault"))

            let running = try trees.map { try vault.start("backup", ["--json", "--lock-wait", "60", $0]) }
            let results = running.map { $0.wait(timeout: 180) }
            for result in results { #expect(result.succeeded, "\(result)") }
            let snapshots = try vault.snapshots()
            #expect(snapshots.count == 2)
            let realTrees = try trees.map(realPath)
            #expect(Set(snapshots.map(\.path)) == Set(realTrees))
            try expectRestoresExactly(snapshots, vault, expected: Dictionary(uniqueKeysWithValues: zip(realTrees, trees)), scratch: scratch)
        }
    }
}
