import Foundation
import Testing

extension EndToEndTests {
    /// `blocks FILE --json`, the chunker's view of a file.
    @Suite("blocks command")
    struct BlocksCommandTests {
        static let sizes = [0, 1, 4095, 100_000, (5 << 20) + 13]

        private func blocks(of path: String, chunker: String) throws -> [BlockInfo] {
            let result = try Blockvault.run(["blocks", "--json", "--chunker", chunker, path])
            guard result.succeeded else { throw TestFailure("\(result)") }
            return try result.decode([BlockInfo].self)
        }

        @Test("blocks --json parses, and its blocks tile the file exactly", arguments: ["fastcdc", "fixed"], sizes)
        func blocksTileTheFile(chunker: String, size: Int) throws {
            let scratch = try ScratchDirectory("blocks")
            defer { scratch.remove() }
            let contents = DeterministicData.bytes(count: size, seed: UInt64(size))
            try Files.write(scratch.child("file.bin"), contents)
            let list = try blocks(of: scratch.child("file.bin"), chunker: chunker)

            #expect(list.reduce(0) { $0 + $1.length } == Int64(size))
            #expect(list.allSatisfy { $0.length > 0 })
            var offset: Int64 = 0
            for block in list {
                #expect(block.offset == offset)
                offset += block.length
            }
            let hexDigits = Set("0123456789abcdef")
            #expect(list.allSatisfy { $0.id.count == 64 && $0.id.allSatisfy(hexDigits.contains) })
            #expect(size == 0 || !list.isEmpty)

            // The same bytes under another name give the same blocks.
            try Files.write(scratch.child("copy.bin"), contents)
            let again = try blocks(of: scratch.child("copy.bin"), chunker: chunker)
            #expect(again.map(\.id) == list.map(\.id))
            #expect(again.map(\.length) == list.map(\.length))
        }

        @Test("content-defined blocks survive an insertion at the start of the file")
        func contentDefinedBlocksSurviveAnInsertion() throws {
            let scratch = try ScratchDirectory("blocks-shift")
            defer { scratch.remove() }
            let contents = DeterministicData.bytes(count: 5 << 20, seed: 101)
            try Files.write(scratch.child("original.bin"), contents)
            try Files.write(scratch.child("shifted.bin"), Array("a hundred-odd bytes inserted at the very start of the file".utf8) + contents)
            let original = try blocks(of: scratch.child("original.bin"), chunker: "fastcdc")
            let shifted = try blocks(of: scratch.child("shifted.bin"), chunker: "fastcdc")
            try #require(original.count >= 4, "5 MiB should be cut into several blocks: \(original.count)")
            let shared = Set(original.map(\.id)).intersection(shifted.map(\.id)).count
            #expect(shared >= original.count - 2, "only \(shared) of \(original.count) blocks survive the insertion")
        }

        @Test("blocks of a directory or a missing file fails with one line", arguments: ["directory", "missing"])
        func blocksOfNonFileFails(kind: String) throws {
            let scratch = try ScratchDirectory("blocks-bad")
            defer { scratch.remove() }
            let path = kind == "directory" ? scratch.path : scratch.child("missing.bin")
            let result = try Blockvault.run(["blocks", "--json", path])
            #expect(!result.succeeded && !result.signaled, "\(result)")
            #expect(result.errorLines.count == 1 && result.errorOutput.hasPrefix("blockvault: "), "\(result)")
        }
    }
}
