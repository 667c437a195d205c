import Chunker
import Synchronization

/// Decides, for each block a backup meets, whether it must be stored: at most one worker stores a
/// given block, and blocks the catalog already has are never stored again.
///
/// Lookups go to the catalog through the index's own read connection (an indexed point query, so
/// memory stays flat however large the vault), plus an in-memory set of the blocks stored during
/// this backup.
final class BlockIndex: Sendable {
    enum Claim {
        /// The catalog already has it.
        case stored
        /// Another file of this backup stored it (it is in a pack that may not be sealed yet).
        case session
        /// The caller must store it.
        case mine
    }

    private struct State: ~Copyable {
        var catalog: Catalog
        var session: Set<BlockID> = []
    }
    // Catalog is a class confined to this mutex: only one thread uses the connection at a time.
    private let state: Mutex<State>

    init(catalogPath: String) throws(StoreError) {
        state = Mutex(State(catalog: try Catalog(path: catalogPath)))
    }

    func claim(_ id: BlockID) throws(StoreError) -> Claim {
        try state.withLock { (state: inout State) throws(StoreError) -> Claim in
            if state.session.contains(id) { return .session }
            if try state.catalog.hasBlock(id) { return .stored }
            state.session.insert(id)
            return .mine
        }
    }

    /// Forces a block to be stored again even though the catalog knows it (used when it is missing).
    func claimForRepair(_ id: BlockID) -> Bool {
        state.withLock { $0.session.insert(id).inserted }
    }
}
