import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `forget --json`.
struct ForgetJSON: Decodable {
    struct Decision: Decodable {
        var id: String
        var time: String
        var keep: Bool
        var reasons: [String]
    }

    var dryRun: Bool
    var snapshots: [Decision]
    var versionsForgotten: Int
    var versionsKept: Int
}

/// `prune --json`.
struct PruneJSON: Decodable {
    var blocksUsed: Int
    var blocksUnused: Int
    var packsDeleted: Int
    var packsRepacked: Int
    var packsWritten: Int
    var bytesBefore: Int64
    var bytesAfter: Int64
    var damaged: [String]
    var seconds: Double
}

extension EndToEndTests.LifecycleTests {
    /// Rounds of backups: each replaces `data/round.bin` (1 MB of new bytes, garbage once the snapshots
    /// showing it are forgotten), adds `keep/round-N.bin` (300 KB every later snapshot keeps) and grows
    /// `note.txt`, so each round's data pack holds data that stays beside data that goes.
    static func rounds(_ life: LifecycleVault, count: Int) throws {
        try Files.makeDirectory(life.source + "/data")
        try Files.makeDirectory(life.source + "/keep")
        for round in 1...count {
            try Files.write(life.source + "/data/round.bin", DeterministicData.bytes(count: 1_000_000, seed: UInt64(950 + round)))
            try Files.write(life.source + "/keep/round-\(round).bin", DeterministicData.bytes(count: 300_000, seed: UInt64(970 + round)))
            try Files.write(life.source + "/note.txt", text: DeterministicData.text(lines: 10 * round, seed: 990))
            try life.backup()
        }
    }

    /// Everything a dry run must leave alone: the catalog's contents and every file under packs/.
    static func vaultState(_ life: LifecycleVault, _ vaultPath: String? = nil) throws -> (catalog: String, files: [String: Int64]) {
        let path = vaultPath ?? life.path
        let dump = try Tool.output(SQLiteShell.executable, [path + "/catalog.db", ".dump"])
        return (dump, try packFiles(path))
    }

    /// Every file under `VAULT/packs` (temporary files too) with its size.
    static func packFiles(_ vaultPath: String) throws -> [String: Int64] {
        var files: [String: Int64] = [:]
        for (path, entry) in try Tree.entries(of: vaultPath + "/packs") where entry.type == .file {
            files[Files.display(path)] = entry.size
        }
        return files
    }

    func forget(_ life: LifecycleVault, _ arguments: [String]) throws -> ForgetJSON {
        try life.vault.expectSuccess(life.vault.run("forget", arguments + ["--json"])).decode(ForgetJSON.self)
    }

    func prune(_ vault: TestVault, _ arguments: [String] = []) throws -> PruneJSON {
        try vault.expectSuccess(vault.run("prune", arguments + ["--json"])).decode(PruneJSON.self)
    }

    @Test("forget --keep-last 2 then prune: the vault shrinks, kept snapshots restore byte for byte, a rebuild keeps the rest forgotten")
    func forgetAndPruneReclaimSpace() throws {
        let life = try LifecycleVault("life-prune")
        defer { life.scratch.remove() }
        try Self.rounds(life, count: 6)
        let kept = Array(life.taken.suffix(2))
        let before = try life.vault.packBytes()

        let forgot = try forget(life, ["--keep-last", "2"])
        #expect(!forgot.dryRun && forgot.snapshots.count == 6)
        #expect(forgot.snapshots.filter(\.keep).map(\.id) == kept.map(\.id))
        #expect(forgot.versionsForgotten >= 4, "four replaced versions of data/round.bin at least: \(forgot.versionsForgotten)")
        #expect(try life.vault.snapshots().map(\.id) == kept.map(\.id))

        let pruned = try prune(life.vault)
        #expect(pruned.damaged.isEmpty && pruned.bytesAfter < pruned.bytesBefore, "\(pruned)")
        let after = try life.vault.packBytes()
        #expect(after <= before - 3_500_000, "four forgotten megabytes of data/round.bin: \(before) → \(after) bytes")
        let (checked, report) = try life.checkJSON(["--read-data"])
        #expect(checked.succeeded && report.notes.isEmpty, "\(checked)")
        try life.expectSnapshotsRestore(kept, "after forget and prune")
        let forgotten = try life.vault.run("restore", ["--target", life.scratch.child("forgotten"), life.taken[0].id])
        #expect(forgotten.status == 1 && forgotten.errorLines.count == 1, "a forgotten snapshot is gone: \(forgotten)")

        // A catalog rebuilt from the packs keeps the forgotten snapshots forgotten.
        life.removeCatalog()
        let repair = try life.vault.run("repair", ["--apply", "--json"])
        let repaired = try repair.decode(RepairJSON.self)
        #expect(repair.succeeded && repaired.broken.isEmpty, "\(repair)")
        #expect(try life.vault.snapshots().map(\.id) == kept.map(\.id))
        let rebuiltCheck = try life.check(["--read-data"])
        #expect(rebuiltCheck.succeeded, "\(rebuiltCheck)")
        try life.expectSnapshotsRestore(kept, "after forget, prune and a rebuild")
    }

