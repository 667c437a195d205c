import Chunker
import Foundation
import Testing
import TestSupport

/// `BlockReader` streams through a 4 MiB buffer that it refills and shifts; the in-memory path has no
/// buffer at all. Their agreement on inputs several buffers long is what lets the catalog trust
/// that a file cut while streaming deduplicates against the same bytes cut anywhere else.
@Suite("Streaming equals in-memory")
struct StreamingTests {
    static let parameterSets: [ChunkerParameters] = [.fastCDC, .smallFastCDC, .fixed]

    /// 12 MiB: three times the reader's minimum buffer, so blocks straddle several refills.
    static let input = DeterministicData.randomBytes(count: 12 << 20, seed: 41)

    @Test("a regular file cuts like memory", arguments: parameterSets)
    func regularFile(parameters: ChunkerParameters) throws {
        let expected = Chunking.inMemory(Self.input, parameters)
        try #require(expected.count > 20)
        Chunking.expectSame(try Chunking.throughFile(Self.input, parameters), expected, "file")
    }

    /// A pipe hands out short reads (at most its capacity per call) and has no size, the case of a
    /// backup read from standard input.
    @Test("a pipe cuts like memory", arguments: parameterSets)
    func pipe(parameters: ChunkerParameters) throws {
        let expected = Chunking.inMemory(Self.input, parameters)
        Chunking.expectSame(try Chunking.throughPipe(Self.input, parameters), expected, "pipe")
    }

    /// With parallel hashing, windows of blocks are hashed on two threads: the blocks, their order
    /// and their IDs must not change, from a file (long windows) or a pipe (short reads).
    @Test("parallel hashing cuts and hashes like memory", arguments: parameterSets)
    func parallelHashing(parameters: ChunkerParameters) throws {
        let expected = Chunking.inMemory(Self.input, parameters)
        Chunking.expectSame(try Chunking.throughFile(Self.input, parameters, parallelHashing: true), expected, "file")
        Chunking.expectSame(try Chunking.throughPipe(Self.input, parameters, parallelHashing: true), expected, "pipe")
        let small = Array(Self.input.prefix(300_000))
        Chunking.expectSame(try Chunking.throughFile(small, parameters, parallelHashing: true),
                            Chunking.inMemory(small, parameters), "small file")
    }

    /// The streamed bytes handed to the callback, not just their IDs, must be the input's bytes.
    @Test("streamed block bytes are the input's bytes", arguments: [ChunkerParameters.fastCDC, .fixed])
    func streamedBytes(parameters: ChunkerParameters) throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(Self.input, to: "input")
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        var concatenated: [UInt8] = []
        concatenated.reserveCapacity(Self.input.count)
        let count = try BlockReader(parameters: parameters, parallelHashing: true)
            .forEachBlock(fileDescriptor: descriptor, fileSize: UInt64(Self.input.count)) { block in
                #expect(block.offset == UInt64(concatenated.count))
                concatenated.append(contentsOf: block.bytes)
            }
        #expect(count == UInt64(Self.input.count))
        #expect(concatenated == Self.input)
    }

    /// The reader starts at the descriptor's current position, as documented: a caller that has
    /// already consumed a header must get the rest cut as if it were a file of its own.
    @Test("reading starts at the current file position", arguments: [ChunkerParameters.fastCDC, .fixed])
    func currentPosition(parameters: ChunkerParameters) throws {
        let skip = 1_234_567
        let rest = Array(Self.input[skip...])
        let directory = try TemporaryDirectory()
        let path = try directory.write(Self.input, to: "input")
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        try #require(lseek(descriptor, off_t(skip), SEEK_SET) == off_t(skip))
        var records: [BlockRecord] = []
        let count = try BlockReader(parameters: parameters)
            .forEachBlock(fileDescriptor: descriptor, fileSize: UInt64(rest.count)) { records.append(BlockRecord($0)) }
        #expect(count == UInt64(rest.count))
        Chunking.expectSame(records, Chunking.inMemory(rest, parameters), "after lseek")
    }

    /// A read error surfaces as `ChunkerError.readFailed` carrying errno, not as a short file.
    @Test("a read error is thrown")
    func readError() throws {
        let directory = try TemporaryDirectory()
        let descriptor = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        #expect(throws: ChunkerError.readFailed(errno: EISDIR, message: String(cString: strerror(EISDIR)))) {
            try BlockReader(parameters: .fastCDC).forEachBlock(fileDescriptor: descriptor, fileSize: nil) { _ in }
        }
    }

    /// An error thrown by the callback stops the walk and reaches the caller unchanged.
    @Test("the callback's error propagates and stops the walk")
    func callbackError() throws {
        struct Stop: Error, Equatable {}
        let directory = try TemporaryDirectory()
        let path = try directory.write(Self.input, to: "input")
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        var calls = 0
        #expect(throws: Stop()) {
            try BlockReader(parameters: .fastCDC).forEachBlock(fileDescriptor: descriptor, fileSize: nil) { _ in
                calls += 1
                if calls == 3 { throw Stop() }
            }
        }
        #expect(calls == 3)
    }

    /// Real files are not generated: an executable or library mixes code, tables and padding.
    /// The first readable regular file between 1 MiB and 64 MiB in the usual system directories
    /// is cut, and its blocks are checked against the file read back independently.
    @Test("a system file is cut into blocks that reassemble it", arguments: [ChunkerParameters.fastCDC, .fixed])
    func systemFile(parameters: ChunkerParameters) throws {
        let path = try #require(Self.systemFile(), "no readable file of 1-64 MiB in /usr/bin or /usr/lib")
        let contents = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let blocks = try Chunking.ofFile(at: path, parameters)
        #expect(blocks.count >= 2, "\(path) is over 1 MiB")
        var reassembled: [UInt8] = []
        let hasher = SHA256Hasher()
        for block in blocks {
            #expect(block.offset == UInt64(reassembled.count), "\(path): blocks are contiguous")
            let end = Int(block.offset) + block.length
            try #require(end <= contents.count, "\(path): block \(block) runs past the end")
            let slice = contents[Int(block.offset)..<end]
            #expect(slice.withUnsafeBytes { hasher.hash($0) }.hex == block.id, "\(path): \(block)")
            reassembled.append(contentsOf: slice)
        }
        #expect(reassembled == contents, "\(path) reassembles from its blocks")
        Chunking.expectSame(blocks, Chunking.inMemory(contents, parameters), "\(path) in memory")
    }

    static func systemFile() -> String? {
        let manager = FileManager.default
        for directory in ["/usr/bin", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"] {
            guard let names = try? manager.contentsOfDirectory(atPath: directory) else { continue }
            for name in names.sorted() {
                let path = "\(directory)/\(name)"
                var status = stat()
                guard stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG,
                      (1 << 20 ... 64 << 20).contains(Int(status.st_size)), access(path, R_OK) == 0 else { continue }
                return path
            }
        }
        return nil
    }
}
