import Foundation
import Testing

extension EndToEndTests {
    /// A tree with every kind of entry is backed up, edited, backed up again, …; every snapshot must
    /// then restore exactly as the tree was when it was taken.
    @Suite("Edit cycle")
    struct EditCycleTests {
        /// `f\xff.t`: a name that is not valid UTF-8.
        static let invalidUTF8Name: [UInt8] = [0x66, 0xFF, 0x2E, 0x74]
        static let mebibyte = 1 << 20

        @Test("every snapshot of a tree edited between backups restores exactly", arguments: ["fastcdc", "fixed"])
        func everySnapshotRestoresExactly(chunker: String) throws {
            let scratch = try ScratchDirectory("edit-cycle")
            defer { scratch.remove() }
            let source = scratch.child("source")
            let vault = TestVault(path: scratch.child("vault"))
            let created = try vault.expectSuccess(vault.run("init", ["--json", "--chunker", chunker]))
            #expect(try created.decode([String: JSONValue].self)["chunker"] == .string(chunker))
            var taken: [(id: String, copy: String)] = []
            func backUp() throws -> BackupReport {
                let report = try vault.backup(source)
                let copy = scratch.child("expected-\(taken.count + 1)")
                try Files.copyTree(source, to: copy)
                taken.append((report.snapshot, copy))
                return report
            }

            try buildTree(at: source)
            let first = try backUp()
            #expect(first.errors == 0)
            #expect(first.filesNew == 18)
            #expect(first.filesChanged == 0 && first.filesUnchanged == 0 && first.filesDeleted == 0)

            try firstEdits(source)
            let second = try backUp()
            #expect(second.errors == 0)
            #expect(second.filesNew == 2, "renamed.txt and docs/new.txt")
            #expect(second.filesChanged == 3, "data/big.bin, prepend.txt and append.log")
            #expect(second.filesDeleted == 4, "delete-me.txt, rename-me.txt and the two files of doomed/")
            #expect(second.filesUnchanged == 11)
            // Only the 64 KiB overwritten in the big file and the small text edits are new data.
            #expect(second.bytesAdded < 1 * Int64(Self.mebibyte), "bytes added: \(second.bytesAdded)")

            try secondEdits(source)
            let third = try backUp()
            #expect(third.errors == 0)

            let listed = try vault.snapshots()
            #expect(listed.map(\.id) == taken.map(\.id))
            #expect(listed.allSatisfy { !$0.partial })
            for (number, snapshot) in taken.enumerated() {
                let target = scratch.child("restored-\(number + 1)")
                let restored = try vault.restore(snapshot.id, to: target)
                let problems = try Tree.differences(expected: snapshot.copy, actual: target)
                #expect(problems.isEmpty, "snapshot \(number + 1) (\(snapshot.id)): \(problems.joined(separator: "\n"))")

                // What `snapshots` and `ls` say about the snapshot matches the tree too.
                let entries = try Tree.entries(of: snapshot.copy)
                let files = entries.values.filter { $0.type == .file }
                #expect(listed[number].files == Int64(files.count), "snapshot \(number + 1)")
                #expect(listed[number].bytes == files.reduce(0) { $0 + $1.size }, "snapshot \(number + 1)")
                #expect(restored.files == files.count, "restore --json of snapshot \(number + 1)")
                #expect(restored.dirs == entries.values.filter { $0.type == .directory }.count, "restore --json of snapshot \(number + 1)")
                let typeNames: [TreeEntry.Kind: String] = [.file: "file", .directory: "dir", .symlink: "symlink", .fifo: "fifo"]
                let expectedListing = entries.map { path, entry in
                    ListedEntry(path: String(decoding: path, as: UTF8.self), type: typeNames[entry.type] ?? "other",
                                size: entry.type == .directory ? 0 : entry.size, mode: Self.octal(entry.permissions))
                }.sorted { $0.path < $1.path }
                let listing = try vault.list(snapshot.id).map { ListedEntry(path: $0.path, type: $0.type, size: $0.size, mode: $0.mode) }
                #expect(listing.sorted { $0.path < $1.path } == expectedListing, "ls of snapshot \(number + 1)")
            }
        }

        struct ListedEntry: Equatable {
            var path: String
            var type: String
            var size: Int64
            var mode: String
        }

        static func octal(_ mode: UInt32) -> String {
            let digits = String(mode, radix: 8)
            return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
        }

