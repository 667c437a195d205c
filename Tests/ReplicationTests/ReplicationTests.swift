import Chunker
import Testing
import TestSupport
@testable import Replication
@testable import Store
#if canImport(Glibc)
import Glibc
#endif

/// Runs a sender and a receiver against each other in memory, every message through the codec.
/// Returns the receiver's error, if any.
@discardableResult
func pump(_ sender: SenderDriver, _ receiver: ReceiverDriver) -> Error? {
    func wire(_ message: Message) throws -> Message {
        var decoder = FrameDecoder()
        decoder.append(message.encoded()[...])
        let (type, payload) = try #require(try decoder.next())
        return try Message.decode(type: type, payload: payload)
    }
    do {
        var toReceiver = try sender.start()
        var toSender = try receiver.start()
        while !toReceiver.isEmpty || !toSender.isEmpty {
            var next: [Message] = []
            for message in toReceiver { next += try receiver.handle(try wire(message)) }
            toReceiver = []
            var replies: [Message] = []
            for message in toSender { replies += try sender.handle(try wire(message)) }
            toSender = next
            toReceiver = replies
        }
    } catch {
        return error
    }
    return nil
}

/// A master with three snapshots and an empty replica, in one temporary directory.
struct Pair {
    let directory: TemporaryDirectory
    let master: Vault
    let replica: Vault

    init() throws {
        directory = try TemporaryDirectory()
        try directory.makeDirectory("src")
        try Vault.create(at: directory.path(for: "master"))
        try Vault.create(at: directory.path(for: "replica"), receiveOnly: true)
        master = try Vault(path: directory.path(for: "master"))
        replica = try Vault(path: directory.path(for: "replica"))
        try directory.write(DeterministicData.randomBytes(count: 3 << 20, seed: 1), to: "src/big")
        try directory.write(Array("one".utf8), to: "src/note")
        _ = try Backup(vault: master).run(directory: directory.path(for: "src"))
        try directory.write(Array("two".utf8), to: "src/note")
        _ = try Backup(vault: master).run(directory: directory.path(for: "src"))
        unlink(directory.path(for: "src/note"))
        _ = try Backup(vault: master).run(directory: directory.path(for: "src"))
    }
}

/// A source that lies: it changes what the real vault would send.
final class HostileSource: ReplicationSource {
    let inner: VaultSource
    let tamper: (inout Message.StoredBlock) -> Void
    /// When set, every block read fails, as a damaged pack would.
    var failReads = false
    init(_ inner: VaultSource, tamper: @escaping (inout Message.StoredBlock) -> Void) {
        self.inner = inner
        self.tamper = tamper
    }
    var hello: Message.Hello { inner.hello }
    func highestSequence() throws -> Int64 { try inner.highestSequence() }
    func versions(after: Int64, limit: Int) throws -> (versions: [(folder: [UInt8], version: FileVersion)], blockLists: [MetadataRecord.BlockListRecord], done: Bool) {
        try inner.versions(after: after, limit: limit)
    }
    func snapshots() throws -> [Snapshot] { try inner.snapshots() }
    func storedBlock(_ id: BlockID) throws -> Message.StoredBlock {
        if failReads { throw StoreError.corrupt("cannot read block \(id)") }
        var block = try inner.storedBlock(id)
        tamper(&block)
        return block
    }
    func dictionaries(excluding: Set<UInt32>) throws -> [Message.StoredDictionary] { try inner.dictionaries(excluding: excluding) }
}

@Suite struct ReplicationSessionTests {
    @Test func theReplicaGetsTheWholeHistoryAndASecondPushSendsOnlyWhatIsNew() throws {
        let pair = try Pair()
        do {   // the sink holds the replica's write lock until it goes
            let sender = SenderDriver(source: VaultSource(vault: pair.master))
            let receiver = ReceiverDriver(sink: try VaultSink(vault: pair.replica))
            #expect(pump(sender, receiver) == nil)
            #expect(receiver.snapshotsAdded == 3)
        }
        #expect(try pair.replica.catalog.snapshots().map(\.snapshot) == pair.master.catalog.snapshots().map(\.snapshot))
        #expect(try pair.replica.history(of: Array("note".utf8)).map(\.version) == pair.master.history(of: Array("note".utf8)).map(\.version))
        for (folder, snapshot) in try pair.master.catalog.snapshots() {
            let target = pair.directory.path(for: "restore-\(snapshot.id)")
            _ = try Restorer(vault: pair.replica).run(snapshot: snapshot, folder: folder, target: target)
        }
        #expect(try FileSystem.readFile(pair.directory.path(for: "restore-\(try pair.master.catalog.snapshots()[0].snapshot.id)/note")) == Array("one".utf8))

        // One small change: the next exchange moves one block.
        try pair.directory.write(Array("three".utf8), to: "src/note")
        _ = try Backup(vault: pair.master).run(directory: pair.directory.path(for: "src"))
        let again = SenderDriver(source: VaultSource(vault: pair.master))
        let receiverAgain = ReceiverDriver(sink: try VaultSink(vault: try Vault(path: pair.directory.path(for: "replica"))))
        #expect(pump(again, receiverAgain) == nil)
        #expect(again.blocksSent == 1)
        #expect(receiverAgain.snapshotsAdded == 1)
    }

