import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEndTests {
    /// Failures a fault campaign found (issue 18), under the rule "a read error is never a deletion":
    /// whatever cannot be read is reported, and nothing that still restores stops restoring.
    @Suite("Reliability: read errors are never deletions")
    struct ReliabilityTests {
        /// Every pack file of the vault.
        static func packPaths(_ vault: TestVault) throws -> [String] {
            try Tree.entries(of: vault.path + "/packs").filter { $0.value.type == .file }
                .map { vault.path + "/packs/" + String(decoding: $0.key, as: UTF8.self) }
                .filter { $0.hasSuffix(".pack") }
        }

        // MARK: Prune

        @Test("EIO on one pread64 while prune repacks: exit 1 with one line, the old pack kept, the kept snapshot exact, the next prune succeeds",
              arguments: ["1..1", "2..2"])
        func readErrorDuringRepack(_ when: String) throws {
            let scratch = try ScratchDirectory("prune-eio")
            defer { scratch.remove() }
            let scenario = try FaultScenario(scratch: scratch)
            try scenario.recordTwoSnapshots()
            try scenario.forgetAllButLatest()
            let packs = try Self.packPaths(scenario.vault)
            let fault = SyscallFault(syscalls: "pread64", action: "error=EIO", when: when, paths: packs)
            let (failed, injected, calls) = try scenario.run("prune", ["--max-unused", "0"], under: fault)
            #expect(injected > 0, "\(fault): the fault never fired: \(failed)")
            scenario.expectCleanFailure(failed, "\(fault) (failed: \(calls))")
            #expect(failed.errorOutput.contains("Input/output error"), "the error should name the I/O error: \(failed)")
            for pack in packs { #expect(Files.exists(pack), "\(fault): prune deleted \(pack) after a read error") }
            try scenario.expectVaultIntact("\(fault)")

            let next = try scenario.vault.run("prune", ["--max-unused", "0"])
            #expect(next.succeeded, "the next prune: \(next)")
            let check = try scenario.vault.run("check", ["--read-data", "--json"])
            #expect(check.succeeded, "check --read-data after the next prune: \(check)")
            try scenario.expectRecordedSnapshotsRestore("after the next prune")
        }

        // MARK: Repair salvages

        /// A pack's footer entries, parsed here from the bytes (docs: Sources/Store/Pack/PackFormat.swift),
        /// so the test does not trust the code it tests: kind and (id as hex, offset, stored length).
        static func footer(of bytes: [UInt8]) -> (kind: UInt8, entries: [(id: String, offset: Int, stored: Int, encoding: UInt8)], start: Int) {
            func number(_ at: Int, _ count: Int) -> Int { (0..<count).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
            let trailer = bytes.count - 48
            let length = number(trailer + 32, 4)
            let entrySize = number(trailer + 36, 4) == 1 ? 53 : 49
            let start = trailer - length
            var entries: [(String, Int, Int, UInt8)] = []
            for index in 0..<number(start + 1, 4) {
                let at = start + 5 + index * entrySize
                let id = bytes[at..<at + 32].map { String(format: "%02x", $0) }.joined()
                entries.append((id, number(at + 32, 8), number(at + 40, 4), bytes[at + 48]))
            }
            return (bytes[start], entries, start)
        }

        /// The data packs of a vault (by their footers).
        static func dataPacks(_ vault: TestVault) throws -> [String] {
            try packPaths(vault).filter { footer(of: try Files.read($0)).kind == 0 }
        }

        @Test("one bit flipped in a data pack's footer: repair --apply keeps every block, all snapshots restore exactly, check passes")
        func footerBitFlip() throws {
            let scratch = try ScratchDirectory("repair-footer")
            defer { scratch.remove() }
            let scenario = try FaultScenario(scratch: scratch)
            try scenario.recordTwoSnapshots()
            let pack = try #require(try Self.dataPacks(scenario.vault).first)
            let bytes = try Files.read(pack)
            let at = Self.footer(of: bytes).start + 5 + 7
            try Files.overwrite(pack, at: at, with: [bytes[at] ^ 0x10])
            try scenario.expectRecordedSnapshotsRestore("the blocks are intact before repair")

            let repair = try scenario.vault.run("repair", ["--apply", "--json"])
            #expect(repair.succeeded, "\(repair)")
            let report = try repair.decode(RepairJSON.self)
            #expect(report.broken.isEmpty, "repair lost data from a pack whose blocks are intact: \(report.broken)")
            try scenario.expectVaultIntact("after repair of a pack with a damaged footer")
            try scenario.expectNextBackupSucceeds("after repair of a pack with a damaged footer")
        }

        @Test("a data pack truncated in half: repair --apply keeps the blocks before the cut (those files restore exactly), the rest reported broken")
        func truncatedPack() throws {
            let scratch = try ScratchDirectory("repair-truncated")
            defer { scratch.remove() }
            let source = scratch.child("source")
            try Files.makeDirectory(source)
            let names = (0..<12).map { "file-\($0).bin" }
            for (index, name) in names.enumerated() {
                try Files.write(source + "/" + name, DeterministicData.bytes(count: 150_000 + index * 20_000, seed: UInt64(8100 + index)))
            }
            let vault = try TestVault.create(at: scratch.child("vault"))
            let snapshot = try vault.backup(source, ["--workers", "1"]).snapshot
            let packs = try Self.dataPacks(vault)
            try #require(packs.count == 1, "one data pack expected: \(packs)")
            let bytes = try Files.read(packs[0])
            let cut = bytes.count / 2
            let intact = Set(Self.footer(of: bytes).entries.filter { $0.offset + $0.stored <= cut }.map(\.id))
            try Files.write(packs[0], Array(bytes[0..<cut]), mode: 0o444)

            var whole: [String] = []
            var broken: [String] = []
            for name in names {
                let listed = try vault.expectSuccess(Blockvault.run(["blocks", "--json", source + "/" + name]))
                let ids = try listed.decode([BlockInfo].self).map(\.id)
                if ids.allSatisfy(intact.contains) { whole.append(name) } else { broken.append(name) }
            }
            try #require(!whole.isEmpty && !broken.isEmpty, "the cut should leave some files whole and break others: whole \(whole), broken \(broken)")

            let repair = try vault.run("repair", ["--apply", "--json"])
            #expect(repair.succeeded, "\(repair)")
            let report = try repair.decode(RepairJSON.self)
            for name in broken { #expect(report.broken.contains { $0.contains(name) }, "\(name) is not reported broken: \(report.broken)") }
            for name in whole { #expect(!report.broken.contains { $0.contains(name) }, "\(name) is reported broken: \(report.broken)") }

            let target = scratch.child("restored")
            let restore = try vault.run("restore", ["--target", target] + whole.flatMap { ["--include", $0] } + [snapshot])
            #expect(restore.succeeded, "\(restore)")
            for name in whole {
                #expect(try Files.read(target + "/" + name) == Files.read(source + "/" + name), "\(name) does not restore exactly")
            }
            let check = try vault.run("check", ["--read-data", "--json"])
            let checked = try check.decode(CheckReport.self)
            for name in broken { #expect(checked.problems.contains { $0.contains(name) }, "check does not name \(name): \(checked.problems)") }
            #expect(checked.problems.allSatisfy { line in broken.contains { line.contains($0) } }, "check: \(checked.problems)")
        }

        // MARK: A foreign WAL

        @Test("another vault's catalog.db-wal next to this vault's catalog: every command refuses it naming both vaults, the catalog is untouched, repair --apply rebuilds from the packs")
        func foreignWAL() throws {
            let scratch = try ScratchDirectory("foreign-wal")
            defer { scratch.remove() }
            let scenario = try FaultScenario(scratch: scratch)
            try scenario.recordTwoSnapshots()
            let vault = scenario.vault

            // Vault B's WAL as a killed writer leaves it: SIGKILL as SQLite deletes the WAL at close.
            let other = try TestVault.create(at: scratch.child("other"))
            let otherSource = scratch.child("other-source")
            try Files.makeDirectory(otherSource)
            try Files.write(otherSource + "/only-in-b.txt", text: "vault B\n")
            let wal = other.path + "/catalog.db-wal"
            let log = scratch.child("strace.log")
            let kill = SyscallFault(syscalls: "unlink", action: "signal=KILL", when: "1", paths: [wal])
            _ = try TestVault(path: other.path, wrapper: try kill.wrapper(log: log)).run("backup", [otherSource])
            try #require(Files.exists(wal) && (try Files.status(wal)).st_size > 0, "vault B left no WAL to copy")

            let catalog = vault.path + "/catalog.db"
            let catalogBefore = try Files.read(catalog)
            try Files.write(catalog + "-wal", try Files.read(wal))
            for (command, arguments) in [("snapshots", [String]()), ("ls", ["latest"]), ("check", []), ("backup", [scenario.source])] {
                let refused = try vault.run(command, arguments)
                scenario.expectCleanFailure(refused, "\(command) with a foreign WAL")
                #expect(refused.errorOutput.contains("belongs to vault") && refused.errorOutput.contains("repair --apply"),
                        "\(command) should name the foreign vault and the fix: \(refused)")
            }
            #expect(try Files.read(catalog) == catalogBefore, "the foreign WAL was checkpointed into catalog.db")

            let repair = try vault.run("repair", ["--apply", "--json"])
            #expect(repair.succeeded, "\(repair)")
            let report = try repair.decode(RepairJSON.self)
            #expect(report.rebuilt && report.broken.isEmpty, "repair should rebuild from the packs, losing nothing: \(repair)")
            #expect(Files.exists(catalog + ".damaged-wal"), "the foreign WAL should be moved aside")
            try scenario.expectVaultIntact("after repair of a foreign WAL")
            try scenario.expectNextBackupSucceeds("after repair of a foreign WAL")
        }

        @Test("an older copy of catalog.db put back (or a stale WAL replayed): a backup refuses it, repair --apply rebuilds from the packs, losing no snapshot")
        func olderCatalogPutBack() throws {
            let scratch = try ScratchDirectory("older-catalog")
            defer { scratch.remove() }
            let scenario = try FaultScenario(scratch: scratch)
            try scenario.recordTwoSnapshots()
            let vault = scenario.vault
            let catalog = vault.path + "/catalog.db"
            try #require(!Files.exists(catalog + "-wal"), "the catalog should be checkpointed after a command")
            let older = try Files.read(catalog)
            try Files.write(scenario.source + "/base/third.txt", text: "written after the copy\n")
            try scenario.expectNextBackupSucceeds("the third backup")
            try Files.write(catalog, older)
            // A backup on top of it would adopt the newer packs and lose their snapshots.
            let refused = try vault.run("backup", [scenario.source])
            scenario.expectCleanFailure(refused, "a backup onto an older catalog")
            #expect(refused.errorOutput.contains("older than the packs") && refused.errorOutput.contains("repair --apply"), "\(refused)")

            let repair = try vault.run("repair", ["--apply", "--json"])
            #expect(repair.succeeded, "\(repair)")
            let report = try repair.decode(RepairJSON.self)
            #expect(report.rebuilt && report.broken.isEmpty, "repair should rebuild from the packs, losing nothing: \(repair)")
            try scenario.expectVaultIntact("after repair of an older catalog")
        }

        // MARK: A read-only or full vault disk

        /// Runs commands with the vault bind-mounted read-only in a private mount namespace.
        static func readOnlyWrapper(_ vault: String) throws -> [String] {
            guard let unshare = executableOnPath("unshare") else { throw TestFailure("unshare (util-linux) is not on PATH") }
            return [unshare, "-m", "--propagation", "private", "/bin/sh", "-c",
                    "mount --bind \"$0\" \"$0\" && mount -o remount,bind,ro \"$0\" && exec \"$@\"", vault]
        }

        /// snapshots, ls, versions, diff, stats, check --read-data succeed, and every recorded
        /// snapshot restores exactly, through `vault`.
        static func expectReadable(_ vault: TestVault, _ scenario: FaultScenario, _ context: String) throws {
            for (command, arguments) in [("snapshots", [String]()), ("ls", ["latest"]), ("versions", ["base/data-2.bin"]),
                                         ("diff", [scenario.recorded[0].id, scenario.recorded[1].id]), ("stats", []),
                                         ("check", ["--read-data"])] {
                let result = try vault.run(command, arguments)
                #expect(result.succeeded && result.errorOutput.isEmpty, "\(context): \(command): \(result)")
            }
            for (index, (id, copy)) in scenario.recorded.enumerated() {
                let target = scenario.scratch.child("\(context.filter(\.isLetter))-\(index)")
                let restore = try vault.run("restore", ["--target", target, id])
                #expect(restore.succeeded, "\(context): restore \(id): \(restore)")
                if restore.succeeded {
                    let problems = try Tree.differences(expected: copy, actual: target)
                    #expect(problems.isEmpty, "\(context): \(id) restores differently: \(problems.prefix(5))")
                }
            }
        }

        @Test("a vault on a read-only mount: snapshots, ls, versions, diff, stats, check and restore work; a backup fails with one line")
        func readOnlyVault() throws {
            let scratch = try ScratchDirectory("read-only")
            defer { scratch.remove() }
            let scenario = try FaultScenario(scratch: scratch)
            try scenario.recordTwoSnapshots()
            let readOnly = TestVault(path: scenario.vault.path, wrapper: try Self.readOnlyWrapper(scenario.vault.path))
            let probe = try Blockvault.run(["--help"], wrapper: readOnly.wrapper)
            if !probe.succeeded { try Test.cancel("a read-only bind mount cannot be made here (uid \(getuid())): \(probe.errorOutput)") }
            try Self.expectReadable(readOnly, scenario, "read-only mount")
            let backup = try readOnly.run("backup", [scenario.source])
            scenario.expectCleanFailure(backup, "backup onto a read-only vault")
            try scenario.expectVaultIntact("after the read-only commands")
        }

        @Test("a full vault disk (tmpfs filled up): snapshots, ls, versions, diff, stats, check and restore work")
        func fullDiskReads() throws {
            let scratch = try ScratchDirectory("full-reads")
            defer { scratch.remove() }
            let disk: PrivateTmpfs
            do { disk = try PrivateTmpfs(at: scratch.child("disk"), size: "8m") } catch {
                try Test.cancel("no private tmpfs can be mounted here (uid \(getuid())): \(error)")
            }
            defer { disk.close() }
            let scenario = try FaultScenario(scratch: scratch, vaultPath: disk.mountPoint + "/vault", wrapper: disk.wrapper)
            try scenario.recordTwoSnapshots()
            try disk.shell("cat /dev/zero > '\(disk.mountPoint)/filler' 2>/dev/null; true")
            try Self.expectReadable(scenario.vault, scenario, "full disk")
            try disk.shell("rm '\(disk.mountPoint)/filler'")
            try scenario.expectVaultIntact("after the disk was full")
        }

        // MARK: Prune and dictionaries

        @Test("prune removes a zstd dictionary no block uses any more, with its metadata pack; what is kept restores and checks clean")
        func pruneDropsUnusedDictionary() throws {
            let life = try LifecycleVault("prune-dictionary")
            defer { life.scratch.remove() }
            // What is kept at the end holds no block at all, so nothing can use the dictionary.
            try Files.write(life.source + "/empty", [])
            try Files.symlink(life.source + "/link", to: "empty")
            let documents = life.source + "/documents"
            try Files.makeDirectory(documents)
            try writeSimilarSmallFiles(in: documents, count: 1500)
            try life.backup()
            let before = try DictionaryFacts(life.vault)
            try #require(before.records.count == 1 && before.blocksUsingDictionary > 0, "the first backup should train and use a dictionary")
            let recordPacks = try Self.packPaths(life.vault).filter { Self.footer(of: try Files.read($0)).kind == 1 }

            try Files.removeTree(documents)
            try life.backup()
            try life.vault.expectSuccess(life.vault.run("forget", ["--keep-last", "1"]))
            let prune = try life.vault.run("prune", ["--max-unused", "0"])
            #expect(prune.succeeded, "\(prune)")
            let after = try DictionaryFacts(life.vault)
            #expect(after.records.isEmpty && after.blocksUsingDictionary == 0, "the unused dictionary is still recorded: \(after.records)")
            let remaining = try Self.packPaths(life.vault)
            #expect(recordPacks.filter { !remaining.contains($0) }.count == 1, "the dictionary's metadata pack should be deleted")
            let check = try life.vault.run("check", ["--read-data", "--json"])
            #expect(check.succeeded, "\(check)")
            let target = life.scratch.child("restored")
            try life.vault.restore("latest", to: target)
            #expect(try Tree.differences(expected: life.source, actual: target).isEmpty)
            // A rebuilt catalog does not bring it back either.
            try Files.remove(life.catalog)
            try life.vault.expectSuccess(life.vault.run("repair", ["--apply"]))
            #expect(try DictionaryFacts(life.vault).records.isEmpty, "repair brought the dictionary back")
        }

        // MARK: I/O errors on the catalog

        @Test("EIO reading the catalog is reported as an I/O error (check the disk), never as damage to repair",
              arguments: [("snapshots", "1+"), ("check", "1+"), ("restore", "1+"), ("backup", "1+"), ("check", "4..4"), ("backup", "6..6")])
        func catalogReadError(_ command: String, _ when: String) throws {
            let scratch = try ScratchDirectory("catalog-eio")
            defer { scratch.remove() }
            let scenario = try FaultScenario(scratch: scratch)
            try scenario.recordTwoSnapshots()
            let catalog = scenario.vault.path + "/catalog.db"
            let fault = SyscallFault(syscalls: "pread64", action: "error=EIO", when: when, paths: [catalog, catalog + "-wal"])
            let arguments = switch command {
            case "restore": ["--target", scratch.child("target"), scenario.recorded[0].id]
            case "backup": [scenario.source]
            default: [String]()
            }
            let (result, injected, calls) = try scenario.run(command, arguments, under: fault)
            #expect(injected > 0, "\(fault): the fault never fired: \(result)")
            if when.hasSuffix("+") || !result.succeeded {
                scenario.expectCleanFailure(result, "\(command) under \(fault) (\(calls))")
                #expect(result.errorOutput.contains("Input/output error") && result.errorOutput.contains("check the disk"),
                        "\(command): an I/O error should be reported as one: \(result)")
                #expect(!result.errorOutput.contains("damaged") && !result.errorOutput.contains("repair"),
                        "\(command): an I/O error is not damage to repair: \(result)")
            }
            try scenario.expectVaultIntact("after \(command) under \(fault)")
        }

        // MARK: A damaged metadata record

        @Test("a damaged metadata record: repair --apply --read-data, then a backup: check passes, and a catalog rebuilt from the packs has every snapshot")
        func damagedMetadataRecord() throws {
            let scratch = try ScratchDirectory("metadata-damage")
            defer { scratch.remove() }
            let scenario = try FaultScenario(scratch: scratch)
            try scenario.recordTwoSnapshots()
            var damaged = false
            for pack in try Self.packPaths(scenario.vault) {
                let bytes = try Files.read(pack)
                let footer = Self.footer(of: bytes)
                guard footer.kind == 1, let entry = footer.entries.first, !damaged else { continue }
                let at = entry.offset + entry.stored / 2
                try Files.overwrite(pack, at: at, with: [bytes[at] ^ 0x01])
                damaged = true
            }
            try #require(damaged, "no metadata pack to damage")
            let repair = try scenario.vault.run("repair", ["--apply", "--read-data", "--json"])
            #expect(repair.succeeded, "\(repair)")
            try scenario.expectNextBackupSucceeds("after repair of a damaged metadata record")
            try scenario.expectRecordedSnapshotsRestore("after repair of a damaged metadata record")

            try Files.remove(scenario.vault.path + "/catalog.db")
            try scenario.vault.expectSuccess(scenario.vault.run("repair", ["--apply"]))
            try scenario.expectVaultIntact("a catalog rebuilt after the metadata was written again")
        }

        // MARK: Temporary packs of a failed backup

        @Test("a backup that fills the disk leaves no temporary pack file behind")
        func failedBackupRemovesTemporaryPacks() throws {
            let scratch = try ScratchDirectory("full-tmp")
            defer { scratch.remove() }
            let disk: PrivateTmpfs
            do { disk = try PrivateTmpfs(at: scratch.child("disk"), size: "6m") } catch {
                try Test.cancel("no private tmpfs can be mounted here (uid \(getuid())): \(error)")
            }
            defer { disk.close() }
            let scenario = try FaultScenario(scratch: scratch, vaultPath: disk.mountPoint + "/vault", wrapper: disk.wrapper)
            try scenario.recordTwoSnapshots()
            try Files.write(scenario.source + "/big.bin", DeterministicData.bytes(count: 10 << 20, seed: 91))
            try scenario.add(.small, seed: 92)
            for attempt in 1...2 {
                let full = try scenario.vault.run("backup", [scenario.source])
                scenario.expectCleanFailure(full, "backup \(attempt) onto a full disk")
                let packs = disk.visiblePath(scenario.vault.path + "/packs")
                let temporaries = try Tree.entries(of: packs).keys.map { String(decoding: $0, as: UTF8.self) }.filter { $0.hasSuffix(".pack.tmp") }
                #expect(temporaries.isEmpty, "backup \(attempt) left temporary packs: \(temporaries)")
            }
            try scenario.expectVaultIntact("after backups onto a full disk")
        }

        @Test("a data pack's footer damaged and catalog.db lost: repair --apply finds the pack's zstd frames; the files whose blocks it finds restore exactly")
        func footerDamagedWithoutCatalog() throws {
            let scratch = try ScratchDirectory("repair-scan")
            defer { scratch.remove() }
            let scenario = try FaultScenario(scratch: scratch)
            try scenario.recordTwoSnapshots()
            let vault = scenario.vault
            let dataPacks = try Self.dataPacks(vault)
            let pack = try #require(dataPacks.first)
            // Blocks stored raw (or with a dictionary) cannot be found without the footer.
            var findable = Set<String>()
            for path in try Self.packPaths(vault) {
                for entry in Self.footer(of: try Files.read(path)).entries where path != pack || (entry.encoding == 1 || entry.encoding == 3) {
                    findable.insert(entry.id)
                }
            }
            let bytes = try Files.read(pack)
            let at = Self.footer(of: bytes).start + 5 + 7
            try Files.overwrite(pack, at: at, with: [bytes[at] ^ 0x10])
            try Files.remove(vault.path + "/catalog.db")

            let repair = try vault.run("repair", ["--apply", "--json"])
            #expect(repair.succeeded, "\(repair)")
            #expect(try vault.snapshots().map(\.id) == scenario.recorded.map(\.id))
            let latest = scenario.recorded.last!
            var whole: [String] = []
            for (path, entry) in try Tree.entries(of: latest.copy) where entry.type == .file {
                let relative = String(decoding: path, as: UTF8.self)
                let listed = try vault.expectSuccess(Blockvault.run(["blocks", "--json", latest.copy + "/" + relative]))
                if try listed.decode([BlockInfo].self).allSatisfy({ findable.contains($0.id) }) { whole.append(relative) }
            }
            try #require(whole.count > 10, "most files should be findable: \(whole)")
            let target = scratch.child("restored")
            let restore = try vault.run("restore", ["--target", target] + whole.flatMap { ["--include", $0] } + [latest.id])
            #expect(restore.succeeded, "\(restore)")
            for relative in whole {
                #expect(try Files.read(target + "/" + relative) == Files.read(latest.copy + "/" + relative), "\(relative) does not restore exactly")
            }
        }
    }
}