    @Test("forget --dry-run and prune --dry-run change nothing")
    func dryRunsChangeNothing() throws {
        let life = try LifecycleVault("life-dryrun")
        defer { life.scratch.remove() }
        try Self.rounds(life, count: 4)
        let initial = try Self.vaultState(life)

        let wouldForget = try forget(life, ["--keep-last", "1", "--dry-run"])
        #expect(wouldForget.dryRun && wouldForget.snapshots.filter { !$0.keep }.count == 3 && wouldForget.versionsForgotten > 0)
        let afterDryForget = try Self.vaultState(life)
        #expect(afterDryForget.catalog == initial.catalog, "forget --dry-run changed the catalog")
        #expect(afterDryForget.files == initial.files, "forget --dry-run changed packs/")
        #expect(try life.vault.snapshots().map(\.id) == life.taken.map(\.id))

        let forgot = try forget(life, ["--keep-last", "1"])
        #expect(forgot.versionsForgotten == wouldForget.versionsForgotten, "the dry run said what forget then did")
        #expect(forgot.snapshots.map(\.keep) == wouldForget.snapshots.map(\.keep))
        let forgotten = try Self.vaultState(life)
        let wouldPrune = try prune(life.vault, ["--dry-run"])
        #expect(wouldPrune.bytesAfter < wouldPrune.bytesBefore && wouldPrune.packsDeleted + wouldPrune.packsRepacked > 0, "\(wouldPrune)")
        let afterDryPrune = try Self.vaultState(life)
        #expect(afterDryPrune.catalog == forgotten.catalog, "prune --dry-run changed the catalog")
        #expect(afterDryPrune.files == forgotten.files, "prune --dry-run changed packs/")
        let pruned = try prune(life.vault)
        // The dry run estimates (repacked packs get new footers), so only to within a few KiB.
        #expect(abs(pruned.bytesAfter - wouldPrune.bytesAfter) <= 16 << 10, "the dry run said what prune then did: \(wouldPrune) vs \(pruned)")
        #expect(pruned.packsDeleted == wouldPrune.packsDeleted && pruned.packsRepacked == wouldPrune.packsRepacked, "\(wouldPrune) vs \(pruned)")
    }

    @Test("prune and forget are idempotent: run again, they change nothing")
    func pruneIsIdempotent() throws {
        let life = try LifecycleVault("life-idempotent")
        defer { life.scratch.remove() }
        try Self.rounds(life, count: 5)
        _ = try forget(life, ["--keep-last", "2"])
        let first = try prune(life.vault)
        #expect(first.packsRepacked + first.packsDeleted > 0, "\(first)")
        let state = try Self.vaultState(life)

        let second = try prune(life.vault)
        #expect(second.packsDeleted == 0 && second.packsRepacked == 0 && second.packsWritten == 0, "\(second)")
        #expect(second.bytesBefore == first.bytesAfter && second.bytesAfter == second.bytesBefore, "\(second)")
        let again = try forget(life, ["--keep-last", "2"])
        #expect(again.versionsForgotten == 0 && again.snapshots.allSatisfy(\.keep), "\(again)")
        let unchanged = try Self.vaultState(life)
        #expect(unchanged.files == state.files, "a second prune or forget changed packs/")
        #expect(unchanged.catalog == state.catalog, "a second prune or forget changed the catalog")
        try life.expectSnapshotsRestore(Array(life.taken.suffix(2)), "after two prunes")
    }

