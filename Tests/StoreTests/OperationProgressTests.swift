import Chunker
import Testing
import TestSupport
@testable import Store
#if canImport(Glibc)
import Glibc
#endif

/// The counters that restore, check, prune and repair publish for a progress display: once the
/// operation has returned, they agree with its summary.
@Suite struct OperationProgressTests {
    /// A vault with one snapshot of: files of several sizes (one cut into several restore pieces),
    /// an empty file, a hard link and a symlink.
    final class Setup {
        let directory: TemporaryDirectory
        let vault: Vault

        init() throws {
            directory = try TemporaryDirectory(prefix: "blockvault-progress")
            try directory.makeDirectory("src")
            try directory.makeDirectory("src/sub")
            for index in 0..<12 {
                try directory.write(DeterministicData.randomBytes(count: 1_000 + index * 7_919, seed: UInt64(index)), to: "src/sub/file-\(index)")
            }
            try directory.write(DeterministicData.randomBytes(count: 9 << 20, seed: 99), to: "src/large")
            try directory.write([], to: "src/empty")
            guard link(directory.path(for: "src/large"), directory.path(for: "src/large-link")) == 0,
                  symlink("large", directory.path(for: "src/symlink")) == 0 else {
                throw TestFailure("cannot link: errno \(errno)")
            }
            try Vault.create(at: directory.path(for: "v"))
            vault = try Vault(path: directory.path(for: "v"))
            _ = try Backup(vault: vault).run(directory: directory.path(for: "src"))
        }
    }

    struct TestFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    @Test("restore counts every file it writes (hard links included) and each file's bytes once", arguments: [false, true])
    func restoreCountsMatchTheSummary(countFirst: Bool) throws {
        let setup = try Setup()
        let (folder, snapshot) = try setup.vault.snapshot("latest")
        var options = RestoreOptions()
        options.workers = 2
        options.countFirst = countFirst
        let progress = OperationProgress()
        let summary = try Restorer(vault: setup.vault, options: options, progress: progress)
            .run(snapshot: snapshot, folder: folder, target: setup.directory.path(for: "out"))
        #expect(summary.files == 15 && summary.bytes == Int64(9 << 20) + (0..<12).reduce(0) { $0 + 1_000 + Int64($1) * 7_919 })
        #expect(progress.itemsDone.load(ordering: .relaxed) == Int64(summary.files))
        #expect(progress.bytesDone.load(ordering: .relaxed) == summary.bytes)
        #expect(progress.totalsKnown.load(ordering: .relaxed) == countFirst)
        if countFirst {
            #expect(progress.itemsTotal.load(ordering: .relaxed) == Int64(summary.files))
            #expect(progress.bytesTotal.load(ordering: .relaxed) == summary.bytes)
        }
        #expect(progress.phase == "finishing")
    }

    @Test("restore of one subtree counts only what it selects")
    func restoreOfASubtreeCountsItsFiles() throws {
        let setup = try Setup()
        let (folder, snapshot) = try setup.vault.snapshot("latest")
        var options = RestoreOptions()
        options.includes = [Array("sub".utf8)]
        options.countFirst = true
        let progress = OperationProgress()
        let summary = try Restorer(vault: setup.vault, options: options, progress: progress)
            .run(snapshot: snapshot, folder: folder, target: setup.directory.path(for: "out"))
        #expect(summary.files == 12)
        #expect(progress.itemsTotal.load(ordering: .relaxed) == 12 && progress.itemsDone.load(ordering: .relaxed) == 12)
        #expect(progress.bytesTotal.load(ordering: .relaxed) == summary.bytes && progress.bytesDone.load(ordering: .relaxed) == summary.bytes)
    }

    @Test("check --read-data counts the packs it reads and their bytes, of the totals it announced")
    func checkCountsMatchTheReport() throws {
        let setup = try Setup()
        var options = CheckOptions()
        options.readData = true
        let checker = Checker(vault: setup.vault, options: options)
        let report = try checker.run()
        #expect(report.problems.isEmpty && report.packsRead > 0)
        #expect(checker.progress.phase == "reading packs")
        #expect(checker.progress.itemsDone.load(ordering: .relaxed) == Int64(report.packsRead))
        #expect(checker.progress.itemsTotal.load(ordering: .relaxed) == Int64(report.packsRead))
        #expect(checker.progress.bytesDone.load(ordering: .relaxed) == report.bytesRead)
        #expect(checker.progress.bytesTotal.load(ordering: .relaxed) == report.bytesRead)
    }

    @Test("repair --read-data counts every recorded pack it reads")
    func repairCountsThePacksItReads() throws {
        let setup = try Setup()
        var options = RepairOptions()
        options.readData = true
        let repair = Repair(vaultPath: setup.directory.path(for: "v"), options: options)
        let report = try repair.run()
        let packs = Int64(try setup.vault.catalog.packs().count)
        #expect(report.actions == ["nothing to repair"])
        #expect(repair.progress.phase == "finishing")
        #expect(repair.progress.itemsDone.load(ordering: .relaxed) == packs && repair.progress.itemsTotal.load(ordering: .relaxed) == packs)
        #expect(repair.progress.bytesDone.load(ordering: .relaxed) == repair.progress.bytesTotal.load(ordering: .relaxed))
    }
}
