import Chunker
import Foundation

/// A version waiting to be recorded, with the blocks that must be durable before it may be.
struct PendingVersion: Sendable {
    var path: [UInt8]
    var version: FileVersion
    /// The block list (32-byte IDs in file order) for files.
    var blockList: [UInt8]?
    /// Blocks this backup stored for the file; the version waits until all are in sealed packs.
    var dependencies: [BlockID]
}

enum CommitEvent: Sendable {
    case pack(SealedPack)
    case version(PendingVersion)
}

/// The only writer of the catalog during a backup, on its own thread. Sealed packs are recorded in
/// the next batch, without waiting for the files that use them. Batches hold up to 20,000 events
/// or two seconds: with 2,000 or half a second, a 10^6-file backup's committer worked a third
/// longer, rewriting the same index pages in every transaction. A pack
/// sealed but not yet recorded when the process dies is adopted by the next backup
/// (`Vault.recoverInterruptedWrites`), so its blocks are reused either way. A file version is
/// recorded only after every block it needs is in a recorded pack — the write order that makes a
/// crash safe.
final class CatalogCommitter: @unchecked Sendable {
    // @unchecked: `catalog`, `waiting`, `durable` and `names` are touched only by the
    // committer thread between `start()` and `finish()`; `failure` is guarded by `failureLock`.
    let queue = BoundedQueue<CommitEvent>(capacity: 4096)
    private let catalog: Catalog
    private var waiting: [PendingVersion] = []
    private var durable: Set<BlockID> = []
    private var names: NameResolver
    private let failureLock = NSLock()
    private var failure: Error?
    private let done = DispatchSemaphore(value: 0)
    private(set) var recorded = 0

    init(catalog: Catalog, folder: Int64) {
        self.catalog = catalog
        names = NameResolver(catalog: catalog, folder: folder)
    }

    var error: Error? { failureLock.withLock { failure } }

    func start() {
        let thread = Thread { [self] in
            Thread.current.name = "bv-committer"   // shows in /proc/PID/task/*/comm, for profiling
            run()
            done.signal()
        }
        thread.stackSize = 1 << 22
        thread.start()
    }

    /// Closes the queue, waits for everything to be committed, and rethrows the first failure.
    func finish() throws {
        queue.close()
        done.wait()
        if let error { throw error }
        if !waiting.isEmpty {
            throw StoreError.catalog("\(waiting.count) file versions still wait for blocks that were never sealed")
        }
    }

    private func run() {
        var batch: [CommitEvent] = []
        var lastCommit = FileSystem.monotonicSeconds()
        while true {
            let event = queue.pop(timeout: 0.25)
            if let event { batch.append(event) }
            let finished = event == nil && queue.isClosedAndEmpty
            let now = FileSystem.monotonicSeconds()
            if finished || batch.count >= 20000 || now - lastCommit >= 2.0 {
                do {
                    try commit(batch)
                } catch {
                    failureLock.withLock { if failure == nil { failure = error } }
                    queue.close()
                    while queue.pop() != nil {}
                    return
                }
                batch.removeAll(keepingCapacity: true)
                lastCommit = now
            }
            if finished { return }
        }
    }

    private func commit(_ events: [CommitEvent]) throws {
        if events.isEmpty && waiting.isEmpty { return }
        try catalog.transaction {
            for event in events {
                switch event {
                case .pack(let pack):
                    try catalog.insertPack(pack)
                    pack.entries.forEach { durable.insert($0.id) }
                case .version(let pending):
                    waiting.append(pending)
                }
            }
            var stillWaiting: [PendingVersion] = []
            for pending in waiting {
                if pending.dependencies.allSatisfy({ durable.contains($0) }) {
                    try record(pending)
                } else {
                    stillWaiting.append(pending)
                }
            }
            waiting = stillWaiting
        }
    }

    private func record(_ pending: PendingVersion) throws {
        if let list = pending.blockList, let hash = pending.version.blockListHash {
            try catalog.insertBlockList(hash: hash, ids: list, size: pending.version.size)
        }
        let nameID = try names.nameID(for: pending.path, isDirectory: pending.version.type == .directory)
        try catalog.insertVersion(pending.version, nameID: nameID)
        recorded += 1
    }
}