    /// After a prune killed in `killedVault`: check --read-data passes (garbage is a note at most) and
    /// the kept snapshots restore; a new prune then finishes, leaving the vault as an uninterrupted
    /// prune leaves it (`expectedBytes` under packs/), without garbage.
    func expectRecoveryFromKilledPrune(_ life: LifecycleVault, _ killedVault: TestVault, kept: [(id: String, copy: String)],
                                       expectedBytes: Int64, context: String) throws -> [String] {
        var problems: [String] = []
        let check = try killedVault.run("check", ["--read-data", "--json"])
        #expect(check.succeeded, "\(context): \(check)")
        try life.expectSnapshotsRestore(kept, context, in: killedVault)

        let finished = try killedVault.run("prune", ["--json"])
        #expect(finished.succeeded, "\(context): the next prune: \(finished)")
        let after = try killedVault.run("check", ["--read-data", "--json"])
        let report = try after.decode(CheckJSON.self)
        #expect(after.succeeded, "\(context): after the next prune: \(after)")
        let bytes = try Self.packFiles(killedVault.path).values.reduce(0, +)
        if bytes > expectedBytes + 4096 || !report.notes.isEmpty {
            problems.append("\(context): \(bytes) bytes under packs/ after the next prune, \(expectedBytes) after an uninterrupted one; notes \(report.notes); files \(try Self.packFiles(killedVault.path).keys.sorted())")
        }
        try life.expectSnapshotsRestore(kept, context + ", after the next prune", in: killedVault)
        let idle = try prune(killedVault)
        #expect(idle.packsDeleted == 0 && idle.packsRepacked == 0 && idle.packsWritten == 0, "\(context): a third prune: \(idle)")
        return problems
    }

    /// A vault of six rounds with all but two snapshots forgotten, ready for prune; and how large
    /// its packs/ is after an uninterrupted prune.
    func forgottenRounds(_ label: String) throws -> (life: LifecycleVault, pristine: String, expectedBytes: Int64, typical: Double) {
        let life = try LifecycleVault(label)
        try Self.rounds(life, count: 6)
        _ = try forget(life, ["--keep-last", "2"])
        let pristine = try life.copyVault(to: "pristine")
        let timed = try life.vault.run("prune")
        guard timed.succeeded else { throw TestFailure("\(timed)") }
        let expectedBytes = try Self.packFiles(life.path).values.reduce(0, +)
        return (life, pristine, expectedBytes, timed.seconds)
    }

    @Test("kill -9 during prune at random moments: check --read-data passes, kept snapshots restore, the next prune finishes")
    func killedPruneAtRandomMoments() throws {
        let (life, pristine, expectedBytes, typical) = try forgottenRounds("life-killprune")
        defer { life.scratch.remove() }
        let kept = Array(life.taken.suffix(2))
        let vault = TestVault(path: life.scratch.child("killed"))
        var random: UInt64 = 0x7072_756E_65
        var killed = 0
        let runs = 5
        for run in 0..<runs {
            try? Files.removeTree(vault.path)
            try Files.copyTree(pristine, to: vault.path)
            let fraction = (Double(run) + Double(DeterministicData.next(&random) % 1000) / 1000) / Double(runs)
            let delay = 0.002 + typical * 1.1 * fraction
            let context = "run \(run): killed after \(String(format: "%.3f", delay)) s of a typical \(String(format: "%.3f", typical)) s"
            let running = try vault.start("prune")
            usleep(UInt32(delay * 1_000_000))
            running.killHard()
            let result = running.wait(timeout: 60)
            #expect(!result.timedOut && (result.succeeded || (result.signaled && result.status == SIGKILL)), "\(context): \(result)")
            if !result.succeeded { killed += 1 }
            // Garbage left behind is asserted at every system call by the strace test below; a random
            // moment only sometimes lands in those windows, so here it is not, to keep this test stable.
            _ = try expectRecoveryFromKilledPrune(life, vault, kept: kept, expectedBytes: expectedBytes, context: context)
        }
        #expect(killed >= 2, "most runs should have been killed before they finished: \(killed) of \(runs)")
    }

