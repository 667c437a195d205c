import Foundation
import Testing

extension EndToEndTests {
    /// `backup --tag` and `--exclude`.
    @Suite("Backup options")
    struct BackupOptionTests {
        @Test("--exclude leaves out matching names and paths; --tag is listed with the snapshot")
        func excludeAndTag() throws {
            let scratch = try ScratchDirectory("options")
            defer { scratch.remove() }
            let source = scratch.child("source")
            for directory in ["", "/cache", "/cache/deep", "/src", "/src/cache-notes", "/logs"] { try Files.makeDirectory(source + directory) }
            for name in ["keep.txt", "scratch.tmp", "cache/blob.bin", "cache/deep/more.bin", "src/main.swift", "src/build.tmp",
                         "src/cache-notes/n.txt", "logs/today.log"] {
                try Files.write(source + "/" + name, text: "\(name)\n")
            }
            let vault = try TestVault.create(at: scratch.child("vault"))
            let full = try vault.backup(source, ["--tag", "daily", "--tag", "before-cleanup"])
            let fullCopy = scratch.child("full-copy")
            try Files.copyTree(source, to: fullCopy)

            let partial = try vault.backup(source, ["--exclude", "*.tmp", "--exclude", "cache", "--exclude", "logs/today.log"])
            let snapshots = try vault.snapshots()
            #expect(snapshots.map(\.tags) == [["daily", "before-cleanup"], []])

            let excluded = ["scratch.tmp", "src/build.tmp", "cache", "cache/blob.bin", "cache/deep", "cache/deep/more.bin", "logs/today.log"]
            let target = scratch.child("partial")
            try vault.restore(partial.snapshot, to: target)
            let restored = try Tree.entries(of: target).keys.map(Files.display)
            #expect(Set(restored).isDisjoint(with: excluded), "excluded entries were restored: \(Set(restored).intersection(excluded).sorted())")
            let problems = try Tree.differences(expected: source, actual: target) { excluded.contains(Files.display($0)) }
            #expect(problems.isEmpty, "\(problems)")
            #expect(Files.exists(target + "/src/cache-notes/n.txt"), "`cache` must match whole names, not prefixes")

            // What an exclude leaves out of a new snapshot stays in the older one.
            let earlier = scratch.child("full")
            try vault.restore(full.snapshot, to: earlier)
            let earlierProblems = try Tree.differences(expected: fullCopy, actual: earlier)
            #expect(earlierProblems.isEmpty, "\(earlierProblems)")
        }
    }
}
