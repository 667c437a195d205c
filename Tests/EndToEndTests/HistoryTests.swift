import Foundation
import Testing

extension EndToEndTests {
    /// Partial restores, the history of one file, and restoring by time.
    @Suite("History")
    struct HistoryTests {
        /// Three snapshots: `a/one.txt` created, grown, then deleted; the rest unchanged.
        struct History {
            let scratch: ScratchDirectory
            let source: String
            let vault: TestVault
            /// (snapshot id, copy of the tree when it was taken), oldest first.
            let taken: [(id: String, copy: String)]
            let sizes: [Int]

            init() throws {
                scratch = try ScratchDirectory("history")
                source = scratch.child("source")
                vault = try TestVault.create(at: scratch.child("vault"))
                for directory in ["", "/a", "/a/sub"] { try Files.makeDirectory(source + directory) }
                try Files.write(source + "/a/sub/two.txt", text: DeterministicData.text(lines: 12, seed: 21))
                try Files.write(source + "/top.txt", text: DeterministicData.text(lines: 4, seed: 22))
                let versions = [DeterministicData.text(lines: 5, seed: 23), DeterministicData.text(lines: 40, seed: 24)]
                sizes = versions.map(\.utf8.count)
                var taken: [(id: String, copy: String)] = []
                for step in 0..<3 {
                    if step < versions.count {
                        try Files.write(source + "/a/one.txt", text: versions[step])
                    } else {
                        try Files.remove(source + "/a/one.txt")
                    }
                    let id = try vault.backup(source).snapshot
                    let copy = scratch.child("expected-\(step + 1)")
                    try Files.copyTree(source, to: copy)
                    taken.append((id, copy))
                    usleep(50_000)   // snapshots apart in time, so a time between two of them exists
                }
                self.taken = taken
            }
        }

        @Test("versions lists every version of a file with its size, and its deletion")
        func versionsListsEveryVersion() throws {
            let history = try History()
            defer { history.scratch.remove() }
            let versions = try history.vault.versions("a/one.txt")
            try #require(versions.count == 3, "\(versions.map { ($0.size, $0.deleted) })")
            #expect(versions.map(\.deleted) == [false, false, true])
            #expect(versions.prefix(2).map(\.size) == history.sizes.map(Int64.init))
            #expect(versions.map(\.snapshot) == history.taken.map(\.id))
            #expect(versions.prefix(2).allSatisfy { $0.type == "file" })
            #expect(zip(versions, versions.dropFirst()).allSatisfy { $0.sequence < $1.sequence })
            #expect(versions[0].blocksHash != nil && versions[1].blocksHash != nil)
            #expect(versions[0].blocksHash != versions[1].blocksHash)
            #expect(versions[2].blocksHash == nil)

            // The same history by `./`-prefixed and by absolute path.
            #expect(try history.vault.versions("./a/one.txt").map(\.sequence) == versions.map(\.sequence))
            #expect(try history.vault.versions(history.source + "/a/one.txt").map(\.sequence) == versions.map(\.sequence))
            // A file that never changed has one version; a path never seen is an error.
            #expect(try history.vault.versions("top.txt").count == 1)
            let unknown = try history.vault.run("versions", ["--json", "a/never.txt"])
            #expect(unknown.status != 0, "\(unknown)")
        }