    /// Each lie is refused, and nothing of it is stored: the replica has no versions and no packs.
    @Test(arguments: ["wrong bytes", "inflating frame", "oversized declaration", "part of a shared frame"])
    func aLyingSenderIsRefusedAndNothingIsStored(lie: String) throws {
        let pair = try Pair()
        let source = HostileSource(VaultSource(vault: pair.master)) { block in
            switch lie {
            case "wrong bytes":
                block.bytes[block.bytes.count / 2] ^= 0xFF
            case "inflating frame":
                // A frame that expands far beyond the block's declared size.
                let zeros = [UInt8](repeating: 0, count: 4 << 20)
                let compressor = ZstdCompressor(level: 1)
                let output = UnsafeMutableRawBufferPointer.allocate(byteCount: ZstdCompressor.bound(zeros.count), alignment: 16)
                defer { output.deallocate() }
                let length = zeros.withUnsafeBytes { compressor.compress($0, into: output) }!
                block.bytes = Array(output[0..<length])
                block.encoding = .zstd
                block.rawLength = 1000
            case "part of a shared frame":
                // A frame a pack could not locate the block in: a peer sends every block alone.
                block.encoding = .zstdShared
            default:
                block.rawLength = PackFormat.maximumBlockSize + 1
            }
        }
        let sender = SenderDriver(source: source)
        let receiver = ReceiverDriver(sink: try VaultSink(vault: pair.replica))
        let error = pump(sender, receiver)
        #expect(error != nil)
        #expect(try pair.replica.catalog.database.scalar("SELECT count(*) FROM versions") == 0)
        #expect(try pair.replica.catalog.database.scalar("SELECT count(*) FROM packs") == 0)
        #expect(try pair.replica.storage.packNames().isEmpty)
    }

    @Test func aSenderRefusesAPeerThatIsNotReceiveOnly() throws {
        let pair = try Pair()
        let sender = SenderDriver(source: VaultSource(vault: pair.master))
        #expect(throws: ReplicationError.self) {
            _ = try sender.handle(.hello(Message.Hello(deviceID: String(repeating: "a", count: 64), vaultID: "b", receiveOnly: false)))
        }
    }

    @Test func anUnrequestedBlockIsRefused() throws {
        let pair = try Pair()
        let receiver = ReceiverDriver(sink: try VaultSink(vault: pair.replica))
        _ = try receiver.start()
        _ = try receiver.handle(.hello(VaultSource(vault: pair.master).hello))
        let block = Message.StoredBlock(id: SHA256Hasher.hash([1]), encoding: .raw, rawLength: 1, bytes: [1])
        #expect(throws: ReplicationError.self) { _ = try receiver.handle(.blockResponse([block])) }
    }
}

@Suite struct ProtocolCodecTests {
    @Test func framesOverTheLimitAreRefusedBeforeTheyAreRead() {
        var decoder = FrameDecoder()
        let length = UInt32(Frame.maximumLength + 1)
        decoder.append([UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)][...])
        #expect(throws: ReplicationError.self) { _ = try decoder.next() }
    }

    @Test func framesArriveInPiecesAndTogether() throws {
        let messages: [Message] = [.indexRequest(after: 7, limit: 10), .close(reason: ""), .blockRequest([SHA256Hasher.hash([9])])]
        let bytes = messages.flatMap { $0.encoded() }
        var decoder = FrameDecoder()
        var decoded: [Message] = []
        for byte in bytes {
            decoder.append([byte][...])
            while let (type, payload) = try decoder.next() { decoded.append(try Message.decode(type: type, payload: payload)) }
        }
        #expect(decoded == messages)
    }

    @Test(arguments: [
        ("a/../b", false), ("/etc/passwd", false), ("a//b", false), ("", false), ("./a", false), ("a/.", false),
        ("a\u{0}b", false), (String(repeating: "x", count: 256), false), ("a/b c/d.txt", true), (String(repeating: "x", count: 255), true),
    ])
    func relativePathRules(path: String, allowed: Bool) {
        let bytes = Array(path.utf8)
        if allowed {
            #expect(throws: Never.self) { try PathRules.checkRelative(bytes) }
        } else {
            #expect(throws: ReplicationError.self) { try PathRules.checkRelative(bytes) }
        }
    }

    @Test func anIndexBatchWithAnEscapingPathIsRefusedAtDecode() throws {
        var version = FileVersion(path: Array("../../etc/cron.d/x".utf8), type: .file, size: 1)
        version.sequence = 1
        let batch = Message.indexBatch(Message.IndexBatch(versions: [(Array("/src".utf8), version)], blockLists: [], done: true, snapshots: []))
        var decoder = FrameDecoder()
        decoder.append(batch.encoded()[...])
        let (type, payload) = try #require(try decoder.next())
        #expect(throws: ReplicationError.self) { _ = try Message.decode(type: type, payload: payload) }
    }

    @Test func truncatedAndTrailingPayloadsAreRefused() throws {
        let frame = Message.blockRequest([SHA256Hasher.hash([1]), SHA256Hasher.hash([2])]).encoded()
        let payload = Array(frame[5...])
        #expect(throws: ReplicationError.self) { _ = try Message.decode(type: frame[4], payload: Array(payload.dropLast())) }
        #expect(throws: ReplicationError.self) { _ = try Message.decode(type: frame[4], payload: payload + [0]) }
        #expect(throws: ReplicationError.self) { _ = try Message.decode(type: 99, payload: []) }
    }
}
