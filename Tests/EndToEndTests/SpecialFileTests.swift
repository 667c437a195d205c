import Foundation
import Testing

extension EndToEndTests {
    /// Entries that are neither files, directories nor symlinks.
    @Suite("Special files")
    struct SpecialFileTests {
        @Test("a FIFO is recorded without being opened and restored as a FIFO")
        func fifoIsRecordedAndRestored() throws {
            let scratch = try ScratchDirectory("fifo")
            defer { scratch.remove() }
            let source = scratch.child("source")
            try Files.makeDirectory(source)
            try Files.makeDirectory(source + "/pipes")
            try Files.makeFIFO(source + "/pipes/queue", mode: 0o640)
            try Files.makeFIFO(source + "/control", mode: 0o600)
            try Files.write(source + "/pipes/readme.txt", text: "beside two FIFOs\n")
            let vault = try TestVault.create(at: scratch.child("vault"))

            // Opening a FIFO for reading blocks until a writer comes: no writer ever comes here.
            let backup = try vault.run("backup", ["--json", source], timeout: 60)
            try #require(!backup.timedOut, "the backup hung on a FIFO: \(backup)")
            try #require(backup.succeeded, "\(backup)")
            let listed = try vault.list("latest")
            #expect(listed.filter { $0.type == "fifo" }.map(\.path).sorted() == ["control", "pipes/queue"])

            let target = scratch.child("restored")
            let restore = try vault.run("restore", ["--target", target, "latest"], timeout: 60)
            try #require(!restore.timedOut && restore.succeeded, "\(restore)")
            let problems = try Tree.differences(expected: source, actual: target)
            #expect(problems.isEmpty, "\(problems)")

            // A later backup with the FIFO's mode changed completes too and records the change.
            try Files.setMode(source + "/pipes/queue", 0o604)
            let again = try vault.run("backup", ["--json", source], timeout: 60)
            try #require(!again.timedOut && again.succeeded, "\(again)")
            let second = scratch.child("restored-again")
            try vault.restore("latest", to: second)
            let secondProblems = try Tree.differences(expected: source, actual: second)
            #expect(secondProblems.isEmpty, "\(secondProblems)")
        }
    }
}