        @Test("restore --include restores one file, or one subtree, and nothing else")
        func restoreIncludeRestoresOnlyWhatIsAsked() throws {
            let history = try History()
            defer { history.scratch.remove() }
            let (first, firstCopy) = history.taken[0]
            let isUnder = { (prefix: String, path: [UInt8]) in
                path == Array(prefix.utf8) || path.starts(with: Array((prefix + "/").utf8))
            }

            let oneFile = history.scratch.child("one-file")
            try history.vault.restore(first, to: oneFile, ["--include", "a/one.txt"])
            #expect(try Tree.entries(of: oneFile).keys.map(Files.display).sorted() == ["a", "a/one.txt"])
            let fileProblems = try Tree.differences(expected: firstCopy, actual: oneFile) { $0 != Array("a/one.txt".utf8) }
            #expect(fileProblems.isEmpty, "\(fileProblems)")

            let subtree = history.scratch.child("subtree")
            try history.vault.restore(first, to: subtree, ["--include", "a"])
            #expect(!Files.exists(subtree + "/top.txt"))
            let subtreeProblems = try Tree.differences(expected: firstCopy, actual: subtree) { !isUnder("a", $0) }
            #expect(subtreeProblems.isEmpty, "\(subtreeProblems)")

            // Two includes; from the second snapshot, where a/one.txt is the grown version.
            let (second, secondCopy) = history.taken[1]
            let two = history.scratch.child("two-includes")
            try history.vault.restore(second, to: two, ["--include", "a/sub", "--include", "/top.txt"])
            #expect(!Files.exists(two + "/a/one.txt"))
            let twoProblems = try Tree.differences(expected: secondCopy, actual: two) { !isUnder("a/sub", $0) && !isUnder("top.txt", $0) }
            #expect(twoProblems.isEmpty, "\(twoProblems)")
            let grown = history.scratch.child("grown")
            try history.vault.restore(second, to: grown, ["--include", "a/one.txt"])
            #expect(try Files.read(grown + "/a/one.txt").count == history.sizes[1])

            // The file is not in the third snapshot (it was deleted), so including it fails.
            let deleted = try history.vault.run("restore", ["--target", history.scratch.child("deleted"), "--include", "a/one.txt", history.taken[2].id])
            #expect(deleted.status != 0, "\(deleted)")
        }

        @Test("restore --include and ls take a path in every form versions takes: relative, ./-prefixed, absolute under the backed-up directory")
        func pathsInEveryForm() throws {
            let history = try History()
            defer { history.scratch.remove() }
            let (first, firstCopy) = history.taken[0]
            let expected = try Files.read(firstCopy + "/a/one.txt")
            for (index, form) in ["a/one.txt", "./a/one.txt", history.source + "/a/one.txt", history.source + "/a/"].enumerated() {
                let target = history.scratch.child("form-\(index)")
                try history.vault.restore(first, to: target, ["--include", form])
                #expect(try Files.read(target + "/a/one.txt") == expected, "\(form)")
                #expect(!Files.exists(target + "/top.txt"), "\(form) restored more than it names")
                let listed = String(decoding: try history.vault.expectSuccess(try history.vault.run("ls", [first, form])).stdout, as: UTF8.self)
                #expect(listed.contains("a/one.txt"), "ls \(form): \(listed)")
                #expect(!listed.contains("top.txt"), "ls \(form): \(listed)")
            }
            // The backed-up directory itself is the whole snapshot.
            let whole = history.scratch.child("form-whole")
            try history.vault.restore(first, to: whole, ["--include", history.source])
            #expect(Files.exists(whole + "/top.txt") && Files.exists(whole + "/a/sub/two.txt"))
        }

