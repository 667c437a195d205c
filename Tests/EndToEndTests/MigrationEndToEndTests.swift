import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `Tool.output` (inside `EndToEndTests`, `Tool` names another type).
private func systemTool(_ executable: String, _ arguments: [String]) throws -> String { try Tool.output(executable, arguments) }

extension EndToEndTests {
    /// Vaults made by the 0.6.0 release (`Fixtures/migration/`: a master with two snapshots and its
    /// receive-only replica, catalog schema 7) opened by this build: the catalog becomes schema 8,
    /// the replica's versions get their master as origin, and every answer is what 0.6.0 gave.
    @Suite("Migration from 0.6.0")
    struct MigrationEndToEndTests {
        static let master = "6c59ecdac0111ae150f83a97e7a8ab54e58224daaa042450222c1623e18a1cdd"
        static let folder = "/tmp/bv-migration-0.6.0/src"
        static let firstSnapshot = "5b595e41da991d63"
        static let secondSnapshot = "a64710eb26cff816"
        static let randomSHA256 = "962424976c0b8347d6bf93935c283fe112d0effda3c6b8c02fa9fc3f22df5b1f"

        /// `snapshots --json` as 0.6.0 printed it, for the master and the replica alike.
        static let snapshots: [(id: String, time: String, files: Int64, bytes: Int64)] = [
            (firstSnapshot, "2026-12-05T07:11:03.462Z", 3, 40015),
            (secondSnapshot, "2026-12-05T07:11:04.872Z", 3, 40022),
        ]

        /// `versions PATH` as 0.6.0 printed it on the replica.
        static let versions: [String: [String]] = [
            "docs/a.txt": [
                "#4  snapshot 5b595e41da991d63  mtime 2026-11-01T10:00:00.000Z  file 10 B  version 6c59ecdac0111ae1:1796454663",
                "#9  snapshot a64710eb26cff816  mtime 2026-11-02T10:00:00.000Z  file 18 B  version 6c59ecdac0111ae1:1796454664",
            ],
            "b.txt": [
                "#3  snapshot 5b595e41da991d63  mtime 2026-11-01T10:00:00.000Z  file 5 B  version 6c59ecdac0111ae1:1796454663",
                "#7  snapshot a64710eb26cff816  mtime 2026-11-01T10:00:00.000Z  deleted  version 6c59ecdac0111ae1:1796454664",
            ],
            "c.txt": [
                "#8  snapshot a64710eb26cff816  mtime 2026-11-02T10:00:00.000Z  file 4 B  version 6c59ecdac0111ae1:1796454664",
            ],
            "docs/random.bin": [
                "#5  snapshot 5b595e41da991d63  mtime 2026-11-01T10:00:00.000Z  file 39.1 KiB  version 6c59ecdac0111ae1:1796454663",
            ],
            "link": [
                "#2  snapshot 5b595e41da991d63  mtime 2026-11-01T10:00:00.000Z  symlink 10 B  version 6c59ecdac0111ae1:1796454663",
            ],
        ]

        /// The fixture unpacked into a fresh scratch directory: (scratch, master, replica).
        func unpack(_ label: String) throws -> (ScratchDirectory, TestVault, TestVault) {
            let scratch = try ScratchDirectory(label)
            _ = try systemTool("/usr/bin/tar", ["-xzf", Blockvault.packageRoot + "/Fixtures/migration/vaults-0.6.0.tar.gz", "-C", scratch.path])
            return (scratch, TestVault(path: scratch.child("master")), TestVault(path: scratch.child("replica")))
        }

