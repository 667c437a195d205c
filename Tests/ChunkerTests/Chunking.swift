import Chunker
import Dispatch
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The three ways a caller can feed `BlockReader`, each returning the block list, so that every
/// test can check that they agree without repeating the plumbing.
enum Chunking {
    /// Cuts `bytes` with `forEachBlock(in:)`.
    static func inMemory(_ bytes: [UInt8], _ parameters: ChunkerParameters) -> [BlockRecord] {
        var records: [BlockRecord] = []
        let reader = BlockReader(parameters: parameters)
        bytes.withUnsafeBytes { buffer in
            reader.forEachBlock(in: buffer) { records.append(BlockRecord($0)) }
        }
        return records
    }

    /// Writes `bytes` to a real file and cuts it with `forEachBlock(fileDescriptor:fileSize:)`,
    /// passing the true size. Also checks the byte count the reader returns.
    static func throughFile(_ bytes: [UInt8], _ parameters: ChunkerParameters, parallelHashing: Bool = false,
                            sourceLocation: SourceLocation = #_sourceLocation) throws -> [BlockRecord] {
        let directory = try TemporaryDirectory()
        let path = try directory.write(bytes, to: "input")
        return try ofFile(at: path, parameters, parallelHashing: parallelHashing, sourceLocation: sourceLocation)
    }

    /// Cuts the file at `path` from its start through a file descriptor, passing its size.
    static func ofFile(at path: String, _ parameters: ChunkerParameters, parallelHashing: Bool = false,
                       sourceLocation: SourceLocation = #_sourceLocation) throws -> [BlockRecord] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        try #require(descriptor >= 0, "open \(path) failed: errno \(errno)", sourceLocation: sourceLocation)
        defer { close(descriptor) }
        var status = stat()
        try #require(fstat(descriptor, &status) == 0, sourceLocation: sourceLocation)
        var records: [BlockRecord] = []
        let reader = BlockReader(parameters: parameters, parallelHashing: parallelHashing)
        let count = try reader.forEachBlock(fileDescriptor: descriptor, fileSize: UInt64(status.st_size)) {
            records.append(BlockRecord($0))
        }
        #expect(count == UInt64(status.st_size), "bytes read", sourceLocation: sourceLocation)
        return records
    }

    /// Cuts `bytes` read from a pipe that another thread fills, with `fileSize: nil`, the way a
    /// backup of standard input would. A pipe delivers short reads, unlike a regular file.
    static func throughPipe(_ bytes: [UInt8], _ parameters: ChunkerParameters, parallelHashing: Bool = false,
                            sourceLocation: SourceLocation = #_sourceLocation) throws -> [BlockRecord] {
        // If the reader failed early the writer would get SIGPIPE and kill the whole test process;
        // with the signal ignored it gets EPIPE instead and the failure is reported normally.
        signal(SIGPIPE, SIG_IGN)
        var ends: [Int32] = [-1, -1]
        try #require(pipe(&ends) == 0, "pipe failed: errno \(errno)", sourceLocation: sourceLocation)
        let (readEnd, writeEnd) = (ends[0], ends[1])
        let writer = DispatchGroup()
        DispatchQueue.global().async(group: writer) {
            bytes.withUnsafeBytes { buffer in
                var written = 0
                while written < buffer.count {
                    let count = write(writeEnd, buffer.baseAddress! + written, buffer.count - written)
                    if count < 0 {
                        if errno == EINTR { continue }
                        break  // the reader sees a short stream and the byte count check fails
                    }
                    written += count
                }
            }
            close(writeEnd)
        }
        defer {
            writer.wait()
            close(readEnd)
        }
        var records: [BlockRecord] = []
        let reader = BlockReader(parameters: parameters, parallelHashing: parallelHashing)
        let count = try reader.forEachBlock(fileDescriptor: readEnd, fileSize: nil) { records.append(BlockRecord($0)) }
        #expect(count == UInt64(bytes.count), "bytes read from the pipe", sourceLocation: sourceLocation)
        return records
    }

    /// Records one issue naming the first difference between two block lists, instead of dumping
    /// hundreds of records when a single early cut point moved.
    static func expectSame(_ actual: [BlockRecord], _ expected: [BlockRecord], _ context: String,
                           sourceLocation: SourceLocation = #_sourceLocation) {
        if let index = zip(actual, expected).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            Issue.record("\(context): block \(index) is \(actual[index]), expected \(expected[index])",
                         sourceLocation: sourceLocation)
        } else if actual.count != expected.count {
            Issue.record("\(context): \(actual.count) blocks, expected \(expected.count)", sourceLocation: sourceLocation)
        }
    }
}

extension ChunkerParameters {
    /// Small FastCDC sizes (512 B / 2 KiB / 8 KiB) that give thousands of blocks from a few MiB, so
    /// that buffer refills and cut boundaries meet often.
    static let smallFastCDC = ChunkerParameters(kind: .fastcdc, minimumSize: 512, normalSize: 2048, maximumSize: 8192)
}

extension ChunkerParameters: CustomTestStringConvertible {
    public var testDescription: String {
        kind == .fixed ? "fixed" : "fastcdc(\(minimumSize)/\(normalSize)/\(maximumSize))"
    }
}
