import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEndTests {
    /// Files and directories the backup cannot read are named, counted and leave a partial snapshot;
    /// what was recorded of them before is kept, never taken as deleted.
    ///
    /// Permission bits do not stop root, so the backup runs as `nobody` (via `setpriv`) on a tree
    /// and a vault owned by `nobody`, with the unreadable entries at mode 000.
    @Suite("Unreadable entries")
    struct UnreadableEntryTests {
        static let nobody: UInt32 = 65534
        static let setpriv = "/usr/bin/setpriv"
        static let asNobody = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
        static var canRunAsNobody: Bool { getuid() == 0 && access(setpriv, X_OK) == 0 }

        @Test("unreadable entries: exit status 3, each named on stderr, a partial snapshot, the rest restorable",
              .enabled(if: canRunAsNobody, "needs root and setpriv to run the backup as nobody"))
        func unreadableEntriesMakeAPartialSnapshot() throws {
            let scratch = try ScratchDirectory("unreadable")
            defer { scratch.remove() }
            try Files.setMode(scratch.path, 0o755)
            let source = scratch.child("source")
            for directory in ["", "/docs", "/locked"] { try Files.makeDirectory(source + directory) }
            let oldSecret = DeterministicData.text(lines: 6, seed: 41)
            let lockedText = DeterministicData.text(lines: 3, seed: 42)
            try Files.write(source + "/readable.txt", text: "version 1\n")
            try Files.write(source + "/docs/kept.txt", text: DeterministicData.text(lines: 9, seed: 43))
            try Files.write(source + "/data.bin", DeterministicData.bytes(count: 200_000, seed: 44))
            try Files.write(source + "/secret-old.txt", text: oldSecret)
            try Files.write(source + "/locked/inner.txt", text: lockedText)
            let vaultPath = scratch.child("vault")
            try Files.makeDirectory(vaultPath)
            let target = scratch.child("restored")
            try Files.makeDirectory(target)
            for path in [source, vaultPath, target] { try Files.changeOwner(path, uid: Self.nobody, gid: Self.nobody) }
            let vault = try TestVault.create(at: vaultPath, wrapper: Self.asNobody)

            let first = try vault.backup(source)
            #expect(first.errors == 0 && first.filesNew == 5)

            // A file with a recorded version, a new file and a directory become unreadable.
            try Files.write(source + "/readable.txt", text: "version 2, still readable\n")
            try Files.write(source + "/secret-new.txt", text: "never readable\n")
            try Files.changeOwner(source + "/secret-new.txt", uid: Self.nobody, gid: Self.nobody)
            for path in ["/secret-old.txt", "/secret-new.txt", "/locked"] { try Files.setMode(source + path, 0) }

            let partial = try vault.run("backup", ["--json", source])
            #expect(partial.status == 3, "\(partial)")
            for name in ["secret-old.txt", "secret-new.txt", "locked"] {
                #expect(partial.errorLines.contains { $0.hasPrefix("blockvault:") && $0.contains("\(source)/\(name)") },
                        "\(name) is not named on stderr: \(partial.errorOutput)")
            }
            let report = try partial.decode(BackupReport.self)
            #expect(report.errors == 3)
            #expect(report.filesChanged == 1, "readable.txt")

            let snapshots = try vault.snapshots()
            try #require(snapshots.count == 2)
            #expect(!snapshots[0].partial)
            #expect(snapshots[1].partial)
            #expect(snapshots[1].id == report.snapshot)

            try vault.restore(report.snapshot, to: target)
            // Everything readable is restored as it is now…
            let unreadable = ["secret-old.txt", "secret-new.txt", "locked"].map { Array($0.utf8) }
            let problems = try Tree.differences(expected: source, actual: target) { path in
                unreadable.contains { path == $0 || path.starts(with: $0 + [0x2F]) }
            }
            #expect(problems.isEmpty, "\(problems)")
            // …what could not be read keeps its recorded version, and what never was recorded is absent.
            #expect(try Files.read(target + "/secret-old.txt") == Array(oldSecret.utf8))
            #expect(try Files.read(target + "/locked/inner.txt") == Array(lockedText.utf8))
            #expect(!Files.exists(target + "/secret-new.txt"))
        }
    }
}
