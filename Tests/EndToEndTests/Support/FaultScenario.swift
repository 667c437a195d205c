import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `check --json`.
struct CheckReport: Decodable {
    var ok: Bool
    var problems: [String]
    var notes: [String]
}

/// A vault with a history to protect: snapshots of a changing tree, each with a copy of the tree as
/// it was (`cp -a`), so every one of them can be restored and compared after a fault. The fault tests
/// share its checks of the rule "whatever fails, the vault stays readable, every earlier snapshot
/// restores exactly, the failure is one line on stderr with a non-zero exit status, and the next run
/// succeeds".
final class FaultScenario {
    let scratch: ScratchDirectory
    let source: String
    let vault: TestVault
    /// Snapshots recorded so far, oldest first, with the copy of the tree each must restore to.
    private(set) var recorded: [(id: String, copy: String)] = []
    private var restoreCount = 0
    private var copyCount = 0

    /// How much new data a backup under a fault has to store.
    enum Increment: String, Sendable {
        /// Nothing: the tree is as the last snapshot saw it.
        case none
        /// 600 KiB in two files and 200 small files: less than one pack file's 1 MiB staging buffer, so
        /// no worker writes to a data pack and the main thread writes the only one (in one `write`)
        /// when it flushes.
        case small
        /// 45 MiB in nine files and 2,000 small files: workers seal data packs, and the catalog's
        /// committer writes a few hundred pages.
        case large
    }

    /// A scenario in `scratch` (removed by the caller) with a vault at `vaultPath` (default
    /// `scratch/vault`) driven through `wrapper`.
    init(scratch: ScratchDirectory, vaultPath: String? = nil, wrapper: [String] = []) throws {
        self.scratch = scratch
        source = scratch.child("source")
        vault = try TestVault.create(at: vaultPath ?? scratch.child("vault"), wrapper: wrapper)
        try Files.makeDirectory(source)
    }

    /// Records two snapshots of about 2 MiB: a first tree, then the same with a file rewritten, one
    /// deleted, one added and one grown.
    func recordTwoSnapshots() throws {
        let base = source + "/base"
        for directory in [base, base + "/docs"] { try Files.makeDirectory(directory) }
        try Files.write(base + "/data-1.bin", DeterministicData.bytes(count: 1 << 20, seed: 7001))
        try Files.write(base + "/data-2.bin", DeterministicData.bytes(count: 700_000, seed: 7002))
        for index in 0..<40 {
            try Files.write(base + "/docs/note-\(index).txt", text: DeterministicData.text(lines: 5 + index % 7, seed: UInt64(7100 + index)))
        }
        try Files.write(base + "/empty", [])
        try Files.write(base + "/private.txt", text: "mode 0600\n", mode: 0o600)
        try Files.symlink(base + "/link", to: "docs/note-0.txt")
        try record(vault.backup(source).snapshot)

        try Files.write(base + "/docs/note-3.txt", text: DeterministicData.text(lines: 9, seed: 7203))
        try Files.remove(base + "/docs/note-4.txt")
        try Files.write(base + "/added.bin", DeterministicData.bytes(count: 100_000, seed: 7204))
        try Files.append(base + "/data-2.bin", DeterministicData.bytes(count: 50_000, seed: 7205))
        try record(vault.backup(source).snapshot)
    }

    /// `forget --keep-last 1`: only the latest recorded snapshot stays.
    func forgetAllButLatest() throws {
        try vault.expectSuccess(vault.run("forget", ["--keep-last", "1"]))
        recorded.removeFirst(recorded.count - 1)
    }

    /// Remembers `id` as a snapshot of the tree as it is now.
    func record(_ id: String) throws {
        copyCount += 1
        let copy = scratch.child("expected-\(copyCount)")
        try Files.copyTree(source, to: copy)
        recorded.append((id, copy))
    }

    /// Adds `increment` under `source/new-<seed>/`; returns the paths of the files it wrote.
    @discardableResult
    func add(_ increment: Increment, seed: UInt64) throws -> [String] {
        let (bigFiles, bigSize, smallFiles): (Int, Int, Int) = switch increment {
        case .none: (0, 0, 0)
        case .small: (2, 300 << 10, 200)
        case .large: (9, 5 << 20, 2000)
        }
        guard bigFiles + smallFiles > 0 else { return [] }
        let directory = source + "/new-\(seed)"
        try Files.makeDirectory(directory)
        try Files.makeDirectory(directory + "/small")
        var paths: [String] = []
        for index in 0..<bigFiles {
            paths.append(directory + "/big-\(index).bin")
            try Files.write(paths.last!, DeterministicData.bytes(count: bigSize, seed: seed &* 1000 &+ UInt64(index)))
        }
        var random = seed
        for index in 0..<smallFiles {
            paths.append(directory + "/small/file-\(index).bin")
            let size = 64 + Int(DeterministicData.next(&random) % 2000)
            try Files.write(paths.last!, DeterministicData.bytes(count: size, seed: seed &* 1000 &+ 500 &+ UInt64(index)))
        }
        return paths
    }

