import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEndTests {
    /// Progress of the long commands: a line on a terminal, JSON status lines with --json, nothing
    /// otherwise, and never anything on stdout but the command's own output.
    @Suite("Progress")
    struct ProgressTests {
        /// The harness turns progress off for every other test; these turn it back on.
        static let progressOn = ["BLOCKVAULT_PROGRESS": "1"]

        /// A vault with one snapshot of a small tree, and an empty replica to push to.
        struct Fixture {
            let scratch: ScratchDirectory
            let source: String
            let vault: TestVault

            init(_ label: String) throws {
                scratch = try ScratchDirectory(label)
                source = scratch.child("source")
                try Files.makeDirectory(source)
                try Files.makeDirectory(source + "/docs")
                for index in 0..<20 {
                    try Files.write(source + "/docs/note-\(index).txt", text: DeterministicData.text(lines: 5 + index, seed: UInt64(index)))
                }
                try Files.write(source + "/big.bin", DeterministicData.bytes(count: 3 << 20, seed: 7))
                try Files.hardLink(source + "/big-link.bin", to: source + "/big.bin")
                vault = try TestVault.create(at: scratch.child("vault"))
                _ = try vault.backup(source)
                try Files.write(source + "/new.bin", DeterministicData.bytes(count: 500_000, seed: 8))
            }

            func makeReplica(_ name: String) throws -> TestVault {
                let replica = TestVault(path: scratch.child(name))
                try replica.expectSuccess(replica.run("init", ["--receive-only"]))
                return replica
            }

            /// Each long command (its arguments after `--repo VAULT`), the noun its progress counts,
            /// and how its text summary on stdout begins.
            func commands(target: String, replica: TestVault) -> [(name: String, arguments: [String], noun: String, summary: String)] {
                [("backup", [source], "files", "snapshot "),
                 ("restore", ["--target", target, "latest"], "files", "restored snapshot "),
                 ("check", ["--read-data"], "packs", "checked "),
                 ("prune", ["--max-unused", "0"], "packs", ""),
                 ("repair", ["--read-data"], "packs", "nothing to repair"),
                 ("push", ["--to", replica.path], "blocks", "pushed to \(replica.path)")]
            }
        }

        /// Lines the far side of a push to a path (`blockvault serve`) writes to the stderr it shares.
        static func ownLines(_ lines: [String]) -> [String] { lines.filter { !$0.hasPrefix("blockvault serve:") } }

        @Test("on a terminal: one line rewritten in place, erased at the end; stdout holds only the summary")
        func terminal() throws {
            let fixture = try Fixture("progress-tty")
            defer { fixture.scratch.remove() }
            let replica = try fixture.makeReplica("replica")
            for command in fixture.commands(target: fixture.scratch.child("restored"), replica: replica) {
                let result = try PseudoTerminal.run([command.name, "--repo", fixture.vault.path] + command.arguments, environment: Self.progressOn)
                #expect(result.status == 0, "\(command.name): \(result)")
                // Drawn in place: back to the line's start, cleared, the elapsed time, the counts.
                #expect(result.transcript.contains("\r\u{1B}[K[0:"), "\(command.name) drew no progress line: \(result)")
                #expect(result.transcript.contains(" \(command.noun)"), "\(command.name)'s line counts no \(command.noun): \(result)")
                // Erased: nothing of it stays on the screen.
                let screen = Self.ownLines(result.screen).filter { !$0.isEmpty }
                #expect(screen.isEmpty, "\(command.name) left on the terminal: \(screen)")
                // stdout is the summary alone.
                #expect(result.stdout.hasPrefix(command.summary) && !result.stdout.isEmpty, "\(command.name): \(result)")
                #expect(!result.stdout.contains("\u{1B}") && !result.stdout.contains("\r") && !result.stdout.contains("[0:"),
                        "progress reached stdout: \(result)")
            }
            #expect(try Files.read(fixture.scratch.child("restored") + "/big.bin") == Files.read(fixture.source + "/big.bin"))
        }

        @Test("stderr not a terminal: no progress at all")
        func notATerminal() throws {
            let fixture = try Fixture("progress-file")
            defer { fixture.scratch.remove() }
            let replica = try fixture.makeReplica("replica")
            for command in fixture.commands(target: fixture.scratch.child("restored"), replica: replica) {
                let result = try Blockvault.run([command.name, "--repo", fixture.vault.path] + command.arguments, environment: Self.progressOn)
                #expect(result.succeeded, "\(result)")
                #expect(Self.ownLines(result.errorLines).isEmpty, "\(command.name) wrote progress to a file: \(result)")
                #expect(result.output.hasPrefix(command.summary), "\(result)")
            }
        }

        @Test("--json: every stderr line is a status line; the last says done, 100%, with the summary's totals")
        func jsonStatusLines() throws {
            let fixture = try Fixture("progress-json")
            defer { fixture.scratch.remove() }
            let replica = try fixture.makeReplica("replica")
            for command in fixture.commands(target: fixture.scratch.child("restored"), replica: replica) {
                let result = try Blockvault.run([command.name, "--repo", fixture.vault.path, "--json"] + command.arguments, environment: Self.progressOn)
                #expect(result.succeeded, "\(result)")
                let lines = Self.ownLines(result.errorLines)
                try #require(!lines.isEmpty, "\(command.name) wrote no status line: \(result)")
                let statuses = try lines.map { line in
                    try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
                }
                for status in statuses {
                    #expect(status["message_type"] as? String == "status" && status["command"] as? String == command.name, "\(status)")
                    #expect(status["seconds_elapsed"] as? Double != nil && status["phase"] as? String != nil, "\(status)")
                }
                let last = try #require(statuses.last)
                #expect(last["phase"] as? String == "done" && last["percent_done"] as? Double == 1, "\(command.name): \(last)")
                // stdout's JSON is untouched by all this, and the last status agrees with it.
                let summary = try JSONSerialization.jsonObject(with: result.stdout)
                let number = { (object: [String: Any], key: String) -> Int64? in (object[key] as? NSNumber)?.int64Value }
                switch command.name {
                case "backup":
                    let report = try #require(summary as? [String: Any])
                    #expect(number(last, "total_bytes") == number(report, "bytes_read") && number(last, "bytes_done") == number(report, "bytes_read"), "\(last) \(report)")
                    #expect(number(last, "files_done") == number(report, "files_new")! + number(report, "files_changed")!, "\(last) \(report)")
                    #expect(number(last, "total_files") == number(last, "files_done"), "\(last)")
                case "restore":
                    let report = try #require(summary as? [String: Any])
                    #expect(number(last, "files_done") == number(report, "files") && number(last, "total_files") == number(report, "files"), "\(last) \(report)")
                    #expect(number(last, "bytes_done") == number(report, "bytes") && number(last, "total_bytes") == number(report, "bytes"), "\(last) \(report)")
                case "check":
                    let report = try #require(summary as? [String: Any])
                    #expect(report["ok"] as? Bool == true, "\(report)")
                    #expect(number(last, "packs_done") == number(report, "packs_read") && number(last, "total_packs") == number(report, "packs_read"), "\(last) \(report)")
                    #expect(number(last, "bytes_done") == number(report, "bytes_read"), "\(last) \(report)")
                case "prune":
                    let report = try #require(summary as? [String: Any])
                    #expect(number(last, "packs_done") == number(report, "packs_repacked"), "\(last) \(report)")
                case "push":
                    let report = try #require((summary as? [[String: Any]])?.first)
                    #expect(last["peer"] as? String == replica.path, "\(last)")
                    #expect(number(last, "blocks_sent") == number(report, "blocks_sent") && number(last, "blocks_needed") == number(report, "blocks_sent"), "\(last) \(report)")
                    #expect(number(report, "blocks_sent")! > 0, "\(report)")
                default:
                    #expect(summary as? [String: Any] != nil, "\(result)")
                }
            }
        }

        @Test("--quiet, -q and BLOCKVAULT_PROGRESS=0 turn progress off", arguments: ["--quiet", "-q", "environment"])
        func turnedOff(_ how: String) throws {
            let fixture = try Fixture("progress-off")
            defer { fixture.scratch.remove() }
            let flags = how == "environment" ? [] : [how]
            let environment = how == "environment" ? ["BLOCKVAULT_PROGRESS": "0"] : Self.progressOn
            let onTerminal = try PseudoTerminal.run(["restore", "--repo", fixture.vault.path, "--target", fixture.scratch.child("a"), "latest"] + flags,
                                                    environment: environment)
            #expect(onTerminal.status == 0 && onTerminal.transcript.isEmpty, "\(onTerminal)")
            #expect(onTerminal.stdout.hasPrefix("restored snapshot "), "\(onTerminal)")
            let json = try Blockvault.run(["check", "--repo", fixture.vault.path, "--read-data", "--json"] + flags, environment: environment)
            #expect(json.succeeded && json.errorOutput.isEmpty, "\(json)")
        }
    }
}
