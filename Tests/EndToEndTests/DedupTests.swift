import Foundation
import Testing

extension EndToEndTests {
    /// Identical content is stored once; an unchanged tree adds nothing.
    @Suite("Deduplication")
    struct DedupTests {
        static let size = 4 << 20

        @Test("two identical 4 MiB files are stored once, and an unchanged second backup adds nothing")
        func identicalFilesAreStoredOnce() throws {
            let scratch = try ScratchDirectory("dedup")
            defer { scratch.remove() }
            let source = scratch.child("source")
            try Files.makeDirectory(source)
            try Files.makeDirectory(source + "/copy")
            let contents = DeterministicData.bytes(count: Self.size, seed: 31)
            try Files.write(source + "/original.bin", contents)
            try Files.write(source + "/copy/duplicate.bin", contents)
            let vault = try TestVault.create(at: scratch.child("vault"))

            let first = try vault.backup(source)
            #expect(first.filesNew == 2)
            #expect(first.bytesRead == 2 * Int64(Self.size))
            // Random bytes do not compress, so what was added is about one copy.
            #expect(first.bytesAdded < Int64(Self.size) + 64 << 10, "bytes added: \(first.bytesAdded)")
            let afterFirst = try vault.stats()
            #expect(afterFirst.uniqueBytes >= Int64(Self.size), "unique bytes: \(afterFirst.uniqueBytes)")
            #expect(afterFirst.uniqueBytes < Int64(Self.size) + 64 << 10, "unique bytes: \(afterFirst.uniqueBytes)")
            #expect(afterFirst.logicalBytes == 2 * Int64(Self.size))
            #expect(afterFirst.dedupRatio > 1.9, "dedup ratio: \(afterFirst.dedupRatio)")

            let second = try vault.backup(source)
            #expect(second.filesUnchanged == 2)
            #expect(second.filesNew == 0 && second.filesChanged == 0 && second.filesDeleted == 0)
            #expect(second.bytesRead == 0)
            #expect(second.bytesAdded < 4096, "bytes added: \(second.bytesAdded)")
            let afterSecond = try vault.stats()
            #expect(afterSecond.snapshots == 2)
            #expect(afterSecond.uniqueBytes == afterFirst.uniqueBytes)
            #expect(afterSecond.blocks == afterFirst.blocks)

            let target = scratch.child("restored")
            try vault.restore("latest", to: target)
            let problems = try Tree.differences(expected: source, actual: target)
            #expect(problems.isEmpty, "\(problems)")
        }
    }
}