        @Test("restore --at picks the newest snapshot taken at or before the time")
        func restoreAtPicksTheRightSnapshot() throws {
            let history = try History()
            defer { history.scratch.remove() }
            let listed = try history.vault.snapshots()
            try #require(listed.map(\.id) == history.taken.map(\.id))
            let times = try listed.map { try #require(Self.rfc3339.date(from: $0.time), "time \($0.time)") }

            // Half-way between two snapshots: the older one. Long after the last one: the last one.
            var cases: [(at: String, expected: Int)] = []
            for index in 0..<2 {
                let middle = times[index].addingTimeInterval(times[index + 1].timeIntervalSince(times[index]) / 2)
                cases.append((Self.rfc3339.string(from: middle), index))
            }
            cases.append(("@\(Int(times[2].timeIntervalSince1970) + 3600)", 2))
            let day = ISO8601DateFormatter()
            day.formatOptions = [.withFullDate]
            cases.append((day.string(from: times[2].addingTimeInterval(2 * 86_400)), 2))
            // `YYYY-MM-DD HH:MM[:SS]` in UTC, a few seconds and a minute or two after the last one.
            let plain = DateFormatter()
            plain.locale = Locale(identifier: "en_US_POSIX")
            plain.timeZone = TimeZone(identifier: "UTC")
            plain.dateFormat = "yyyy-MM-dd HH:mm:ss"
            cases.append((plain.string(from: times[2].addingTimeInterval(2)), 2))
            plain.dateFormat = "yyyy-MM-dd HH:mm"
            cases.append((plain.string(from: times[2].addingTimeInterval(120)), 2))

            for (number, (at, expected)) in cases.enumerated() {
                let target = history.scratch.child("at-\(number)")
                let result = try history.vault.run("restore", ["--target", target, "--json", "--at", at, "latest"])
                #expect(result.succeeded, "--at \(at): \(result)")
                guard result.succeeded else { continue }
                let report = try result.decode(RestoreReport.self)
                #expect(report.snapshot == history.taken[expected].id,
                        "--at \(at) restored \(report.snapshot ?? "?"), expected snapshot \(expected + 1) (times \(listed.map(\.time)))")
                let problems = try Tree.differences(expected: history.taken[expected].copy, actual: target)
                #expect(problems.isEmpty, "--at \(at): \(problems)")
            }

            // Before the first snapshot there is nothing to restore.
            for at in ["2000-01-01", "@\(Int(times[0].timeIntervalSince1970) - 3600)"] {
                let target = history.scratch.child("too-early")
                let result = try history.vault.run("restore", ["--target", target, "--at", at, "latest"])
                #expect(result.status != 0, "--at \(at): \(result)")
                #expect(result.errorLines.count == 1 && result.errorOutput.hasPrefix("blockvault:"), "\(result)")
                #expect(!Files.exists(target + "/top.txt"))
            }
        }

        /// A user copies a snapshot's `time` from `snapshots --json` into `--at`: that snapshot, not the
        /// one before, must be restored. Eight snapshots, so a time printed with less precision than it
        /// is stored (and rounded down) shows up on nearly every run.
        @Test("restore --at with the time snapshots --json prints restores that very snapshot")
        func restoreAtPrintedTime() throws {
            let scratch = try ScratchDirectory("at-printed-time")
            defer { scratch.remove() }
            let source = scratch.child("source")
            try Files.makeDirectory(source)
            let vault = try TestVault.create(at: scratch.child("vault"))
            var ids: [String] = []
            for step in 0..<8 {
                try Files.write(source + "/counter.txt", text: "\(step)\n")
                ids.append(try vault.backup(source).snapshot)
            }
            let listed = try vault.snapshots()
            try #require(listed.map(\.id) == ids)
            var wrong: [String] = []
            for (index, snapshot) in listed.enumerated() {
                let result = try vault.run("restore", ["--target", scratch.child("restored-\(index)"), "--json", "--at", snapshot.time, "latest"])
                guard result.succeeded else {
                    wrong.append("--at \(snapshot.time) (snapshot \(index + 1)): \(result.errorOutput)")
                    continue
                }
                let restored = try result.decode(RestoreReport.self).snapshot
                if restored != snapshot.id {
                    wrong.append("--at \(snapshot.time) restored \(restored ?? "?") instead of \(snapshot.id) (snapshot \(index + 1))")
                } else {
                    #expect(try Files.read(scratch.child("restored-\(index)/counter.txt")) == Array("\(index)\n".utf8))
                }
            }
            #expect(wrong.isEmpty, "\(wrong.joined(separator: "\n"))")
        }

        /// RFC 3339 with fractional seconds, as `snapshots --json` prints times.
        static var rfc3339: ISO8601DateFormatter {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return formatter
        }
    }
}
