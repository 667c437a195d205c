import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEndTests {
    /// I/O faults injected with strace, a really full disk, and kill -9 during a restore. The rule under
    /// test: whatever fails, the vault is never left unreadable, every earlier snapshot restores
    /// exactly, the failure is one line on stderr with a non-zero exit status, and the next run
    /// succeeds.
    ///
    /// strace counts calls per thread. A backup's main thread writes the last data pack, the metadata
    /// packs and the error message (all `write`); its workers write the data packs they fill (`write`, a
    /// 1 MiB piece at a time); SQLite writes with `pwrite64` (the main thread at start and end, the committer thread in between)
    /// and syncs with `fdatasync`; packs and their directories are synced with `fsync`. The cases below
    /// pick the call numbers that reach each of these, and never the error message itself (what a
    /// failed error message does is `unwritableStandardError`'s subject).
    @Suite("Fault injection")
    struct FaultTests {
        /// A fault, the data the faulty backup has to store, and what the fault hits there.
        struct Fault: Sendable, CustomTestStringConvertible {
            var syscalls: String
            var action: String
            var when: String
            var increment: FaultScenario.Increment = .none
            /// `--workers` (nil: the default), to make the per-thread call numbers predictable.
            var workers: Int? = nil
            var hits: String
            /// What the error line must say (the fault hit what `hits` claims).
            var message: String

            var testDescription: String { "\(syscalls) \(action) when=\(when): \(hits)" }
            var fault: SyscallFault { SyscallFault(syscalls: syscalls, action: action, when: when) }
        }

        static let outOfSpace: [Fault] = [
            Fault(syscalls: "write", action: "error=ENOSPC", when: "2+", increment: .large, workers: 1,
                  hits: "the worker's second write to a data pack and every write after it",
                  message: ".pack.tmp: No space left on device"),
            Fault(syscalls: "write", action: "error=ENOSPC", when: "1..1", increment: .small,
                  hits: "the last data pack, written by the main thread",
                  message: ".pack.tmp: No space left on device"),
            Fault(syscalls: "write", action: "error=ENOSPC", when: "2..2", increment: .small,
                  hits: "the metadata pack",
                  message: ".pack.tmp: No space left on device"),
            Fault(syscalls: "pwrite64", action: "error=ENOSPC", when: "5+", increment: .small,
                  hits: "SQLite while the catalog is opened",
                  message: "blockvault: catalog: "),
            Fault(syscalls: "pwrite64", action: "error=ENOSPC", when: "50+", increment: .large,
                  hits: "SQLite in the committer's first batches",
                  message: "blockvault: catalog: "),
            Fault(syscalls: "pwrite64", action: "error=ENOSPC", when: "200+", increment: .large,
                  hits: "SQLite in a later committer batch",
                  message: "blockvault: catalog: "),
        ]

        static let failedSyncs: [Fault] = [
            Fault(syscalls: "fsync", action: "error=EIO", when: "1+", increment: .large, workers: 1,
                  hits: "the first pack (or its directory) synced",
                  message: "blockvault: cannot fsync "),
            Fault(syscalls: "fsync", action: "error=EIO", when: "3+", increment: .large, workers: 1,
                  hits: "a later pack or the directory it was renamed into",
                  message: "blockvault: cannot fsync "),
            Fault(syscalls: "fdatasync", action: "error=EIO", when: "1+", increment: .large,
                  hits: "SQLite's first commit",
                  message: "blockvault: catalog: "),
            Fault(syscalls: "fdatasync", action: "error=EIO", when: "1+", increment: .none,
                  hits: "the commit of a snapshot of an unchanged tree",
                  message: "blockvault: catalog: "),
        ]

        @Test("ENOSPC on a write during backup: exit 1 with one line, no snapshot, earlier snapshots exact, check clean, the next backup succeeds",
              arguments: outOfSpace)
        func outOfSpaceDuringBackup(_ fault: Fault) throws {
            try expectBackupFailsCleanly(fault, label: "enospc")
        }

        @Test("EIO on fsync or fdatasync during backup: exit 1 with one line, no snapshot, earlier snapshots exact, check clean, the next backup succeeds",
              arguments: failedSyncs)
        func failedSyncDuringBackup(_ fault: Fault) throws {
            try expectBackupFailsCleanly(fault, label: "eio-sync")
        }

        private func expectBackupFailsCleanly(_ fault: Fault, label: String) throws {
            let scratch = try ScratchDirectory(label)
            defer { scratch.remove() }
            let scenario = try FaultScenario(scratch: scratch)
            try scenario.recordTwoSnapshots()
            try scenario.add(fault.increment, seed: 11)
            let context = fault.testDescription
            let workers = fault.workers.map { ["--workers", String($0)] } ?? []
            let (failed, injected, calls) = try scenario.run("backup", workers + [scenario.source], under: fault.fault)
            #expect(injected > 0, "\(context): the fault never fired: \(failed)")
            scenario.expectCleanFailure(failed, "\(context) (failed: \(calls))")
            #expect(failed.errorOutput.contains(fault.message), "\(context): the error should say `\(fault.message)`: \(failed)")
            try scenario.expectVaultIntact(context)
            try scenario.expectNextBackupSucceeds(context)
        }

        // MARK: Faults during prune

        /// Faults for `prune --max-unused 0` after the first of two snapshots was forgotten: it repacks
        /// the first snapshot's partly used data pack and deletes the old one.
        static let pruneFaults: [Fault] = [
            Fault(syscalls: "write", action: "error=ENOSPC", when: "1..1", hits: "the repacked pack",
                  message: ".pack.tmp: No space left on device"),
            Fault(syscalls: "pwrite64", action: "error=ENOSPC", when: "20+", hits: "SQLite recording the repack",
                  message: "blockvault: catalog: "),
            Fault(syscalls: "fsync", action: "error=EIO", when: "3+", hits: "the directory of the repacked pack",
                  message: "blockvault: cannot fsync "),
            Fault(syscalls: "fdatasync", action: "error=EIO", when: "1+", hits: "SQLite's first commit",
                  message: "blockvault: catalog: "),
            Fault(syscalls: "unlink", action: "error=EIO", when: "1+", hits: "deleting the old pack",
                  message: "blockvault: cannot delete pack "),
        ]

        @Test("I/O errors during prune: exit 1 with one line, the kept snapshot exact, check clean, the next prune succeeds",
              arguments: pruneFaults)
        func faultDuringPrune(_ fault: Fault) throws {
            let scratch = try ScratchDirectory("prune-fault")
            defer { scratch.remove() }
            let scenario = try FaultScenario(scratch: scratch)
            try scenario.recordTwoSnapshots()
            try scenario.forgetAllButLatest()
            let context = fault.testDescription
            let (failed, injected, calls) = try scenario.run("prune", ["--max-unused", "0"], under: fault.fault)
            #expect(injected > 0, "\(context): the fault never fired: \(failed)")
            scenario.expectCleanFailure(failed, "\(context) (failed: \(calls))")
            #expect(failed.errorOutput.contains(fault.message), "\(context): the error should say `\(fault.message)`: \(failed)")
            try scenario.expectVaultIntact(context)

            let next = try scenario.vault.run("prune", ["--max-unused", "0"])
            #expect(next.succeeded, "\(context): the next prune: \(next)")
            let check = try scenario.vault.run("check", ["--read-data", "--json"])
            #expect(check.succeeded, "\(context): check --read-data after the next prune: \(check)")
            try scenario.expectRecordedSnapshotsRestore(context + " (after the next prune)")
            try scenario.expectNextBackupSucceeds(context)
        }

        // MARK: EINTR

        /// Every other read of every file the backup stores (and of config.json) is interrupted.
        /// Faults are kept to those paths: the dynamic loader and the Swift runtime's start-up do not
        /// retry EINTR, and that is not blockvault's code.
        @Test("EINTR on read of the files backed up (every other call) is retried: the backup succeeds and restores exactly")
        func interruptedReadsDuringBackup() throws {
            let scratch = try ScratchDirectory("eintr-read")
            defer { scratch.remove() }
            let scenario = try FaultScenario(scratch: scratch)
            try scenario.recordTwoSnapshots()
            let files = try scenario.add(.small, seed: 21)
            let fault = SyscallFault(syscalls: "read", action: "error=EINTR", when: "1+2",
                                     paths: files + [scenario.vault.path + "/config.json"])
            let (run, injected, calls) = try scenario.run("backup", ["--json", scenario.source], under: fault)
            try expectSucceeded(run, injected: injected, atLeast: files.count, calls: calls, scenario: scenario, "\(fault)")
        }

        /// Every other read SQLite makes of the catalog is interrupted.
        @Test("EINTR on pread64 of the catalog (every other call) is retried: the backup succeeds and restores exactly")
        func interruptedCatalogReadsDuringBackup() throws {
            let scratch = try ScratchDirectory("eintr-pread")
            defer { scratch.remove() }
            let scenario = try FaultScenario(scratch: scratch)
            try scenario.recordTwoSnapshots()
            try scenario.add(.small, seed: 22)
            let catalog = scenario.vault.path + "/catalog.db"
            let fault = SyscallFault(syscalls: "pread64", action: "error=EINTR", when: "1+2", paths: [catalog, catalog + "-wal"])
            let (run, injected, calls) = try scenario.run("backup", ["--json", scenario.source], under: fault)
            try expectSucceeded(run, injected: injected, atLeast: 1, calls: calls, scenario: scenario, "\(fault)")
        }

        /// Every other read of a pack or the catalog, and every other write of a restored file, is
        /// interrupted during a restore.
        @Test("EINTR on pread64 and pwrite64 during restore (every other call) is retried: the restore is exact")
        func interruptedCallsDuringRestore() throws {
            let scratch = try ScratchDirectory("eintr-restore")
            defer { scratch.remove() }
            let scenario = try FaultScenario(scratch: scratch)
            try scenario.recordTwoSnapshots()
            try scenario.add(.small, seed: 23)
            try scenario.record(scenario.vault.backup(scenario.source).snapshot)
            let target = scratch.child("target")
            let packs = try Tree.entries(of: scenario.vault.path + "/packs").filter { $0.value.type == .file }
                .map { scenario.vault.path + "/packs/" + String(decoding: $0.key, as: UTF8.self) }
            let temporaries = try temporaryPaths(restoring: scenario.source, into: target)
            let catalog = scenario.vault.path + "/catalog.db"
            let fault = SyscallFault(syscalls: "pread64,pwrite64", action: "error=EINTR", when: "1+2",
                                     paths: packs + temporaries + [catalog, catalog + "-wal"])
            let (run, injected, calls) = try scenario.run("restore", ["--target", target, scenario.recorded.last!.id], under: fault)
            #expect(run.succeeded, "\(fault): a call was not retried (\(calls)): \(run)")
            #expect(injected >= temporaries.count, "\(fault): only \(injected) calls were interrupted")
            guard run.succeeded else { return }
            let problems = try Tree.differences(expected: scenario.recorded.last!.copy, actual: target)
            #expect(problems.isEmpty, "\(fault): the restore differs: \(problems.prefix(10))")
        }

        /// The temporary names a restore of `source` into `target` writes its files under (docs/CLI.md;
        /// the names here are short).
        private func temporaryPaths(restoring source: String, into target: String) throws -> [String] {
            try Tree.entries(of: source).filter { $0.value.type == .file }.map { path, _ in
                let relative = String(decoding: path, as: UTF8.self)
                let slash = relative.lastIndex(of: "/")
                let directory = slash.map { "/" + relative[..<$0] } ?? ""
                let name = slash.map { String(relative[relative.index(after: $0)...]) } ?? relative
                return target + directory + "/.blockvault.\(name).tmp"
            }
        }

        /// Every other write is interrupted, the report on stdout included (EINTR must be retried,
        /// RELIABILITY.md): the backup succeeds and `--json` delivers its report.
        @Test("EINTR on write (every other call) is retried: the backup succeeds, restores exactly, and its --json report arrives")
        func interruptedWritesDuringBackup() throws {
            let scratch = try ScratchDirectory("eintr-write")
            defer { scratch.remove() }
            let scenario = try FaultScenario(scratch: scratch)
            try scenario.recordTwoSnapshots()
            try scenario.add(.large, seed: 24)
            let fault = SyscallFault(syscalls: "write", action: "error=EINTR", when: "1+2")
            let (run, injected, calls) = try scenario.run("backup", ["--json", scenario.source], under: fault)
            #expect(run.succeeded, "\(fault): a call was not retried (\(calls)): \(run)")
            #expect(injected >= 3, "\(fault): only \(injected) calls were interrupted")
            let snapshots = try scenario.vault.snapshots()
            #expect(snapshots.count == scenario.recorded.count + 1, "\(fault): the backup recorded no snapshot")
            #expect(!run.stdout.isEmpty, "\(fault): exit status \(run.status) but the --json report on stdout was lost (print() does not retry EINTR)")
            if let report = try? run.decode(BackupReport.self) {
                #expect(report.snapshot == snapshots.last?.id)
            }
            if run.succeeded, let last = snapshots.last, snapshots.count == scenario.recorded.count + 1 {
                try scenario.record(last.id)
                try scenario.expectRestoresExactly(last.id, as: scenario.recorded.last!.copy, "\(fault)")
            }
        }

        private func expectSucceeded(_ run: CommandResult, injected: Int, atLeast: Int, calls: [String],
                                     scenario: FaultScenario, _ context: String,
                                     sourceLocation: SourceLocation = #_sourceLocation) throws {
            #expect(run.succeeded, "\(context): a call was not retried (\(calls)): \(run)", sourceLocation: sourceLocation)
            #expect(injected >= atLeast, "\(context): only \(injected) calls were interrupted", sourceLocation: sourceLocation)
            guard run.succeeded else { return }
            let report = try run.decode(BackupReport.self)
            #expect(report.errors == 0, "\(context): \(run)", sourceLocation: sourceLocation)
            try scenario.record(report.snapshot)
            try scenario.expectRestoresExactly(report.snapshot, as: scenario.recorded.last!.copy, context, sourceLocation: sourceLocation)
            try scenario.expectCheckPasses(context, sourceLocation: sourceLocation)
        }

        // MARK: EIO reading one source file

        /// A read error on one new and one changed file: a partial snapshot (exit 3) naming both, which
        /// keeps the changed file's previous version and leaves the new one out; the next backup stores
        /// both.
        @Test("EIO reading one new and one changed source file: exit 3 naming both, a partial snapshot keeping the old version, the next backup complete")
        func readErrorOnSourceFiles() throws {
            let scratch = try ScratchDirectory("eio-read")
            defer { scratch.remove() }
            let scenario = try FaultScenario(scratch: scratch)
            try scenario.recordTwoSnapshots()
            let source = scenario.source
            let previous = scenario.recorded.last!
            try Files.write(source + "/base/new.bin", DeterministicData.bytes(count: 300_000, seed: 31))
            try Files.write(source + "/base/docs/note-5.txt", text: DeterministicData.text(lines: 12, seed: 32))
            try Files.write(source + "/base/docs/note-6.txt", text: DeterministicData.text(lines: 12, seed: 33))
            let unreadable = ["base/new.bin", "base/docs/note-5.txt"]
            let fault = SyscallFault(syscalls: "read", action: "error=EIO", when: "1+", paths: unreadable.map { source + "/" + $0 })
            let (partial, injected, _) = try scenario.run("backup", ["--json", source], under: fault)
            #expect(injected >= 2, "\(fault): only \(injected) reads failed")
            #expect(!partial.signaled && partial.status == 3, "\(partial)")
            for path in unreadable {
                #expect(partial.errorLines.contains { $0.hasPrefix("blockvault:") && $0.contains(source + "/" + path) },
                        "\(path) is not named on stderr: \(partial.errorOutput)")
            }
            #expect(partial.errorLines.allSatisfy { $0.hasPrefix("blockvault:") }, "\(partial.errorOutput)")
            let report = try partial.decode(BackupReport.self)
            #expect(report.errors == 2, "\(partial)")
            #expect(try scenario.vault.snapshots().last?.partial == true)

            // The partial snapshot: note-6 as it is now, note-5 as before, new.bin absent.
            let target = scratch.child("partial")
            try scenario.vault.restore(report.snapshot, to: target)
            let problems = try Tree.differences(expected: source, actual: target) { path in
                unreadable.contains(String(decoding: path, as: UTF8.self))
            }
            #expect(problems.isEmpty, "\(problems.prefix(10))")
            #expect(!Files.exists(target + "/base/new.bin"))
            #expect(try Files.read(target + "/base/docs/note-5.txt") == Files.read(previous.copy + "/base/docs/note-5.txt"))
            try Files.removeTree(target)

            try scenario.expectCheckPasses("after a partial backup")
            try scenario.expectRecordedSnapshotsRestore("after a partial backup")
            try scenario.expectNextBackupSucceeds("after a partial backup")
        }

        // MARK: An unwritable stderr

        /// When even the error line cannot be written (stderr on a full disk, here /dev/full, whose
        /// writes fail with ENOSPC), the command must still end with its documented status 1, not crash.
        @Test("a failure whose error line cannot be written (2>/dev/full) still exits 1, not by a crash")
        func unwritableStandardError() throws {
            let scratch = try ScratchDirectory("dev-full")
            defer { scratch.remove() }
            let missing = scratch.child("no-vault")
            let result = try Blockvault.run(["snapshots", "--repo", missing],
                                            environment: ["SWIFT_BACKTRACE": "enable=no"],
                                            wrapper: ["/bin/sh", "-c", "exec \"$0\" \"$@\" 2>/dev/full"])
            #expect(!result.signaled && result.status == 1,
                    "`blockvault snapshots --repo \(missing) 2>/dev/full`: \(result.signaled ? "killed by signal \(result.status)" : "exit status \(result.status)")")
        }

        // MARK: A really full disk

        /// The vault lives on an 8 MiB tmpfs mounted in a private mount namespace (root is needed to
        /// mount one; the test is skipped, saying why, when the mount is refused).
        @Test("a really full disk (8 MiB tmpfs in a private mount namespace): exit 1 with one line, earlier snapshots exact, backups succeed once there is room")
        func fullDisk() throws {
            let scratch = try ScratchDirectory("full-disk")
            defer { scratch.remove() }
            let disk: PrivateTmpfs
            do {
                disk = try PrivateTmpfs(at: scratch.child("disk"), size: "8m")
            } catch {
                try Test.cancel("no private tmpfs can be mounted here (uid \(getuid())): \(error)")
            }
            defer { disk.close() }
            let scenario = try FaultScenario(scratch: scratch, vaultPath: disk.mountPoint + "/vault", wrapper: disk.wrapper)
            try scenario.recordTwoSnapshots()

            // More than the disk holds.
            try Files.write(scenario.source + "/big.bin", DeterministicData.bytes(count: 10 << 20, seed: 41))
            let full = try scenario.vault.run("backup", [scenario.source])
            scenario.expectCleanFailure(full, "10 MiB more onto an 8 MiB disk")
            #expect(full.errorOutput.contains("No space left on device"), "the error should say the disk is full: \(full)")
            try scenario.expectVaultIntact("after the disk filled up")
            try Files.remove(scenario.source + "/big.bin")
            try scenario.expectNextBackupSucceeds("after deleting the big file")

            // Nearly full: 40 KiB left for 400 KiB of new small files.
            let filler = disk.mountPoint + "/filler"
            try disk.shell("cat /dev/zero > '\(filler)' 2>/dev/null; truncate -s -40K '\(filler)'")
            try Files.makeDirectory(scenario.source + "/more")
            for index in 0..<400 {
                try Files.write(scenario.source + "/more/file-\(index).bin", DeterministicData.bytes(count: 1024, seed: UInt64(4200 + index)))
            }
            let nearlyFull = try scenario.vault.run("backup", [scenario.source])
            scenario.expectCleanFailure(nearlyFull, "400 KiB more onto a disk with 40 KiB free")
            try scenario.expectVaultIntact("after the disk filled up again")
            try disk.shell("rm '\(filler)'")
            try scenario.expectNextBackupSucceeds("after deleting the filler")

            // A restore onto the full disk: one line naming the file, nothing wrong under a final name,
            // and once there is room, restore --overwrite into the same target is exact.
            let target = disk.mountPoint + "/target"
            try disk.shell("cat /dev/zero > '\(filler)' 2>/dev/null; truncate -s -1M '\(filler)'")
            let latest = scenario.recorded.last!
            let restore = try scenario.vault.run("restore", ["--target", target, latest.id])
            scenario.expectCleanFailure(restore, "restore of 2.4 MiB onto a disk with 1 MiB free")
            #expect(restore.errorOutput.contains("No space left on device"), "the error should say the disk is full: \(restore)")
            _ = try expectNoWrongFile(in: disk.visiblePath(target), source: latest.copy, "restore onto a full disk")
            try disk.shell("rm '\(filler)'")
            let again = try scenario.vault.run("restore", ["--overwrite", "--target", target, latest.id])
            #expect(again.succeeded, "restore --overwrite once there is room: \(again)")
            if again.succeeded {
                let problems = try Tree.differences(expected: latest.copy, actual: disk.visiblePath(target))
                #expect(problems.isEmpty, "restore --overwrite once there is room differs: \(problems.prefix(10))")
            }
        }

        // MARK: kill -9 during restore

        enum Kill: CustomStringConvertible {
            /// strace delivers SIGKILL as the process enters its N-th call of `syscall`.
            case atCall(String, Int)
            /// SIGKILL after this fraction of a whole restore's duration.
            case after(Double)

            var description: String {
                switch self {
                case .atCall(let syscall, let number): "SIGKILL at \(syscall) #\(number)"
                case .after(let fraction): "SIGKILL after \(Int(fraction * 100))% of a restore's time"
                }
            }
        }

        @Test("kill -9 during restore: no file under its final name with wrong content; restore --overwrite into the same target is exact")
        func killedRestore() throws {
            let scratch = try ScratchDirectory("kill-restore")
            defer { scratch.remove() }
            let source = scratch.child("source")
            try Files.makeDirectory(source)
            try Files.makeDirectory(source + "/a-big")
            for index in 0..<4 {
                try Files.write(source + "/a-big/file-\(index).bin", DeterministicData.bytes(count: 6 << 20, seed: UInt64(51 + index)))
            }
            for directory in 0..<6 {
                try Files.makeDirectory(source + "/dir-\(directory)")
                for index in 0..<50 {
                    try Files.write(source + "/dir-\(directory)/note-\(index).txt",
                                    text: DeterministicData.text(lines: 4 + index % 9, seed: UInt64(600 + directory * 100 + index)))
                }
            }
            try Files.symlink(source + "/dir-0/link", to: "note-1.txt")
            try Files.hardLink(source + "/dir-1/hard-link.txt", to: source + "/dir-1/note-2.txt")
            let vault = try TestVault.create(at: scratch.child("vault"))
            let snapshot = try vault.backup(source).snapshot

            // One whole restore: it must be exact, and it gives the time the timed kills aim into.
            let whole = try vault.run("restore", ["--target", scratch.child("whole"), snapshot])
            try #require(whole.succeeded, "\(whole)")
            #expect(try Tree.differences(expected: source, actual: scratch.child("whole")).isEmpty)

            let kills: [Kill] = [.atCall("pwrite64", 1), .atCall("pwrite64", 3), .atCall("pwrite64", 120),
                                 .atCall("rename", 1), .atCall("rename", 150), .after(0.3), .after(0.7)]
            for (number, kill) in kills.enumerated() {
                let target = scratch.child("target-\(number)")
                let context = "\(kill)"
                let killed: CommandResult
                switch kill {
                case .atCall(let syscall, let call):
                    let log = scratch.child("strace-\(number).log")
                    // Only calls on the restored files count (SQLite writes its shared-memory file too).
                    let fault = SyscallFault(syscalls: syscall, action: "signal=KILL", when: "\(call)",
                                             paths: try temporaryPaths(restoring: source, into: target))
                    killed = try TestVault(path: vault.path, wrapper: try fault.wrapper(log: log)).run("restore", ["--target", target, snapshot])
                    #expect(killed.signaled && killed.status == SIGKILL, "\(context): \(killed)")
                case .after(let fraction):
                    let running = try vault.start("restore", ["--target", target, snapshot])
                    usleep(UInt32(whole.seconds * fraction * 1_000_000))
                    running.killHard()
                    killed = running.wait(timeout: 60)
                    #expect(!killed.timedOut && (killed.succeeded || (killed.signaled && killed.status == SIGKILL)), "\(context): \(killed)")
                }
                let (temporaries, files) = try expectNoWrongFile(in: target, source: source, context)
                if case .atCall("pwrite64", _) = kill {
                    #expect(temporaries > 0, "\(context): killed while writing a file, yet no .blockvault.*.tmp file is left (\(files) files restored)")
                }

                let again = try vault.run("restore", ["--overwrite", "--target", target, snapshot])
                #expect(again.succeeded, "\(context): restore --overwrite after the kill: \(again)")
                if again.succeeded {
                    let problems = try Tree.differences(expected: source, actual: target)
                    #expect(problems.isEmpty, "\(context): restore --overwrite after the kill differs: \(problems.prefix(10))")
                }
                try Files.removeTree(target)
            }
        }

        /// Every regular file and symlink in `target` under its final name is exactly the source's;
        /// returns how many temporary files (`.blockvault.*.tmp`) and final files there are.
        private func expectNoWrongFile(in target: String, source: String, _ context: String) throws -> (temporaries: Int, files: Int) {
            guard Files.exists(target) else { return (0, 0) }
            var temporaries = 0
            var files = 0
            for (path, entry) in try Tree.entries(of: target) {
                let relative = String(decoding: path, as: UTF8.self)
                let name = relative.split(separator: "/").last.map(String.init) ?? relative
                if name.hasPrefix(".blockvault.") && name.hasSuffix(".tmp") {
                    temporaries += 1
                    continue
                }
                let original = source + "/" + relative
                let restored = target + "/" + relative
                switch entry.type {
                case .directory:
                    #expect(Files.exists(original), "\(context): \(relative) is not in the snapshot")
                case .file:
                    files += 1
                    guard let status = try? Files.status(original), status.st_mode & S_IFMT == S_IFREG else {
                        Issue.record("\(context): \(relative) is not a file of the snapshot")
                        continue
                    }
                    #expect(Int64(status.st_size) == entry.size, "\(context): \(relative) has \(entry.size) bytes, expected \(status.st_size)")
                    let difference = try Tree.firstDifference(Array(original.utf8), Array(restored.utf8))
                    #expect(difference == nil, "\(context): \(relative) differs at byte \(difference ?? -1)")
                case .symlink:
                    #expect(try Tree.readLink(Array(restored.utf8)) == Tree.readLink(Array(original.utf8)), "\(context): link \(relative)")
                case .fifo, .other:
                    Issue.record("\(context): unexpected \(entry.type) \(relative)")
                }
            }
            return (temporaries, files)
        }
    }
}
