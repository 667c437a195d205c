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
    private let session = Mutex<Set<BlockID>>([])

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
            if session.withLock({ $0.contains(id) }) { return .session }
            if try catalog.hasBlock(id) { return .stored }
        }
        // Another worker may have claimed it since the first look (with no catalog: the only look).
        return session.withLock { $0.insert(id).inserted } ? .mine : .session
    }
}
