import Chunker
import Testing
import TestSupport
@testable import Store
#if canImport(Glibc)
import Glibc
#endif

/// A vault whose packs go through a `FaultInjectingStorage`, driven through the real Store API
/// (backup, restore, check): a storage that fails is reported loudly, never taken for good data
/// nor for damage, and a failed write leaves nothing the next backup trips over.
@Suite struct StorageFaultTests {
    /// A source tree, a vault of it over a fault-injecting storage, and one backup.
    final class Setup {
        let directory: TemporaryDirectory
        let storage: FaultInjectingStorage
        let vault: Vault

        init() throws {
            directory = try TemporaryDirectory(prefix: "blockvault-storage-faults")
            try directory.makeDirectory("src")
            for index in 0..<6 {
                let bytes = index % 2 == 0 ? DeterministicData.randomBytes(count: 300_000 + index * 1_000, seed: UInt64(index))
                                           : DeterministicData.textLikeBytes(count: 200_000 + index * 1_000, seed: UInt64(index))
                try directory.write(bytes, to: "src/file\(index)")
            }
            try Vault.create(at: directory.path(for: "v"))
            storage = FaultInjectingStorage(LocalBlobStorage(root: directory.path(for: "v")))
            vault = try Vault(path: directory.path(for: "v"), readOnly: false, storage: storage)
            try backup()
        }

        @discardableResult
        func backup() throws -> BackupSummary { try Backup(vault: vault).run(directory: directory.path(for: "src")) }

        func restore(into target: String) throws {
            let (folder, snapshot) = try vault.snapshot("latest")
            var options = RestoreOptions()
            options.workers = 2
            _ = try Restorer(vault: vault, options: options).run(snapshot: snapshot, folder: folder, target: directory.path(for: target))
        }

        func check() throws -> CheckReport {
            var options = CheckOptions()
            options.readData = true
            options.workers = 2
            return try Checker(vault: vault, options: options).run()
        }

        /// The names in `target` that differ from the source (missing ones included).
        func differences(in target: String) throws -> [String] {
            try FileSystem.listDirectory(Array(directory.path(for: "src").utf8)).map { String(decoding: $0, as: UTF8.self) }.filter { name in
                (try? FileSystem.readFile(directory.path(for: "\(target)/\(name)"))) != (try FileSystem.readFile(directory.path(for: "src/\(name)")))
            }
        }

        /// Every file under the vault's packs directory, hidden ones included.
        func filesUnderPacks() throws -> [String] {
            var found: [String] = []
            let packs = directory.path(for: "v/packs")
            for shard in try FileSystem.listDirectory(Array(packs.utf8)) {
                let shardName = String(decoding: shard, as: UTF8.self)
                for file in try FileSystem.listDirectory(Array("\(packs)/\(shardName)".utf8)) {
                    found.append(shardName + "/" + String(decoding: file, as: UTF8.self))
                }
            }
            return found.sorted()
        }
    }

    static let isPack: @Sendable (String) -> Bool = { $0.hasPrefix(PackKey.prefix) }

    @Test("an injected read error fails restore and check loudly, and is not taken for damage")
    func readErrorFailsRestoreAndCheck() throws {
        let setup = try Setup()
        setup.storage.setFaults([.ioError([.read], keys: Self.isPack)])
        #expect {
            try setup.restore(into: "out")
        } throws: { error in
            // The restore names the file it could not write, and why.
            "\(error)".contains("file") && "\(error)".contains("injected fault: cannot read")
        }
        let report = try setup.check()
        #expect(!report.problems.isEmpty, "check must report packs it cannot read")
        #expect(report.problems.contains { $0.contains("injected fault") }, "\(report.problems)")
        #expect(setup.storage.injected > 0)

        setup.storage.setFaults([])
        let clean = try setup.check()
        #expect(clean.problems.isEmpty, "a read error must never be recorded as damage: \(clean.problems)")
        try setup.restore(into: "after")
        #expect(try setup.differences(in: "after").isEmpty)
    }

    @Test("a short read (a truncated range) is detected: restore fails, check reports it, nothing short is written")
    func shortReadIsDetected() throws {
        let setup = try Setup()
        setup.storage.setFaults([StorageFault([.read], .shortRead(by: 1), keys: Self.isPack)])
        #expect {
            try setup.restore(into: "out")
        } throws: { error in
            guard case StoreError.corrupt = error else { return false }
            return "\(error)".contains("shorter than expected")
        }
        // Whatever the restore had written before it failed is exact, never a short copy.
        for name in try FileSystem.listDirectory(Array(setup.directory.path(for: "out").utf8)).map({ String(decoding: $0, as: UTF8.self) })
        where !name.hasPrefix(".") {
            #expect(try FileSystem.readFile(setup.directory.path(for: "out/\(name)")) == FileSystem.readFile(setup.directory.path(for: "src/\(name)")))
        }
        let report = try setup.check()
        #expect(!report.problems.isEmpty, "check must report what it could not read whole")
        #expect(setup.storage.injected > 0)
    }

    @Test("a failed commit leaves no pack and no temporary file; the next backup succeeds and restores exactly")
    func failedCommitLeavesNothing() throws {
        let setup = try Setup()
        let before = try setup.filesUnderPacks()
        try setup.directory.write(DeterministicData.randomBytes(count: 500_000, seed: 77), to: "src/new")
        setup.storage.setFaults([.ioError([.commit], times: 1, keys: Self.isPack)])
        #expect(throws: StoreError.self) { try setup.backup() }
        #expect(setup.storage.injected == 1)
        #expect(try setup.filesUnderPacks() == before, "nothing of the failed backup may stay in packs/")

        setup.storage.setFaults([])
        let summary = try setup.backup()
        #expect(summary.snapshot.id == (try setup.vault.snapshot("latest")).snapshot.id)
        try setup.restore(into: "out")
        #expect(try setup.differences(in: "out").isEmpty)
        #expect(try setup.check().problems.isEmpty)
    }

    @Test("latency on every call changes no result")
    func latencyChangesNothing() throws {
        let setup = try Setup()
        setup.storage.setFaults([StorageFault(Set(StorageFault.Operation.allCases), .latency(0.002))])
        try setup.directory.write(DeterministicData.textLikeBytes(count: 300_000, seed: 78), to: "src/later")
        try setup.backup()
        try setup.restore(into: "out")
        #expect(try setup.differences(in: "out").isEmpty)
        let report = try setup.check()
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.packsRead > 0)
        #expect(setup.storage.injected > 0)
    }
}
