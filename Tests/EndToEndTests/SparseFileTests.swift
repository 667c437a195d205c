import Foundation
import Testing

extension EndToEndTests {
    /// A huge file that is all hole costs little to back up and restores as a hole.
    @Suite("Sparse file")
    struct SparseFileTests {
        static let size: Int64 = 1 << 30

        @Test("a 1 GiB sparse file backs up quickly into a small vault and restores sparse and identical")
        func sparseFileRoundTrips() throws {
            let scratch = try ScratchDirectory("sparse")
            defer { scratch.remove() }
            let source = scratch.child("source")
            try Files.makeDirectory(source)
            try Files.makeSparse(source + "/huge.img", size: Self.size)
            try Files.write(source + "/note.txt", text: "beside a hole\n")
            let vault = try TestVault.create(at: scratch.child("vault"))

            let backup = try vault.run("backup", ["--json", source], timeout: 120)
            try #require(backup.succeeded, "\(backup)")
            // It reads 1 GiB of zeros; a debug build does that in seconds, not minutes.
            #expect(backup.seconds < 60, "backup took \(backup.seconds) s")
            let report = try backup.decode(BackupReport.self)
            #expect(report.bytesRead == Self.size + 14)
            let packs = try vault.packBytes()
            #expect(packs < 1 << 20, "packs hold \(packs) bytes")

            let target = scratch.child("restored")
            let restore = try vault.run("restore", ["--target", target, "--json", "latest"], timeout: 120)
            try #require(restore.succeeded, "\(restore)")
            let restored = try Files.status(target + "/huge.img")
            #expect(Int64(restored.st_size) == Self.size)
            let allocated = Int64(restored.st_blocks) * 512
            #expect(allocated < 1 << 20, "the restored file occupies \(allocated) bytes: not sparse")
            // Reads both files through (holes read as zeros) and compares them, with metadata.
            let problems = try Tree.differences(expected: source, actual: target)
            #expect(problems.isEmpty, "\(problems)")
        }
    }
}
