import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEndTests.LifecycleTests {
    /// A vault of 3,000 small files in 30 directories, two snapshots (three directories edited).
    static func manyFiles(_ life: LifecycleVault) throws {
        for directory in 0..<30 {
            try Files.makeDirectory("\(life.source)/dir-\(directory)")
            for file in 0..<100 {
                try Files.write("\(life.source)/dir-\(directory)/file-\(file).txt", text: "file \(file) of directory \(directory)\n")
            }
        }
        try life.backup()
        for directory in 0..<3 { try Files.append("\(life.source)/dir-\(directory)/file-0.txt", Array("edited\n".utf8)) }
        try Files.write(life.source + "/added.txt", text: DeterministicData.text(lines: 50, seed: 941))
        try life.backup()
    }

    @Test("kill -9 during repair --apply of a missing catalog: the catalog is absent or complete, and a new repair finishes")
    func killedRebuildLeavesOldOrNewCatalog() throws {
        let life = try LifecycleVault("life-killrepair")
        defer { life.scratch.remove() }
        try Self.manyFiles(life)
        let snapshots = try life.vault.expectSuccess(life.vault.run("snapshots", ["--json"])).output
        let history = try life.vault.expectSuccess(life.vault.run("versions", ["--json", "dir-0/file-0.txt"])).output

        // How long a rebuild takes here now, on a copy.
        let calibration = TestVault(path: try life.copyVault(to: "calibration"))
        for suffix in ["", "-wal", "-shm"] { unlink(calibration.path + "/catalog.db" + suffix) }
        let timed = try calibration.run("repair", ["--apply"])
        try #require(timed.succeeded, "\(timed)")
        try Files.removeTree(calibration.path)

        let runs = 6
        var random: UInt64 = 0x7265_7061_6972
        var killed = 0
        var rebuilt = 0
        for run in 0..<runs {
            life.removeCatalog()   // leftovers of an earlier killed run (catalog.db.rebuild…) stay
            let fraction = (Double(run) + Double(DeterministicData.next(&random) % 1000) / 1000) / Double(runs)
            let delay = 0.005 + timed.seconds * 1.1 * fraction
            let context = "run \(run): killed after \(String(format: "%.3f", delay)) s of a typical \(String(format: "%.3f", timed.seconds)) s"
            let running = try life.vault.start("repair", ["--apply"])
            usleep(UInt32(delay * 1_000_000))
            running.killHard()
            let result = running.wait(timeout: 60)
            #expect(!result.timedOut && (result.succeeded || (result.signaled && result.status == SIGKILL)), "\(context): \(result)")
            if !result.succeeded { killed += 1 }
            if Files.exists(life.catalog) {
                rebuilt += 1
                let listed = try life.vault.run("snapshots", ["--json"])
                #expect(listed.succeeded && listed.output == snapshots, "\(context): a catalog in place must be complete: \(listed)")
                let versions = try life.vault.run("versions", ["--json", "dir-0/file-0.txt"])
                #expect(versions.output == history, "\(context): \(versions)")
            } else {
                let refused = try life.vault.run("ls", ["latest"])
                #expect(refused.status == 1 && refused.errorOutput.contains("repair"), "\(context): \(refused)")
            }
        }
        #expect(killed >= 2, "most runs should have been killed before they finished: \(killed) of \(runs)")

        let final = try life.vault.run("repair", ["--apply"])
        #expect(final.succeeded, "\(final)")
        let listed = try life.vault.run("snapshots", ["--json"])
        #expect(listed.output == snapshots, "\(listed)")
        let check = try life.check(["--read-data"])
        #expect(check.succeeded, "\(check)")
        try life.expectSnapshotsRestore(nil, "after the killed repairs (\(killed) killed, \(rebuilt) left a catalog)")
    }

    @Test("kill -9 at each rename, unlink and fsync of repair --apply of a damaged catalog: the old catalog or the new one is in place",
          .enabled(if: Tool.isAvailable("/usr/bin/strace")))
    func killAtEachStepOfReplacingDamagedCatalog() throws {
        let life = try LifecycleVault("life-killsteps")
        defer { life.scratch.remove() }
        try life.writeHistoryWithEdits()
        let snapshots = try life.vault.expectSuccess(life.vault.run("snapshots", ["--json"])).output
        try life.overwriteCatalogPage()
        let pristine = try life.copyVault(to: "pristine")
        let damagedBytes = try Files.read(life.catalog)

        var outcomes: [String] = []
        var broken: [String] = []
        // strace counts each system call separately, so each is swept on its own: kill at its 1st, 2nd, …
        // call until a run gets through them all.
        for call in ["rename", "unlink", "fsync"] {
            var step = 1
            while step <= 40 {
                try Files.removeTree(life.path)
                try Files.copyTree(pristine, to: life.path)
                let wrapper = ["/usr/bin/strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=\(call)",
                               "-e", "inject=\(call):signal=KILL:when=\(step)"]
                let result = try Blockvault.run(["repair", "--repo", life.path, "--apply"], wrapper: wrapper, timeout: 60)
                if result.succeeded { break }   // fewer calls than `step`: the whole repair ran
                #expect(result.signaled || result.status == 137, "\(call) #\(step): \(result)")
                let state: String
                if !Files.exists(life.catalog) {
                    state = "no catalog.db"
                } else if try Files.read(life.catalog) == damagedBytes {
                    state = "old"
                } else {
                    let listed = try life.vault.run("snapshots", ["--json"])
                    state = listed.output == snapshots ? "new" : "a catalog that is neither old nor complete: \(listed)"
                }
                outcomes.append("\(call) #\(step): \(state)")
                if state != "old" && state != "new" { broken.append("killed at \(call) #\(step): \(state)") }

                // Whatever was left, a new repair finishes the job.
                let again = try life.vault.run("repair", ["--apply"])
                #expect(again.succeeded, "after a kill at \(call) #\(step): \(again)")
                let listed = try life.vault.run("snapshots", ["--json"])
                #expect(listed.output == snapshots, "after a kill at \(call) #\(step) and a new repair: \(listed)")
                step += 1
            }
            #expect(step > 1 && step <= 40, "\(call): \(step - 1) kills before a run got through: \(outcomes)")
        }
        #expect(broken.isEmpty, "a kill left neither the old catalog nor the new one: \(broken); every kill: \(outcomes)")
        let check = try life.check(["--read-data"])
        #expect(check.succeeded, "\(check)")
        try life.expectSnapshotsRestore(nil, "after the last kill and a new repair")
    }
}