        /// Checks the answers 0.6.0 gave; with `later`, snapshots taken since then may follow.
        func expectAnswersOf060(_ vault: TestVault, _ what: String, in scratch: ScratchDirectory, later: Int = 0) throws {
            let all = try vault.snapshots()
            #expect(all.count == Self.snapshots.count + later, "\(what)")
            let listed = Array(all.prefix(Self.snapshots.count))
            #expect(listed.map(\.id) == Self.snapshots.map(\.id), "\(what)")
            #expect(listed.map(\.time) == Self.snapshots.map(\.time), "\(what)")
            #expect(listed.map(\.files) == Self.snapshots.map(\.files), "\(what)")
            #expect(listed.map(\.bytes) == Self.snapshots.map(\.bytes), "\(what)")
            #expect(listed.allSatisfy { $0.path == Self.folder }, "\(what)")
            for (path, lines) in Self.versions {
                let result = try vault.expectSuccess(vault.run("versions", [path]))
                #expect(result.output.split(separator: "\n").map(String.init) == lines, "\(what): versions \(path)")
            }
            let first = scratch.child("\(what)-first")
            let second = scratch.child("\(what)-second")
            try vault.expectSuccess(vault.run("restore", ["--target", first, Self.firstSnapshot]))
            try vault.expectSuccess(vault.run("restore", ["--target", second, later == 0 ? "latest" : Self.secondSnapshot]))
            #expect(try Files.read(first + "/docs/a.txt") == Array("alpha one\n".utf8), "\(what)")
            #expect(try Files.read(first + "/b.txt") == Array("beta\n".utf8), "\(what)")
            #expect(!FileManager.default.fileExists(atPath: first + "/c.txt"), "\(what)")
            #expect(try Files.read(second + "/docs/a.txt") == Array("alpha two, longer\n".utf8), "\(what)")
            #expect(try Files.read(second + "/c.txt") == Array("new\n".utf8), "\(what)")
            #expect(!FileManager.default.fileExists(atPath: second + "/b.txt"), "\(what)")
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: second + "/link") == "docs/a.txt", "\(what)")
            for tree in [first, second] {
                let digest = try systemTool("/usr/bin/sha256sum", [tree + "/docs/random.bin"]).prefix(64)
                #expect(digest == Self.randomSHA256, "\(what): \(tree)")
            }
        }

        @Test("0.6.0 vaults open as schema 8; the replica's versions get their master as origin; snapshots, versions and restore answer as 0.6.0 did; a further push works")
        func vaultsOf060Migrate() throws {
            let (scratch, master, replica) = try unpack("migrate-060")
            defer { scratch.remove() }
            try expectAnswersOf060(replica, "replica", in: scratch)
            try expectAnswersOf060(master, "master", in: scratch)

            for vault in [master, replica] {
                #expect(try SQLiteShell.rows(vault.path + "/catalog.db", "PRAGMA user_version") == [["8"]])
            }
            let replicaCatalog = replica.path + "/catalog.db"
            #expect(try SQLiteShell.rows(replicaCatalog, """
                SELECT count(*) FROM versions v JOIN devices d ON d.id = v.origin
                WHERE v.origin_sequence = v.sequence AND CAST(d.device_id AS TEXT) = '\(Self.master)'
                """) == [["9"]], "every version of the replica has its master as origin, under its own number")
            #expect(try SQLiteShell.rows(replicaCatalog, """
                SELECT CAST(d.device_id AS TEXT), s.sequence FROM seen_sequences s JOIN devices d ON d.id = s.device
                """) == [[Self.master, "9"]])
            #expect(try SQLiteShell.rows(master.path + "/catalog.db", "SELECT count(*) FROM versions WHERE origin IS NOT NULL") == [["0"]],
                    "the master made its versions itself")

            // The migrated master backs up again and pushes to the migrated replica.
            let source = scratch.child("later")
            try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
            try Files.write(source + "/later.txt", text: "after the migration\n")
            let report = try master.backup(source)
            let push = try master.run("push", ["--to", replica.path])
            #expect(push.succeeded, "\(push)")
            #expect(try replica.snapshots().map(\.id) == Self.snapshots.map(\.id) + [report.snapshot])
            let later = try replica.expectSuccess(replica.run("versions", [source + "/later.txt"]))
            #expect(later.output.hasPrefix("#10  snapshot \(report.snapshot)"), "\(later)")
            let restored = scratch.child("restored-later")
            try replica.expectSuccess(replica.run("restore", ["--target", restored, report.snapshot]))
            #expect(try Files.read(restored + "/later.txt") == Array("after the migration\n".utf8))
            #expect(try SQLiteShell.rows(replicaCatalog, "SELECT sequence FROM seen_sequences") == [["10"]])
            let check = try replica.run("check", ["--read-data"])
            #expect(check.succeeded, "\(check)")
            try expectAnswersOf060(replica, "replica-after-push", in: scratch, later: 1)
        }

        @Test("a 0.6.0 replica whose catalog is lost is rebuilt from records without origins; the next push from its master gives them the master as origin, and answers stay as 0.6.0 gave them")
        func replicaOf060RebuiltFromItsPacks() throws {
            let (scratch, master, replica) = try unpack("rebuild-060")
            defer { scratch.remove() }
            for suffix in ["", "-wal", "-shm"] { unlink(replica.path + "/catalog.db" + suffix) }
            let repair = try replica.run("repair", ["--apply"])
            #expect(repair.succeeded, "\(repair)")
            try expectAnswersOf060(replica, "rebuilt", in: scratch)

            let push = try master.run("push", ["--to", replica.path])
            #expect(push.succeeded, "\(push)")
            let replicaCatalog = replica.path + "/catalog.db"
            #expect(try SQLiteShell.rows(replicaCatalog, """
                SELECT count(*) FROM versions v JOIN devices d ON d.id = v.origin
                WHERE v.origin_sequence = v.sequence AND CAST(d.device_id AS TEXT) = '\(Self.master)'
                """) == [["9"]])
            #expect(try SQLiteShell.rows(replicaCatalog, "SELECT value FROM settings_text WHERE key = 'master_device'") == [[Self.master]])
            try expectAnswersOf060(replica, "rebuilt-then-pushed", in: scratch)
        }
    }
}
