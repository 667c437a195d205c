import Chunker
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The smallest inputs take paths the large ones never do: a buffer with no base address, an
/// end-of-file on the first read, a block shorter than any minimum.
@Suite("Empty and one-byte inputs")
struct EdgeCaseTests {
    enum Path: String, CaseIterable, Sendable { case inMemory, file, pipe }

    static func blocks(_ bytes: [UInt8], _ parameters: ChunkerParameters, via path: Path) throws -> [BlockRecord] {
        switch path {
        case .inMemory: Chunking.inMemory(bytes, parameters)
        case .file: try Chunking.throughFile(bytes, parameters)
        case .pipe: try Chunking.throughPipe(bytes, parameters)
        }
    }

    @Test("empty input gives no blocks", arguments: [ChunkerParameters.fastCDC, .fixed], Path.allCases)
    func empty(parameters: ChunkerParameters, path: Path) throws {
        #expect(try Self.blocks([], parameters, via: path) == [])
    }

    @Test("empty buffer without a base address gives no blocks", arguments: [ChunkerParameters.fastCDC, .fixed])
    func emptyNilBuffer(parameters: ChunkerParameters) {
        var count = 0
        BlockReader(parameters: parameters).forEachBlock(in: UnsafeRawBufferPointer(start: nil, count: 0)) { _ in count += 1 }
        #expect(count == 0)
    }

    /// SHA-256("a"), known independently of the hasher under test.
    static let digestOfA = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"

    @Test("one byte gives one block named by its SHA-256", arguments: [ChunkerParameters.fastCDC, .fixed], Path.allCases)
    func oneByte(parameters: ChunkerParameters, path: Path) throws {
        let blocks = try Self.blocks([UInt8(ascii: "a")], parameters, via: path)
        #expect(blocks == [BlockRecord(offset: 0, length: 1, id: Self.digestOfA)])
    }

    /// A reader is reused for many files; a previous large file must leave nothing behind.
    @Test("a reused reader forgets the previous input", arguments: [ChunkerParameters.fastCDC, .fixed])
    func reuse(parameters: ChunkerParameters) throws {
        let reader = BlockReader(parameters: parameters)
        let directory = try TemporaryDirectory()
        let large = try directory.write(DeterministicData.randomBytes(count: 3 << 20, seed: 31), to: "large")
        let tiny = try directory.write([UInt8(ascii: "a")], to: "tiny")
        let empty = try directory.write([], to: "empty")
        for path in [large, tiny, empty, tiny] {
            var records: [BlockRecord] = []
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            try #require(descriptor >= 0)
            defer { close(descriptor) }
            var status = stat()
            try #require(fstat(descriptor, &status) == 0)
            try reader.forEachBlock(fileDescriptor: descriptor, fileSize: UInt64(status.st_size)) { records.append(BlockRecord($0)) }
            #expect(records == (try Chunking.ofFile(at: path, parameters)), "\(path)")
            if path == tiny { #expect(records == [BlockRecord(offset: 0, length: 1, id: Self.digestOfA)]) }
        }
    }
}
