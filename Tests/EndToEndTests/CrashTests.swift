import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEndTests {
    /// kill -9 at random moments during backups.
    @Suite("Crash safety")
    struct CrashTests {
        static let rounds = 5
        static let filesPerRound = 20
        static let fileSize = 10 << 20

        /// A snapshot that must restore exactly: its id and the rounds whose data it holds.
        struct Recorded {
            var id: String
            var rounds: Set<Int>
        }

        /// Each round adds 200 MiB of new data in `round-N/` (the earlier rounds' data stays on disk but
        /// is excluded from now on, so every round's backup has 200 MiB to store), starts a backup and
        /// kills it at a deterministic pseudo-random moment between 20 ms and the measured duration of
        /// such a backup (round r in the r-th fifth of that span). Then every snapshot recorded so far
        /// must restore exactly, and a new backup must succeed, restore exactly and reuse what the
        /// killed one stored.
        @Test("kill -9 during backup: earlier snapshots restore exactly, the next backup succeeds and reuses stored data")
        func killedBackupsLoseNothing() throws {
            let scratch = try ScratchDirectory("kill")
            defer { scratch.remove() }
            let source = scratch.child("source")
            try Files.makeDirectory(source)
            try Files.makeDirectory(source + "/base")
            for index in 0..<5 {
                try Files.write(source + "/base/file-\(index).txt", text: DeterministicData.text(lines: 30, seed: UInt64(50 + index)))
            }
            let vault = try TestVault.create(at: scratch.child("vault"))
            var recorded = [Recorded(id: try vault.backup(source).snapshot, rounds: [])]
            var random: UInt64 = 0x6B69_6C6C
            var typicalSeconds = 0.0
            var newBytes: Int64 = 0
            var resumedBytesAdded: Int64 = 0
            var killedRuns = 0
            var reuse: [(round: Int, fraction: Double)] = []

            for round in 1...Self.rounds {
                try Files.makeDirectory(source + "/round-\(round)")
                for index in 0..<Self.filesPerRound {
                    try Files.write(source + "/round-\(round)/file-\(index).bin",
                                    DeterministicData.bytes(count: Self.fileSize, seed: UInt64(round * 100 + index)))
                }
                let roundBytes = Int64(Self.filesPerRound * Self.fileSize)
                let arguments = (1..<round).flatMap { ["--exclude", "round-\($0)"] } + ["--json", source]
                if round == 1 {
                    // How long backing up one round's data takes on this machine now, in a throwaway vault.
                    let calibration = try TestVault.create(at: scratch.child("calibration"))
                    let run = try calibration.run("backup", arguments)
                    try #require(run.succeeded, "\(run)")
                    typicalSeconds = run.seconds
                    try Files.removeTree(calibration.path)
                }
                let fraction = (Double(round - 1) + Double(DeterministicData.next(&random) % 1000) / 1000) / Double(Self.rounds)
                // Kills land in the first 80% of a typical run: on a busy machine a run can be faster than
                // the calibration, and a kill planned for its last moments would find it finished.
                let delay = 0.02 + max(0, typicalSeconds - 0.02) * fraction * 0.8
                let context = "round \(round), killed after \(String(format: "%.3f", delay)) s of a typical \(String(format: "%.3f", typicalSeconds)) s"

                let running = try vault.start("backup", arguments)
                usleep(UInt32(delay * 1_000_000))
                running.killHard()
                let killed = running.wait(timeout: 120)
                #expect(!killed.timedOut, "\(killed)")
                let listed = try vault.snapshots().map(\.id)
                if killed.succeeded {
                    recorded.append(Recorded(id: try killed.decode(BackupReport.self).snapshot, rounds: [round]))   // finished before the kill
                } else {
                    #expect(killed.signaled && killed.status == SIGKILL, "\(killed)")
                    killedRuns += 1
                    // Killed after committing its snapshot, before exiting: a complete snapshot, checked below.
                    if listed.count == recorded.count + 1 && listed.dropLast().elementsEqual(recorded.map(\.id)) {
                        recorded.append(Recorded(id: listed.last!, rounds: [round]))
                    }
                }

                // A killed backup leaves no snapshot, and every earlier snapshot restores exactly.
                #expect(listed == recorded.map(\.id), "\(context)")
                for snapshot in recorded {
                    try expectRestoresExactly(vault, snapshot, source: source, scratch: scratch, context: context)
                }

                // The next backup succeeds, restores exactly, and adds at most the new data.
                let resumed = try vault.expectSuccess(vault.run("backup", arguments)).decode(BackupReport.self)
                #expect(resumed.errors == 0, "\(context)")
                #expect(resumed.bytesAdded <= roundBytes + 1 << 20, "\(context): added \(resumed.bytesAdded)")
                recorded.append(Recorded(id: resumed.snapshot, rounds: [round]))
                try expectRestoresExactly(vault, recorded.last!, source: source, scratch: scratch, context: context)
                newBytes += roundBytes
                resumedBytesAdded += resumed.bytesAdded
                reuse.append((round, Double(resumed.bytesAdded) / Double(roundBytes)))
            }

            let summary = reuse.map { "round \($0.round): resumed backup added \(Int($0.fraction * 100))% of the round's data" }
            #expect(killedRuns >= 3, "most backups should have been killed, not finished: \(killedRuns) of \(Self.rounds)")
            // What the killed backups stored and recorded was reused, not stored again: the late kills
            // (after the first packs were sealed and recorded) spare their resumed backups real work.
            #expect(resumedBytesAdded < newBytes, "resumed backups added \(resumedBytesAdded) of \(newBytes) new bytes: \(summary)")
            #expect(reuse.contains { $0.fraction <= 0.8 }, "no resumed backup reused a fifth of its data: \(summary)")
            let stats = try vault.stats()
            #expect(stats.uniqueBytes >= newBytes)
            #expect(stats.uniqueBytes < newBytes + 1 << 20, "unique bytes \(stats.uniqueBytes) for \(newBytes) bytes of data")
        }

        /// Restores `snapshot` and compares it with the source, leaving out the rounds it does not hold.
        private func expectRestoresExactly(_ vault: TestVault, _ snapshot: Recorded, source: String,
                                           scratch: ScratchDirectory, context: String) throws {
            let target = scratch.child("check")
            defer { try? Files.removeTree(target) }
            let restore = try vault.run("restore", ["--target", target, snapshot.id])
            #expect(restore.succeeded, "\(context): restore of \(snapshot.id): \(restore)")
            guard restore.succeeded else { return }
            let problems = try Tree.differences(expected: source, actual: target) { path in
                let first = String(decoding: path.prefix { $0 != 0x2F }, as: UTF8.self)
                guard first.hasPrefix("round-"), let number = Int(first.dropFirst(6)) else { return false }
                return !snapshot.rounds.contains(number)
            }
            #expect(problems.isEmpty, "\(context): snapshot \(snapshot.id) (rounds \(snapshot.rounds.sorted())): \(problems)")
        }
    }
}
