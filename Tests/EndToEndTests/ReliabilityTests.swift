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
        static func footer(of bytes: [UInt8]) -> (kind: UInt8, entries: [(id: String, offset: Int, stored: Int)], start: Int) {
            func number(_ at: Int, _ count: Int) -> Int { (0..<count).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
            let trailer = bytes.count - 48
            let length = number(trailer + 32, 4)
            let entrySize = number(trailer + 36, 4) == 1 ? 53 : 49
            let start = trailer - length
            var entries: [(String, Int, Int)] = []
            for index in 0..<number(start + 1, 4) {
                let at = start + 5 + index * entrySize
                let id = bytes[at..<at + 32].map { String(format: "%02x", $0) }.joined()
                entries.append((id, number(at + 32, 8), number(at + 40, 4)))
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
    }
}
