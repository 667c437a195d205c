import Foundation
import Testing

extension EndToEndTests {
    /// Mistakes a user makes: each fails with a non-zero status and one line on stderr, and changes nothing.
    @Suite("Bad input")
    struct BadInputTests {
        /// A vault with one snapshot of a small tree.
        struct Fixture {
            let scratch: ScratchDirectory
            let source: String
            let vault: TestVault
            let snapshot: String

            init(_ label: String) throws {
                scratch = try ScratchDirectory(label)
                source = scratch.child("source")
                try Files.makeDirectory(source)
                try Files.makeDirectory(source + "/sub")
                try Files.write(source + "/file.txt", text: "from the vault\n")
                try Files.write(source + "/sub/other.txt", text: DeterministicData.text(lines: 3, seed: 61))
                vault = try TestVault.create(at: scratch.child("vault"))
                snapshot = try vault.backup(source).snapshot
            }
        }

        static func expectOneErrorLine(_ result: CommandResult, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(!result.succeeded && !result.signaled && !result.timedOut, "\(result)", sourceLocation: sourceLocation)
            #expect(result.errorLines.count == 1, "stderr should be one line: \(result)", sourceLocation: sourceLocation)
            #expect(result.errorOutput.hasPrefix("blockvault: "), "\(result)", sourceLocation: sourceLocation)
        }

        @Test("without --repo or BLOCKVAULT_REPO a vault command fails with one line", arguments: [
            ["snapshots"], ["stats", "--json"], ["backup", "/tmp/blockvault-e2e-nowhere"], ["restore", "--target", "/tmp/blockvault-e2e-nowhere", "latest"],
            ["versions", "file.txt"], ["ls", "latest"], ["diff", "latest", "latest"], ["init"],
        ])
        func missingRepository(_ arguments: [String]) throws {
            let result = try Blockvault.run(arguments)
            Self.expectOneErrorLine(result)
            #expect(result.errorOutput.contains("--repo"), "the message should say what to pass: \(result)")
        }

        @Test("BLOCKVAULT_REPO stands in for --repo")
        func repositoryFromEnvironment() throws {
            let fixture = try Fixture("repo-environment")
            defer { fixture.scratch.remove() }
            let result = try Blockvault.run(["snapshots", "--json"], environment: ["BLOCKVAULT_REPO": fixture.vault.path])
            try #require(result.succeeded, "\(result)")
            #expect(try result.decode([SnapshotInfo].self).map(\.id) == [fixture.snapshot])
        }

        /// Failures against an existing vault with one snapshot.
        enum Mistake: String, CaseIterable, CustomTestStringConvertible {
            case backupOfMissingDirectory, backupOfAFile, openMissingVault, openDirectoryThatIsNotAVault
            case initOnNonEmptyDirectory, initOnExistingVault
            case restoreUnknownSnapshot, restoreNonHexSnapshot, restoreMissingPath, restoreIntoAFile, restoreAtUnreadableTime
            case diffUnknownSnapshot

            var testDescription: String { rawValue }
        }

        @Test("a mistake fails with one line on stderr and changes nothing", arguments: Mistake.allCases)
        func mistakeFailsCleanly(_ mistake: Mistake) throws {
            let fixture = try Fixture("mistake")
            defer { fixture.scratch.remove() }
            let vault = fixture.vault
            let target = fixture.scratch.child("target")
            let result: CommandResult
            switch mistake {
            case .backupOfMissingDirectory:
                result = try vault.run("backup", [fixture.scratch.child("no-such-directory")])
            case .backupOfAFile:
                result = try vault.run("backup", [fixture.source + "/file.txt"])
            case .openMissingVault:
                result = try Blockvault.run(["snapshots", "--repo", fixture.scratch.child("no-such-vault")])
                #expect(!Files.exists(fixture.scratch.child("no-such-vault")))
            case .openDirectoryThatIsNotAVault:
                result = try Blockvault.run(["backup", "--repo", fixture.source, fixture.source])
                #expect(try Tree.entries(of: fixture.source).count == 3, "nothing may be written into a directory that is not a vault")
            case .initOnNonEmptyDirectory:
                result = try Blockvault.run(["init", "--repo", fixture.source])
                #expect(try Tree.entries(of: fixture.source).count == 3, "init must not write into a non-empty directory")
            case .initOnExistingVault:
                result = try vault.run("init")
            case .restoreUnknownSnapshot:
                let unknown = fixture.snapshot.hasPrefix("0") ? "1111222233334444" : "0000111122223333"
                result = try vault.run("restore", ["--target", target, unknown])
            case .restoreNonHexSnapshot:
                result = try vault.run("restore", ["--target", target, "not-a-snapshot"])
            case .restoreMissingPath:
                result = try vault.run("restore", ["--target", target, "--include", "no/such/path", fixture.snapshot])
            case .restoreIntoAFile:
                result = try vault.run("restore", ["--target", fixture.source + "/file.txt", fixture.snapshot])
                #expect(try Files.read(fixture.source + "/file.txt") == Array("from the vault\n".utf8))
            case .restoreAtUnreadableTime:
                result = try vault.run("restore", ["--target", target, "--at", "yesterday", "latest"])
            case .diffUnknownSnapshot:
                result = try vault.run("diff", [fixture.snapshot, "ffffeeeeddddcccc"])
            }
            Self.expectOneErrorLine(result)
            // The vault is unchanged and still works.
            #expect(try vault.snapshots().map(\.id) == [fixture.snapshot])
            #expect(!Files.exists(target + "/file.txt"))
        }