        /// Nested directories, an empty one, text and binary files of varied sizes (one of several MiB),
        /// symlinks (one dangling), two hard links to one file, modes 0600 and 0755, an empty file and a
        /// name that is not UTF-8: 18 regular files.
        private func buildTree(at root: String) throws {
            for directory in ["", "/docs", "/docs/notes", "/docs/notes/deep", "/docs/notes/deep/er", "/data", "/doomed", "/doomed/sub"] {
                try Files.makeDirectory(root + directory)
            }
            try Files.makeDirectory(root + "/empty-dir", mode: 0o750)
            try Files.write(root + "/docs/readme.txt", text: DeterministicData.text(lines: 40, seed: 1))
            try Files.write(root + "/docs/notes/todo.txt", text: DeterministicData.text(lines: 10, seed: 2))
            try Files.write(root + "/docs/notes/deep/er/leaf.txt", text: DeterministicData.text(lines: 3, seed: 3))
            try Files.write(root + "/data/big.bin", DeterministicData.bytes(count: 6 * Self.mebibyte + 123, seed: 4))
            try Files.write(root + "/data/medium.bin", DeterministicData.bytes(count: 300_001, seed: 5))
            try Files.write(root + "/data/small.bin", DeterministicData.bytes(count: 1000, seed: 6))
            try Files.write(root + "/prepend.txt", text: DeterministicData.text(lines: 20, seed: 7))
            try Files.write(root + "/append.log", text: DeterministicData.text(lines: 50, seed: 8))
            try Files.write(root + "/delete-me.txt", text: "short-lived\n")
            try Files.write(root + "/rename-me.txt", DeterministicData.bytes(count: 70_000, seed: 9))
            try Files.write(root + "/doomed/a.txt", text: "a\n")
            try Files.write(root + "/doomed/sub/b.bin", DeterministicData.bytes(count: 5000, seed: 10))
            try Files.symlink(root + "/link-to-readme", to: "docs/readme.txt")
            try Files.symlink(root + "/dangling", to: "does/not/exist")
            try Files.write(root + "/hard-a.txt", text: "one inode, two names\n")
            try Files.hardLink(root + "/docs/hard-b.txt", to: root + "/hard-a.txt")
            try Files.write(root + "/private.key", text: "secret\n", mode: 0o600)
            try Files.write(root + "/run.sh", text: "#!/bin/sh\necho hello\n", mode: 0o755)
            try Files.write(root + "/empty.txt", [])
            try Files.write(Array(root.utf8) + [0x2F] + Self.invalidUTF8Name, Array("not UTF-8\n".utf8))
        }

        /// Changes bytes in the middle of the big file, inserts at the start of one file, appends to
        /// another, deletes, renames and adds a file, and deletes a directory.
        private func firstEdits(_ root: String) throws {
            try Files.overwrite(root + "/data/big.bin", at: 3 * Self.mebibyte, with: DeterministicData.bytes(count: 65_536, seed: 11))
            try Files.prepend(root + "/prepend.txt", Array("inserted at the start\n".utf8))
            try Files.append(root + "/append.log", Array(DeterministicData.text(lines: 5, seed: 12).utf8))
            try Files.remove(root + "/delete-me.txt")
            try Files.rename(root + "/rename-me.txt", to: root + "/renamed.txt")
            try Files.write(root + "/docs/new.txt", text: DeterministicData.text(lines: 7, seed: 13))
            try Files.removeTree(root + "/doomed")
        }

        /// Grows and shrinks files, changes only a mode, retargets a symlink, turns a file into a
        /// directory and a directory into a file, writes through a hard link, adds a hard link and an
        /// empty directory, edits the non-UTF-8 file and sets an old mtime with nanoseconds.
        private func secondEdits(_ root: String) throws {
            try Files.append(root + "/data/big.bin", DeterministicData.bytes(count: Self.mebibyte + 7, seed: 14))
            let medium = try Files.read(root + "/data/medium.bin")
            try Files.write(root + "/data/medium.bin", Array(medium.prefix(100_000)))
            try Files.setMode(root + "/private.key", 0o640)
            try Files.remove(root + "/link-to-readme")
            try Files.symlink(root + "/link-to-readme", to: "docs/notes/todo.txt")
            try Files.remove(root + "/data/small.bin")
            try Files.makeDirectory(root + "/data/small.bin")
            try Files.write(root + "/data/small.bin/inner.txt", text: "was a file\n")
            try Files.removeTree(root + "/docs/notes/deep")
            try Files.write(root + "/docs/notes/deep", text: "was a directory\n")
            try Files.append(root + "/docs/hard-b.txt", Array("written through the second name\n".utf8))
            try Files.hardLink(root + "/data/run-again.sh", to: root + "/run.sh")
            try Files.makeDirectory(root + "/new-empty", mode: 0o700)
            let oddName = Array(root.utf8) + [0x2F] + Self.invalidUTF8Name
            try Files.write(oddName, Array("not UTF-8, edited\n".utf8))
            try Files.setModificationTime(root + "/empty.txt", seconds: 981_173_106, nanoseconds: 123_456_789)
        }
    }
}
