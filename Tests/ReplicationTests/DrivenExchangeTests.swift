import Dispatch
import Foundation
import Testing
import TestSupport
@testable import Replication
@testable import Store

/// Real vaults in temporary directories exchanged by the drivers over an in-memory byte stream,
/// the receiver on a thread of its own, as `push` and `serve` run them over pipes.
@Suite struct DrivenExchangeTests {
    struct Outcome {
        var sender: Result<SenderSession, any Error>
        var receiver: Result<ReceiverSession, any Error>
    }

    /// Pushes `source` into the replica at `replicaPath` (opened on the receiver's thread).
    static func exchange(_ source: any ReplicationSource, into replicaPath: String, progress: SenderProgress? = nil) -> Outcome {
        let (near, far) = MemoryStream.pair()
        let received = ResultBox()
        let finished = DispatchSemaphore(value: 0)
        Thread {
            do {
                let sink: VaultSink
                do { sink = try VaultSink(vault: try Vault(path: replicaPath)) } catch {
                    // As `serve` does when its vault cannot be opened: the pushing side hears why.
                    try? Connection(stream: far).send(.close(reason: "\(error)"))
                    throw error
                }
                let driver = ReceiverDriver(sink: sink)
                try driver.run(over: Connection(stream: far))
                received.set(.success(driver.session))
            } catch {
                received.set(.failure(error))
            }
            far.close()
            finished.signal()
        }.start()
        let driver = SenderDriver(source: source, progress: progress)
        let sent: Result<SenderSession, any Error> = Result { try driver.run(over: Connection(stream: near)); return driver.session }
        near.close()
        finished.wait()
        return Outcome(sender: sent, receiver: received.value!)
    }

    /// The counters a push's progress display reads: published after every event, they end equal
    /// to the session's own, the whole history sent; a second push starts where the replica stood.
    @Test func aPushPublishesItsProgress() throws {
        let pair = try Pair()
        let replicaPath = pair.directory.path(for: "replica")
        let progress = SenderProgress()
        let sender = try Self.exchange(VaultSource(vault: pair.master), into: replicaPath, progress: progress).sender.get()
        let highest = try pair.master.catalog.maximumSequence()
        #expect(progress.started.load(ordering: .relaxed) && progress.startSequence.load(ordering: .relaxed) == 0)
        #expect(progress.highestSequence.load(ordering: .relaxed) == highest && progress.sentSequence.load(ordering: .relaxed) == highest)
        #expect(progress.versionsSent.load(ordering: .relaxed) == Int64(sender.versionsSent) && sender.versionsSent > 0)
        #expect(progress.blocksSent.load(ordering: .relaxed) == Int64(sender.blocksSent) && sender.blocksSent > 0)
        #expect(progress.blocksRequested.load(ordering: .relaxed) == Int64(sender.blocksSent))
        #expect(progress.blockBytesSent.load(ordering: .relaxed) == sender.blockBytesSent && sender.blockBytesSent > 0)
        #expect((progress.fraction ?? 0) > 0.99)

        try pair.directory.write(Array("three".utf8), to: "src/note")
        _ = try Backup(vault: pair.master).run(directory: pair.directory.path(for: "src"))
        let again = SenderProgress()
        _ = try Self.exchange(VaultSource(vault: pair.master), into: replicaPath, progress: again).sender.get()
        #expect(again.startSequence.load(ordering: .relaxed) == highest, "the replica held the first push's history")
        #expect(again.sentSequence.load(ordering: .relaxed) == (try pair.master.catalog.maximumSequence()))
        #expect(again.versionsSent.load(ordering: .relaxed) >= 1)
    }

