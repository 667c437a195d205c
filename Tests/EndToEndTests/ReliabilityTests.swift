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
    }
}
