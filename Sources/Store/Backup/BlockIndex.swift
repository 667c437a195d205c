import Chunker

/// Decides, for each block a backup meets, whether it must be stored: at most one worker stores a
/// given block, and blocks the catalog already has are never stored again.
///
/// Lookups go to the catalog through each worker's own read connection (an indexed point query, so
/// memory stays flat however large the vault, and workers never queue for one connection), plus an
/// in-memory set of the blocks this backup stores whose packs are not yet in a committed
/// transaction, the only thing under a lock. Once the committer commits, those blocks leave the set
/// (`committed`) and the catalog answers for them: the set holds a transaction's worth of blocks,
/// where it used to keep every block of the backup (64 MB at 10^6 new blocks, growing with the
/// backup). A catalog that held few blocks when the backup started (none, or only the record of the
/// dictionary this backup trained) is not asked about any block but those few and the ones in a
/// Bloom filter of the committed blocks: any other block is certainly new.
///
/// The index also tells the committer which of those blocks are not yet in a pack it has recorded
/// (`unrecorded`): a file version waits until none of its blocks is.
final class BlockIndex: Sendable {
    enum Claim {
        /// The catalog already has it.
        case stored
        /// Another file of this backup stored it (it is in a pack that may not be sealed yet).
        case session
        /// The caller must store it.
        case mine
    }

    /// One worker's read connection to the catalog, opened when first needed.
    final class Lookup: @unchecked Sendable {
        // @unchecked: made before the workers start and handed to exactly one of them, which alone uses it.
        private let path: String
        private var opened: Catalog?

        fileprivate init(path: String, opened: Catalog?) {
            self.path = path
            self.opened = opened
        }

        fileprivate func catalog() throws(StoreError) -> Catalog {
            if let opened { return opened }
            let catalog = try Catalog(path: path)
            opened = catalog
            return catalog
        }
    }

    /// Catalogs with at most this many blocks when a backup starts are not asked about every block.
    static let fewBlocks = 1024

    private let catalogPath: String
    /// The catalog's blocks when the backup started, if they were few; nil: ask the catalog.
    private let startedWith: Set<BlockID>?
    private struct Session {
        /// Blocks this backup stores (or has stored) whose packs are not in a committed transaction yet.
        var claimed: Set<BlockID> = []
        /// Claimed blocks whose pack the committer has not recorded yet.
        var unrecorded: Set<BlockID> = []
        /// When the catalog started with few blocks: the blocks that left `claimed` for the catalog.
        var committed = BlockFilter()
        /// How many times blocks left `claimed` for the catalog.
        var commits = 0
    }

    private let session = AdaptiveMutex(Session())

    init(catalogPath: String) throws(StoreError) {
        self.catalogPath = catalogPath
        startedWith = try Catalog(path: catalogPath).allBlocks(ifAtMost: BlockIndex.fewBlocks).map(Set.init)
    }

    /// A read connection for one worker: opened now, so that a catalog that cannot be opened fails
    /// the backup before it starts, unless the catalog started with few blocks (it may never be needed).
    func makeLookup() throws(StoreError) -> Lookup {
        Lookup(path: catalogPath, opened: startedWith != nil ? nil : try Catalog(path: catalogPath))
    }

    func claim(_ id: BlockID, lookup: Lookup) throws(StoreError) -> Claim {
        enum Step {
            case done(Claim)
            case askCatalog(commitsBefore: Int)
        }
        while true {
            let step = session.withLock { session -> Step in
                if session.claimed.contains(id) { return .done(.session) }
                if let startedWith {
                    if startedWith.contains(id) { return .done(.stored) }
                    if session.committed.mayContain(id) { return .askCatalog(commitsBefore: session.commits) }
                    session.claimed.insert(id)
                    session.unrecorded.insert(id)
                    return .done(.mine)
                }
                return .askCatalog(commitsBefore: session.commits)
            }
            switch step {
            case .done(let claim):
                return claim
            case .askCatalog(let commitsBefore):
                if try lookup.catalog().hasBlock(id) { return .stored }
                let claim = session.withLock { session -> Claim? in
                    if session.claimed.contains(id) { return .session }   // another worker claimed it meanwhile
                    // A commit since the first look may have moved it from `claimed` to the catalog
                    // after the catalog was asked: look again.
                    guard session.commits == commitsBefore else { return nil }
                    session.claimed.insert(id)
                    session.unrecorded.insert(id)
                    return .mine
                }
                if let claim { return claim }
            }
        }
    }

    /// The committer has recorded a pack holding `ids` (in its open transaction).
    func recorded(_ ids: some Sequence<BlockID>) {
        session.withLock { session in
            for id in ids { session.unrecorded.remove(id) }
        }
    }

    /// The committer has committed the transaction that recorded the packs holding `ids`: the
    /// catalog answers for them from now on, so the session lets them go.
    func committed(_ ids: [BlockID]) {
        guard !ids.isEmpty else { return }
        session.withLock { session in
            for id in ids {
                session.claimed.remove(id)
                if startedWith != nil { session.committed.insert(id) }
            }
            session.commits += 1
        }
    }

    /// Whether every one of `ids` (blocks this backup claimed) is in a pack the committer recorded.
    func allRecorded(_ ids: [BlockID]) -> Bool {
        if ids.isEmpty { return true }
        return session.withLock { session in ids.allSatisfy { !session.unrecorded.contains($0) } }
    }
}