    @Test func aPushOverAStreamCarriesTheHistoryAndTheNextOnlyWhatIsNew() throws {
        let pair = try Pair()
        let replicaPath = pair.directory.path(for: "replica")
        let first = Self.exchange(VaultSource(vault: pair.master), into: replicaPath)
        let sender = try first.sender.get()
        let receiver = try first.receiver.get()
        #expect(sender.isFinished && receiver.isFinished)
        #expect(receiver.snapshotsAdded == 3 && receiver.snapshotsSkipped.isEmpty)
        #expect(sender.blocksSent == receiver.blocksReceived && receiver.blocksReceived > 0)
        let replica = try Vault(path: replicaPath)
        #expect(try replica.catalog.snapshots().map(\.snapshot) == pair.master.catalog.snapshots().map(\.snapshot))
        let (folder, snapshot) = try #require(try replica.catalog.snapshots().last)
        _ = try Restorer(vault: replica).run(snapshot: snapshot, folder: folder, target: pair.directory.path(for: "out"))
        #expect(try FileSystem.readFile(pair.directory.path(for: "out/big")) == FileSystem.readFile(pair.directory.path(for: "src/big")))

        try pair.directory.write(Array("three".utf8), to: "src/note")
        _ = try Backup(vault: pair.master).run(directory: pair.directory.path(for: "src"))
        let second = Self.exchange(VaultSource(vault: pair.master), into: replicaPath)
        #expect(try second.sender.get().blocksSent == 1)
        #expect(try second.receiver.get().snapshotsAdded == 1)
    }

    @Test func aDictionaryCrossesOnceBeforeTheBlocksThatNeedIt() throws {
        let pair = try DictionaryPair()
        let outcome = Self.exchange(VaultSource(vault: pair.master), into: pair.directory.path(for: "replica"))
        #expect(try outcome.receiver.get().dictionariesReceived == 1)
        #expect(try Vault(path: pair.directory.path(for: "replica")).dictionaries.all.map(\.id) == pair.master.dictionaries.all.map(\.id))
    }

    /// The receiver's failure reaches the sender as the close's reason; nothing is stored.
    @Test func aLieIsRefusedOnTheReceivingSideAndTheSenderHearsWhy() throws {
        let pair = try Pair()
        let liar = HostileSource(VaultSource(vault: pair.master)) { $0.bytes[0] ^= 0xFF }
        let outcome = Self.exchange(liar, into: pair.directory.path(for: "replica"))
        guard case .failure(let refused) = outcome.receiver else { Issue.record("the receiver took a false block"); return }
        guard case .failure(ReplicationError.peerFailed(let reason)) = outcome.sender else { Issue.record("\(outcome.sender)"); return }
        #expect(reason == "\(refused)")
        #expect(try pair.replica.catalog.database.scalar("SELECT count(*) FROM versions") == 0)
        #expect(try pair.replica.storage.packNames().isEmpty)
    }

    /// A replica follows one master: another vault's push fails on both sides with the replica's reason.
    @Test func aReplicaOfAnotherMasterRefusesThePush() throws {
        let pair = try Pair()
        let replicaPath = pair.directory.path(for: "replica")
        _ = try Self.exchange(VaultSource(vault: pair.master), into: replicaPath).receiver.get()
        try Vault.create(at: pair.directory.path(for: "other"))
        let other = try Vault(path: pair.directory.path(for: "other"))
        _ = try Backup(vault: other).run(directory: pair.directory.path(for: "src"))
        let outcome = Self.exchange(VaultSource(vault: other), into: replicaPath)
        guard case .failure(let refused) = outcome.receiver else { Issue.record("a second master was taken"); return }
        guard case .failure(ReplicationError.peerFailed(let reason)) = outcome.sender else { Issue.record("\(outcome.sender)"); return }
        #expect(reason == "\(refused)")
        #expect(try Vault(path: replicaPath).catalog.snapshots().count == 3)
    }

    /// A sender whose vault fails mid-way tells the receiver, which records nothing of the batch.
    @Test func aFailureOnTheSendingSideIsSentAsTheCloseReason() throws {
        let pair = try Pair()
        let failing = HostileSource(VaultSource(vault: pair.master)) { _ in }
        failing.failReads = true
        let outcome = Self.exchange(failing, into: pair.directory.path(for: "replica"))
        guard case .failure(let failure) = outcome.sender else { Issue.record("the sender did not fail"); return }
        guard case .failure(ReplicationError.peerFailed(let reason)) = outcome.receiver else { Issue.record("\(outcome.receiver)"); return }
        #expect(reason == "\(failure)" && reason.contains("cannot read"))
        #expect(try pair.replica.catalog.database.scalar("SELECT count(*) FROM versions") == 0)
    }
}

/// The receiver's result, handed from its thread to the test's; guarded by its lock.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Result<ReceiverSession, any Error>?

    func set(_ result: Result<ReceiverSession, any Error>) { lock.withLock { stored = result } }
    var value: Result<ReceiverSession, any Error>? { lock.withLock { stored } }
}
