import Foundation
import Testing

extension EndToEndTests {
    /// `diff` between two snapshots.
    @Suite("Diff")
    struct DiffTests {
        @Test("diff lists added, removed and modified paths, both ways, and nothing for identical snapshots")
        func diffListsChanges() throws {
            let scratch = try ScratchDirectory("diff")
            defer { scratch.remove() }
            let source = scratch.child("source")
            for directory in ["", "/sub", "/sub/deeper", "/gone"] { try Files.makeDirectory(source + directory) }
            for name in ["keep.txt", "change.txt", "remove.txt", "chmod.txt", "touch.txt", "sub/inner.txt",
                         "sub/deeper/x.txt", "gone/a.txt", "gone/b.txt"] {
                try Files.write(source + "/" + name, text: "\(name)\n")
            }
            let vault = try TestVault.create(at: scratch.child("vault"))
            let first = try vault.backup(source).snapshot

            try Files.write(source + "/change.txt", text: "changed contents\n")
            try Files.remove(source + "/remove.txt")
            try Files.write(source + "/added.txt", text: "new\n")
            try Files.setMode(source + "/chmod.txt", 0o600)
            try Files.setModificationTime(source + "/touch.txt", seconds: 1_000_000_000, nanoseconds: 5)
            try Files.removeTree(source + "/gone")
            try Files.makeDirectory(source + "/newdir")
            try Files.write(source + "/newdir/n.txt", text: "n\n")
            let second = try vault.backup(source).snapshot

            let expected: [DiffEntry] = [
                ("added.txt", "added"), ("change.txt", "modified"), ("chmod.txt", "modified"), ("gone", "removed"),
                ("gone/a.txt", "removed"), ("gone/b.txt", "removed"), ("newdir", "added"), ("newdir/n.txt", "added"),
                ("remove.txt", "removed"), ("touch.txt", "modified"),
            ].map { DiffEntry(path: $0.0, change: $0.1) }
            #expect(try vault.diff(first, second) == expected)

            let swapped = ["added": "removed", "removed": "added", "modified": "modified"]
            #expect(try vault.diff(second, first) == expected.map { DiffEntry(path: $0.path, change: swapped[$0.change]!) })

            let text = try vault.expectSuccess(vault.run("diff", [first, second]))
            let marks = ["added": "+", "removed": "-", "modified": "M"]
            #expect(text.output.split(separator: "\n").map(String.init) == expected.map { "\(marks[$0.change]!) \($0.path)" })

            let third = try vault.backup(source).snapshot
            #expect(try vault.diff(second, third).isEmpty)
            #expect(try vault.diff(second, "latest").isEmpty)
        }
    }
}
