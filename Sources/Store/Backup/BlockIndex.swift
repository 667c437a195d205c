import Chunker
import Synchronization

/// Decides, for each block a backup meets, whether it must be stored: at most one worker stores a
/// given block, and blocks the catalog already has are never stored again.
///
/// Lookups go to the catalog through each worker's own read connection (an indexed point query, so
/// memory stays flat however large the vault, and workers never queue for one connection), plus an
/// in-memory set of the blocks stored during this backup, the only thing under a lock. A vault
/// whose catalog had no blocks when the backup started is not asked at all: every block it could
/// know by now was stored by this backup and is in the set.
///
/// The index also tells the committer which of those blocks are not yet in a pack it has recorded
/// (`unrecorded`): a file version waits until none of its blocks is. That set holds only the blocks
/// in flight (queued, compressing, in an open or sealing pack), where the committer used to keep
/// its own set of every block recorded, a second copy of `claimed` (64 MB at 10^6 blocks).
final class BlockIndex: Sendable {
    enum Claim {
        /// The catalog already has it.
        case stored
        /// Another file of this backup stored it (it is in a pack that may not be sealed yet).
        case session
        /// The caller must store it.
        case mine
    }

    /// One worker's read connection to the catalog.
    final class Lookup: @unchecked Sendable {
        // @unchecked: made before the workers start and handed to exactly one of them, which alone uses it.
        fileprivate let catalog: Catalog?
        fileprivate init(catalog: Catalog?) { self.catalog = catalog }
    }

    private let catalogPath: String
    private let startedEmpty: Bool
    private struct Session {
        /// Every block this backup stores (or has stored).
        var claimed: Set<BlockID> = []
        /// Claimed blocks whose pack the committer has not recorded yet.
        var unrecorded: Set<BlockID> = []
    }

    private let session = Mutex(Session())

    init(catalogPath: String) throws(StoreError) {
        self.catalogPath = catalogPath
        startedEmpty = try !Catalog(path: catalogPath).hasAnyBlock()
    }

    /// A read connection for one worker (none is opened when the catalog started empty).
    func makeLookup() throws(StoreError) -> Lookup {
        Lookup(catalog: startedEmpty ? nil : try Catalog(path: catalogPath))
    }

    func claim(_ id: BlockID, lookup: Lookup) throws(StoreError) -> Claim {
        if let catalog = lookup.catalog {
            if session.withLock({ $0.claimed.contains(id) }) { return .session }
            if try catalog.hasBlock(id) { return .stored }
        }
        // Another worker may have claimed it since the first look (with no catalog: the only look).
        return session.withLock { session in
            guard session.claimed.insert(id).inserted else { return .session }
            session.unrecorded.insert(id)
            return .mine
        }
    }

    /// The committer has recorded a pack holding `ids` (in its open transaction).
    func recorded(_ ids: some Sequence<BlockID>) {
        session.withLock { session in
            for id in ids { session.unrecorded.remove(id) }
        }
    }

    /// Whether every one of `ids` (blocks this backup claimed) is in a pack the committer recorded.
    func allRecorded(_ ids: [BlockID]) -> Bool {
        if ids.isEmpty { return true }
        return session.withLock { session in ids.allSatisfy { !session.unrecorded.contains($0) } }
    }
}