    /// Runs `blockvault SUBCOMMAND --repo VAULT arguments…` under `fault`; returns the result and how
    /// many calls strace failed.
    func run(_ subcommand: String, _ arguments: [String], under fault: SyscallFault) throws -> (result: CommandResult, injected: Int, calls: [String]) {
        let log = scratch.child("strace-\(UUID().uuidString).log")
        defer { unlink(log) }
        let faulty = TestVault(path: vault.path, wrapper: try fault.wrapper(log: log) + vault.wrapper)
        let result = try faulty.run(subcommand, arguments, timeout: 120)
        return (result, SyscallFault.injectedCount(log: log), SyscallFault.injectedCalls(log: log))
    }

    // MARK: The rule

    /// A failed command: exit status 1 (not a crash, not a hang), and exactly one line on stderr,
    /// `blockvault: …`.
    func expectCleanFailure(_ result: CommandResult, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!result.timedOut && !result.signaled && result.status == 1,
                "\(context): expected exit status 1: \(result)", sourceLocation: sourceLocation)
        #expect(result.errorLines.count == 1 && result.errorLines.first?.hasPrefix("blockvault: ") == true,
                "\(context): expected one line `blockvault: …` on stderr: \(result)", sourceLocation: sourceLocation)
    }

    /// After a failure: the snapshots are the recorded ones (the failed run added none), `check`
    /// finds no problem (notes are fine), and every recorded snapshot restores exactly.
    func expectVaultIntact(_ context: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let listed = try vault.snapshots()
        #expect(listed.map(\.id) == recorded.map(\.id), "\(context): snapshots after the failure", sourceLocation: sourceLocation)
        try expectCheckPasses(context, sourceLocation: sourceLocation)
        try expectRecordedSnapshotsRestore(context, sourceLocation: sourceLocation)
    }

    /// Every recorded snapshot restores exactly.
    func expectRecordedSnapshotsRestore(_ context: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for (id, copy) in recorded {
            try expectRestoresExactly(id, as: copy, context, sourceLocation: sourceLocation)
        }
    }

    /// `check` exits 0 and reports no problem.
    func expectCheckPasses(_ context: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let check = try vault.run("check", ["--json"])
        #expect(check.succeeded, "\(context): check: \(check)", sourceLocation: sourceLocation)
        if check.succeeded || check.status == 1, let report = try? check.decode(CheckReport.self) {
            #expect(report.ok && report.problems.isEmpty, "\(context): check found \(report.problems)", sourceLocation: sourceLocation)
        }
    }

    /// A backup without any fault succeeds, and its snapshot restores exactly.
    func expectNextBackupSucceeds(_ context: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let next = try vault.run("backup", ["--json", source])
        #expect(next.succeeded, "\(context): the next backup: \(next)", sourceLocation: sourceLocation)
        guard next.succeeded else { return }
        let report = try next.decode(BackupReport.self)
        #expect(report.errors == 0, "\(context): the next backup reported \(report.errors) errors", sourceLocation: sourceLocation)
        try record(report.snapshot)
        try expectRestoresExactly(report.snapshot, as: recorded.last!.copy, context + " (next backup)", sourceLocation: sourceLocation)
        try expectCheckPasses(context + " (after the next backup)", sourceLocation: sourceLocation)
    }

    /// Restores `id` into a new directory and compares it with `copy`.
    func expectRestoresExactly(_ id: String, as copy: String, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        restoreCount += 1
        let target = scratch.child("restore-\(restoreCount)")
        defer { try? Files.removeTree(target) }
        let restore = try vault.run("restore", ["--target", target, id])
        #expect(restore.succeeded, "\(context): restore of \(id): \(restore)", sourceLocation: sourceLocation)
        guard restore.succeeded else { return }
        let problems = try Tree.differences(expected: copy, actual: target)
        #expect(problems.isEmpty, "\(context): snapshot \(id) restores differently: \(problems.prefix(10))", sourceLocation: sourceLocation)
    }
}
