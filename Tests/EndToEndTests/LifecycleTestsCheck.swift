import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEndTests.LifecycleTests {
    /// The `error: …` lines of `check`'s text output.
    static func problemLines(_ result: CommandResult) -> [String] {
        result.output.split(separator: "\n").filter { $0.hasPrefix("error: ") }.map(String.init)
    }

    @Test("a bit flipped in a data block: check passes, check --read-data and --read-data-subset name the file")
    func flippedBitIsFoundByReadingData() throws {
        let life = try LifecycleVault("life-bitflip")
        defer { life.scratch.remove() }
        try life.writeHistoryWithEdits()
        let block = try life.storedBlock(ofSourceFile: "data/target.bin")
        #expect(block.kind == 0, "data/target.bin's block should be in a data pack")
        try life.flipBit(in: block)

        let structural = try life.check()
        #expect(structural.succeeded, "the footer is intact, so the structural check finds nothing: \(structural)")

        // Each check runs on a copy of the damaged vault: a check that finds the block marks it missing
        // (for the next backup to store again), and a later check reports it as missing instead.
        var copies = 0
        func checkOnACopy(_ arguments: [String]) throws -> CommandResult {
            copies += 1
            return try TestVault(path: try life.copyVault(to: "checked-\(copies)")).run("check", arguments)
        }
        for arguments in [["--read-data"], ["--read-data-subset", "1/1"], ["--read-data-subset", "100%"]] {
            let result = try checkOnACopy(arguments)
            #expect(result.status == 1 && !result.signaled && !result.timedOut, "\(result)")
            let problems = Self.problemLines(result)
            #expect(problems.count == 1, "one damaged block, one line: \(result)")
            #expect(problems.first.map { $0.contains("data/target.bin") && $0.contains(block.pack) && $0.contains("breaks") } == true,
                    "the line names the pack and the file it breaks: \(result)")
            #expect(result.errorLines.count == 1 && result.errorOutput.contains("repair"), "\(result)")
        }

        // Parts n/t for n = 1…t read every pack exactly once: the damage shows in exactly one part.
        let packs = try life.recordedPacks().count
        var partsWithDamage = 0
        var packsRead = 0
        for part in 1...packs {
            let result = try checkOnACopy(["--read-data-subset", "\(part)/\(packs)", "--json"])
            let report = try result.decode(CheckJSON.self)
            packsRead += report.packsRead
            #expect(report.packsRead == 1, "part \(part)/\(packs): \(result)")
            if !report.ok {
                partsWithDamage += 1
                #expect(result.status == 1 && report.problems.contains { $0.contains("data/target.bin") }, "\(result)")
            }
        }
        #expect(partsWithDamage == 1)
        #expect(packsRead == packs)

        // A restore verifies what it reads: it fails naming the file rather than writing damaged bytes.
        let target = life.scratch.child("restored")
        let restore = try life.vault.run("restore", ["--target", target, "latest"])
        #expect(!restore.succeeded && restore.errorOutput.contains("data/target.bin"), "\(restore)")
        #expect(!Files.exists(target + "/data/target.bin"), "the damaged file must not be written")
    }

    @Test("a truncated pack and a deleted pack: check fails naming the files they break")
    func truncatedAndDeletedPacks() throws {
        let life = try LifecycleVault("life-lostpack")
        defer { life.scratch.remove() }
        try life.writeHistoryWithEdits()
        let block = try life.storedBlock(ofSourceFile: "data/target.bin")
        let packSize = Int(try Files.status(life.packPath(block.pack)).st_size)
        // docs/note-3.txt never changed: its one version lives in the same (first) data pack.
        #expect(try life.storedBlock(ofSourceFile: "docs/note-3.txt").pack == block.pack)

        var damaged: [(what: String, vault: String)] = []
        for (index, size) in [packSize / 2, packSize - 1].enumerated() {
            let copy = try life.copyVault(to: "truncated-\(index)")
            guard truncate(life.packPath(block.pack, in: copy), off_t(size)) == 0 else { throw FileSystemError("cannot truncate", copy) }
            damaged.append(("pack truncated to \(size) of \(packSize) bytes", copy))
        }
        try Files.remove(life.packPath(block.pack))
        damaged.append(("pack deleted", life.path))

        for (what, path) in damaged {
            let vault = TestVault(path: path)
            let result = try vault.run("check")
            #expect(result.status == 1 && !result.signaled, "\(what): \(result)")
            let problems = Self.problemLines(result)
            for file in ["data/target.bin", "docs/note-3.txt"] {
                #expect(problems.contains { $0.contains("breaks \(file) (") || $0.contains(", \(file) (") },
                        "\(what): no problem names \(file): \(result)")
            }
            #expect(problems.allSatisfy { $0.contains(block.pack) }, "\(what): every line names the pack: \(result)")
            let json = try vault.run("check", ["--json"])
            let report = try json.decode(CheckJSON.self)
            #expect(json.status == 1 && !report.ok && report.problems.count == problems.count, "\(what): \(json)")
        }
    }

    @Test("check --json has every field, and --read-data reads every pack, block and byte once")
    func checkJSONFields() throws {
        let life = try LifecycleVault("life-checkjson")
        defer { life.scratch.remove() }
        try life.writeHistoryWithEdits()
        let packs = try life.recordedPacks()
        let blocks = try SQLiteShell.rows(life.catalog, "SELECT sum(blocks) FROM packs").first.flatMap { Int($0[0]) }
        let packBytes = try life.vault.packBytes()

        let structural = try life.vault.run("check", ["--json"])
        #expect(structural.succeeded && structural.errorOutput.isEmpty, "\(structural)")
        let keys = Set(try structural.decode([String: JSONValue].self).keys)
        #expect(keys == ["ok", "problems", "notes", "packs_checked", "packs_read", "blocks_read", "bytes_read", "seconds"])
        let plain = try structural.decode(CheckJSON.self)
        #expect(plain.ok && plain.problems.isEmpty && plain.notes.isEmpty)
        #expect(plain.packsChecked == packs.count)
        #expect(plain.packsRead == 0 && plain.blocksRead == 0 && plain.bytesRead == 0)
        #expect(plain.seconds >= 0 && plain.seconds < 60)

        let (fullResult, full) = try life.checkJSON(["--read-data"])
        #expect(fullResult.succeeded && full.ok, "\(fullResult)")
        #expect(full.packsChecked == packs.count && full.packsRead == packs.count)
        #expect(full.blocksRead == blocks, "blocks read \(full.blocksRead), the packs hold \(blocks ?? -1)")
        #expect(full.bytesRead == packBytes, "bytes read \(full.bytesRead), the packs are \(packBytes) bytes")

        let (_, first) = try life.checkJSON(["--read-data-subset", "1/2"])
        let (_, second) = try life.checkJSON(["--read-data-subset", "2/2"])
        #expect(first.ok && second.ok)
        #expect(first.packsRead + second.packsRead == packs.count)
        #expect(first.blocksRead + second.blocksRead == full.blocksRead)
        #expect(first.bytesRead + second.bytesRead == full.bytesRead)
        let (_, half) = try life.checkJSON(["--read-data-subset", "50%"])
        #expect(half.packsRead == (packs.count + 1) / 2, "50% of \(packs.count) packs read \(half.packsRead)")

        // A sealed pack the catalog does not record is a note (left by an interrupted writer), not a problem.
        let stray = String(repeating: "ab", count: 16)
        if !Files.exists(life.path + "/packs/ab") { try Files.makeDirectory(life.path + "/packs/ab") }
        try Files.write(life.packPath(stray), try Files.read(life.packPath(packs[0].name)))
        let (noteResult, noted) = try life.checkJSON()
        #expect(noteResult.succeeded && noted.ok && noted.problems.isEmpty, "\(noteResult)")
        #expect(noted.notes.count == 1 && noted.notes.first?.contains(stray) == true, "\(noteResult)")
    }

    @Test("check --read-data-subset refuses what it cannot read, in one line",
          arguments: ["0%", "3/2", "abc", "101%", "0/2", "1/0", "-5%", "", "50", "2/5/7", "%", "nan%", "1.5/3"])
    func subsetParsing(_ text: String) throws {
        let life = try LifecycleVault("life-subset")
        defer { life.scratch.remove() }
        try Files.write(life.source + "/file.txt", text: "one\n")
        try life.backup()
        let result = try life.vault.run("check", ["--read-data-subset=\(text)"])
        #expect(!result.signaled && !result.timedOut && (result.status == 1 || result.status == 2), "\(result)")
        #expect(result.output.isEmpty, "nothing checked, nothing printed: \(result)")
        if result.status == 2 {
            // A usage error (an empty value): the parser's message names the option, its usage follows.
            #expect(result.errorLines.first?.contains("--read-data-subset") == true, "\(result)")
        } else {
            #expect(result.errorLines.count == 1 && result.errorOutput.hasPrefix("blockvault: "), "one line on stderr: \(result)")
            #expect(result.errorOutput.contains("'\(text)'"), "the message quotes what was given: \(result)")
        }
    }
}