    @Test("kill -9 at each rename, unlink, fsync and fdatasync of prune: nothing is lost, and the next prune leaves no garbage",
          .enabled(if: Tool.isAvailable("/usr/bin/strace")))
    func killedPruneAtEachStep() throws {
        let (life, pristine, expectedBytes, _) = try forgottenRounds("life-prunesteps")
        defer { life.scratch.remove() }
        let kept = Array(life.taken.suffix(2))
        let vault = TestVault(path: life.scratch.child("killed"))
        var problems: [String] = []
        var kills: [String] = []
        for call in ["rename", "unlink", "fsync", "fdatasync"] {
            var step = 1
            while step <= 40 {
                try? Files.removeTree(vault.path)
                try Files.copyTree(pristine, to: vault.path)
                let wrapper = ["/usr/bin/strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=\(call)",
                               "-e", "inject=\(call):signal=KILL:when=\(step)"]
                let result = try Blockvault.run(["prune", "--repo", vault.path], wrapper: wrapper, timeout: 60)
                if result.succeeded { break }   // fewer calls than `step`: the whole prune ran
                #expect(result.signaled || result.status == 137, "\(call) #\(step): \(result)")
                kills.append("\(call) #\(step)")
                problems += try expectRecoveryFromKilledPrune(life, vault, kept: kept, expectedBytes: expectedBytes,
                                                              context: "killed at \(call) #\(step)")
                step += 1
            }
            #expect(step <= 40, "\(call): prune never got through under strace")
        }
        #expect(kills.count >= 6, "prune should make several renames, unlinks and syncs: \(kills)")
        #expect(problems.isEmpty, "garbage left behind: \(problems)")
    }

    @Test("a lost metadata pack holding a forget record: after the next backup, a rebuilt catalog still has those snapshots forgotten")
    func lostForgetRecordIsWrittenAgain() throws {
        let life = try LifecycleVault("life-forgetrecord")
        defer { life.scratch.remove() }
        try Self.rounds(life, count: 4)
        let metadataBefore = Set(try life.recordedPacks().filter { $0.kind == 1 }.map(\.name))
        _ = try forget(life, ["--keep-last", "1"])
        let forgetPacks = try life.recordedPacks().filter { $0.kind == 1 && !metadataBefore.contains($0.name) }
        try #require(forgetPacks.count == 1, "forget writes its record in one new metadata pack: \(forgetPacks)")
        _ = try prune(life.vault)
        try Files.remove(life.packPath(forgetPacks[0].name))

        let broken = try life.check()
        #expect(broken.status == 1 && Self.problemLines(broken).contains { $0.contains(forgetPacks[0].name) }, "\(broken)")
        try Files.append(life.source + "/note.txt", Array("after the loss\n".utf8))
        try life.backup()   // writes the metadata again
        let healed = try life.check(["--read-data"])
        #expect(healed.succeeded, "\(healed)")
        let snapshots = try life.vault.expectSuccess(life.vault.run("snapshots", ["--json"])).output

        life.removeCatalog()
        let repair = try life.vault.run("repair", ["--apply", "--json"])
        #expect(repair.succeeded, "\(repair)")
        let rebuilt = try life.vault.run("snapshots", ["--json"])
        #expect(rebuilt.output == snapshots, "forgotten snapshots came back with the rebuild:\n\(rebuilt.output)\nexpected:\n\(snapshots)")
        let check = try life.check()
        #expect(check.succeeded, "\(check)")
        try life.expectSnapshotsRestore(Array(life.taken.suffix(2)), "after the rebuild")
    }
}
