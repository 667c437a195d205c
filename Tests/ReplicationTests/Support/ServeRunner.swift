import Chunker
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import TestSupport
@testable import Replication
@testable import Store

/// Runs the real binary: `serve --stdio` fed a conversation written up front (a hostile peer), or
/// `push` as a user runs it.
enum ServeRunner {
    struct Outcome {
        var status: Int32
        /// True when the process died by a signal (a trap is SIGILL or SIGTRAP).
        var signaled: Bool
        var errors: String
        var errorLines: [String] { errors.split(separator: "\n").map(String.init) }
    }

    static func serve(replica path: String, input: [UInt8]) throws -> Outcome {
        try run(["serve", "--stdio", "--repo", path], input: input)
    }

    static func run(_ arguments: [String], input: [UInt8] = []) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ServeHostilePeerTests.binary)
        process.arguments = arguments
        let stdin = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = FileHandle.nullDevice
        process.standardError = stderr
        try process.run()
        // A peer that stops reading early must fail this write (EPIPE), not kill the test run.
        signal(SIGPIPE, SIG_IGN)
        try? stdin.fileHandleForWriting.write(contentsOf: Data(input))
        try? stdin.fileHandleForWriting.close()
        let errors = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal, errors: errors)
    }

    /// An index batch of one version (a directory unless `block` is given) and the snapshots.
    static func batch(sequence: Int64, path: String = "dir", block: BlockID? = nil, size: Int64 = 0,
                      snapshots: [Snapshot] = [], done: Bool = true) -> [UInt8] {
        var version = FileVersion(path: Array(path.utf8), type: block == nil ? .directory : .file, size: size)
        version.sequence = sequence
        version.blockListHash = block
        version.blockCount = block == nil ? 0 : 1
        return Message.indexBatch(Message.IndexBatch(versions: [(Array("/src".utf8), version)], blockLists: [], done: done,
                                                     snapshots: snapshots)).encoded()
    }

    static func snapshot(id: String, sequence: Int64, files: Int64 = 0, bytes: Int64 = 0) -> Snapshot {
        Snapshot(id: id, folderPath: Array("/src".utf8), time: 1_700_000_000_000_000_000, host: "peer", tags: [], sequence: sequence,
                 files: files, bytes: bytes, partial: false, metadataID: nil)
    }
}
