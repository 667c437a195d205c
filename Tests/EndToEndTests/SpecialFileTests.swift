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

        @Test("symlink loops are stored, not followed; odd names and deep nesting round-trip")
        func loopsAndOddNames() throws {
            let scratch = try ScratchDirectory("odd-names")
            defer { scratch.remove() }
            let source = scratch.child("source")
            try Files.makeDirectory(source)
            try Files.symlink(source + "/loop", to: "loop")
            try Files.symlink(source + "/ping", to: "pong")
            try Files.symlink(source + "/pong", to: "ping")
            try Files.symlink(source + "/up", to: "..")
            try Files.symlink(source + "/here", to: ".")
            try Files.symlink(source + "/absolute", to: "/etc/hostname")
            for name in ["line\nbreak.txt", "-leading-dash", "tab\there", "quote\"and\\backslash", "café ☕.txt",
                         String(repeating: "n", count: 200)] {
                try Files.write(source + "/" + name, text: "named \(name)\n")
            }
            var deep = source
            for level in 0..<40 {
                deep += "/level-\(level)"
                try Files.makeDirectory(deep)
            }
            try Files.write(deep + "/bottom.txt", text: "forty levels down\n")
            let vault = try TestVault.create(at: scratch.child("vault"))

            let backup = try vault.run("backup", ["--json", source], timeout: 60)
            try #require(!backup.timedOut && backup.succeeded, "\(backup)")
            let target = scratch.child("restored")
            try vault.restore("latest", to: target)
            let problems = try Tree.differences(expected: source, actual: target)
            #expect(problems.isEmpty, "\(problems)")
        }

        /// Linux allows names of up to 255 bytes (NAME_MAX); restore must not need longer ones for itself.
        @Test("entries whose names are 255 bytes long restore")
        func longestNamesRestore() throws {
            let scratch = try ScratchDirectory("long-names")
            defer { scratch.remove() }
            let source = scratch.child("source")
            try Files.makeDirectory(source)
            let longest = String(repeating: "f", count: 255)
            try Files.write(source + "/" + longest, text: "a file with the longest name\n")
            try Files.symlink(source + "/" + String(repeating: "s", count: 255), to: longest)
            try Files.makeDirectory(source + "/" + String(repeating: "d", count: 255))
            try Files.write(source + "/short.txt", text: "short\n")
            let vault = try TestVault.create(at: scratch.child("vault"))
            _ = try vault.backup(source)

            let target = scratch.child("restored")
            let restore = try vault.run("restore", ["--target", target, "latest"])
            #expect(restore.succeeded, "\(restore)")
            let problems = try Tree.differences(expected: source, actual: target)
            #expect(problems.isEmpty, "\(problems)")
        }
    }
}
