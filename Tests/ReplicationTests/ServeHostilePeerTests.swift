import Chunker
import Foundation
import Testing
import TestSupport
@testable import Replication
@testable import Store

/// A test peer plays a hostile master against the real `blockvault serve --stdio`: the whole
/// conversation is written up front (the replica's requests are predictable), and the replica must
/// refuse with one line on stderr, store nothing, and write nothing outside the vault.
@Suite struct ServeHostilePeerTests {
    static let binary: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" && !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url.deleteLastPathComponent()
        }
        return url.appendingPathComponent(".build/debug/blockvault").path
    }()

    static let master = Message.Hello(deviceID: String(repeating: "ab", count: 32), vaultID: "00", receiveOnly: false)
    /// The master's hello and its announcement of sequence 1, the one version each test sends.
    static let opening = Message.hello(master).encoded() + Message.announce(highestSequence: 1).encoded()

    /// Runs `serve --stdio` on a fresh replica with `input`; returns (exit status, stderr, vault).
    func serve(_ input: [UInt8]) throws -> (Int32, String, Vault, TemporaryDirectory) {
        let directory = try TemporaryDirectory()
        try Vault.create(at: directory.path(for: "replica"), receiveOnly: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ServeHostilePeerTests.binary)
        process.arguments = ["serve", "--stdio", "--repo", directory.path(for: "replica")]
        let stdin = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = FileHandle.nullDevice
        process.standardError = stderr
        try process.run()
        try? stdin.fileHandleForWriting.write(contentsOf: Data(input))
        try? stdin.fileHandleForWriting.close()
        let errors = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, errors, try Vault(path: directory.path(for: "replica")), directory)
    }

    func batch(path: [UInt8], folder: [UInt8] = Array("/src".utf8), block: BlockID?) -> [UInt8] {
        var version = FileVersion(path: path, type: .file, size: 5)
        version.sequence = 1
        version.blockListHash = block
        version.blockCount = block == nil ? 0 : 1
        return Message.indexBatch(Message.IndexBatch(versions: [(folder, version)], blockLists: [], done: true, snapshots: [])).encoded()
    }

    func expectRefused(_ input: [UInt8], mentioning words: String) throws {
        let (status, errors, vault, directory) = try serve(input)
        #expect(status != 0)
        #expect(errors.contains(words), "stderr: \(errors)")
        #expect(errors.split(separator: "\n").count == 1, "one line: \(errors)")
        #expect(try vault.catalog.database.scalar("SELECT count(*) FROM versions") == 0)
        #expect(try vault.storage.packNames().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: directory.path(for: "escape")))
    }

    @Test(arguments: [
        (Array("../escape".utf8), "'..'"), (Array("/etc/escape".utf8), "absolute"), ([0x61, 0x00, 0x62], "NUL"),
        (Array("a//b".utf8), "empty component"), (Array(repeating: UInt8(ascii: "x"), count: 256), "255 bytes"),
    ])
    func namesThatCouldEscapeAreRefused(path: [UInt8], words: String) throws {
        try expectRefused(ServeHostilePeerTests.opening + batch(path: path, block: nil), mentioning: words)
    }

    @Test func aFrameOverTheLimitIsRefused() throws {
        try expectRefused(ServeHostilePeerTests.opening + [0xFF, 0xFF, 0xFF, 0xF0, 3], mentioning: "frame")
    }

    @Test func bytesThatDoNotMatchTheirHashAreRefused() throws {
        let id = SHA256Hasher.hash(Array("hello".utf8))
        let lie = Message.blockResponse([Message.StoredBlock(id: id, encoding: .raw, rawLength: 5, bytes: Array("jello".utf8))])
        try expectRefused(ServeHostilePeerTests.opening + batch(path: Array("a.txt".utf8), block: id) + lie.encoded(),
                          mentioning: "does not match its hash")
    }

    @Test func aFrameThatExpandsBeyondItsBlockIsRefused() throws {
        let zeros = [UInt8](repeating: 0, count: 8 << 20)
        let compressor = ZstdCompressor(level: 1)
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: ZstdCompressor.bound(zeros.count), alignment: 16)
        defer { output.deallocate() }
        let length = try #require(zeros.withUnsafeBytes { compressor.compress($0, into: output) })
        let id = SHA256Hasher.hash([UInt8](repeating: 0, count: 5))
        let bomb = Message.blockResponse([Message.StoredBlock(id: id, encoding: .zstd, rawLength: 5, bytes: Array(output[0..<length]))])
        try expectRefused(ServeHostilePeerTests.opening + batch(path: Array("a.txt".utf8), block: id) + bomb.encoded(),
                          mentioning: "does not decompress")
    }
}