        @Test("restore never replaces an existing file unless --overwrite is given")
        func restoreOverwrite() throws {
            let fixture = try Fixture("overwrite")
            defer { fixture.scratch.remove() }
            let target = fixture.scratch.child("target")
            try Files.makeDirectory(target)
            try Files.write(target + "/file.txt", text: "precious local edits\n")

            let refused = try fixture.vault.run("restore", ["--target", target, fixture.snapshot])
            Self.expectOneErrorLine(refused)
            #expect(refused.errorOutput.contains("file.txt"), "the message should name the file: \(refused)")
            #expect(try Files.read(target + "/file.txt") == Array("precious local edits\n".utf8))
            let leftovers = try Tree.entries(of: target).keys.map(Files.display).filter { $0.contains(".blockvault.") }
            #expect(leftovers.isEmpty, "temporary files left behind: \(leftovers)")

            try fixture.vault.restore(fixture.snapshot, to: target, ["--overwrite"])
            let problems = try Tree.differences(expected: fixture.source, actual: target)
            #expect(problems.isEmpty, "\(problems)")
        }

        @Test("a backup of a directory that has suddenly emptied is refused unless --allow-empty")
        func emptiedDirectoryIsRefused() throws {
            let fixture = try Fixture("emptied")
            defer { fixture.scratch.remove() }
            try Files.removeTree(fixture.source)
            try Files.makeDirectory(fixture.source)

            let refused = try fixture.vault.run("backup", [fixture.source])
            Self.expectOneErrorLine(refused)
            #expect(try fixture.vault.snapshots().map(\.id) == [fixture.snapshot], "no snapshot may record everything as deleted")
            let target = fixture.scratch.child("target")
            try fixture.vault.restore("latest", to: target)
            #expect(try Files.read(target + "/file.txt") == Array("from the vault\n".utf8))

            let allowed = try fixture.vault.backup(fixture.source, ["--allow-empty"])
            #expect(allowed.filesDeleted == 2)
            let empty = fixture.scratch.child("empty")
            try fixture.vault.restore(allowed.snapshot, to: empty)
            #expect(try Tree.entries(of: empty).isEmpty)
        }

        /// A symlink already in the target where the snapshot has a directory must not lead the restore
        /// outside the target: it either fails or replaces the link, but writes nothing through it.
        @Test("restore never writes outside the target through a symlink that is already in it", arguments: [false, true])
        func restoreDoesNotFollowSymlinksInTarget(overwrite: Bool) throws {
            let fixture = try Fixture("target-symlink")
            defer { fixture.scratch.remove() }
            let outside = fixture.scratch.child("outside")
            try Files.makeDirectory(outside, mode: 0o711)
            let outsideBefore = try Files.status(outside)
            let target = fixture.scratch.child("target")
            try Files.makeDirectory(target)
            try Files.symlink(target + "/sub", to: outside)

            let result = try fixture.vault.run("restore", ["--target", target] + (overwrite ? ["--overwrite"] : []) + [fixture.snapshot])
            let written = try Tree.entries(of: outside).keys.map(Files.display)
            #expect(written.isEmpty, "restore wrote \(written) outside the target: \(result)")
            let outsideAfter = try Files.status(outside)
            #expect(outsideAfter.st_mode == outsideBefore.st_mode, "restore changed the mode of a directory outside the target")
            #expect(outsideAfter.st_mtim.tv_sec == outsideBefore.st_mtim.tv_sec && outsideAfter.st_mtim.tv_nsec == outsideBefore.st_mtim.tv_nsec)
            if result.succeeded {
                let problems = try Tree.differences(expected: fixture.source, actual: target)
                #expect(problems.isEmpty, "a successful restore must have replaced the link: \(problems)")
            }
        }
    }
}
