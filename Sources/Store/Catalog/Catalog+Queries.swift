import Chunker

extension Catalog {
    /// Counts and sizes of what the catalog records, for `stats`.
    public struct Totals: Sendable, Equatable {
        /// Recorded file versions, deletions included.
        public var versions: Int64 = 0
        /// Block rows in data packs (metadata records are not counted).
        public var dataBlocks: Int64 = 0
        /// Packs of every kind.
        public var packs: Int64 = 0
        /// Bytes of the data blocks before compression.
        public var uniqueDataBytes: Int64 = 0
        /// Bytes of the data blocks as stored; the blocks of a shared frame count its bytes once.
        public var storedDataBytes: Int64 = 0
        /// Bytes of all packs, as recorded when sealed.
        public var packBytes: Int64 = 0
        /// Blocks compressed with a zstd dictionary.
        public var dictionaryBlocks: Int64 = 0

        public init() {}
    }

    /// The catalog's totals. Read-only.
    public func totals() throws(StoreError) -> Totals {
        var totals = Totals()
        totals.versions = try database.scalar("SELECT count(*) FROM versions") ?? 0
        totals.dataBlocks = try database.scalar("SELECT count(*) FROM blocks b JOIN packs p ON p.id = b.pack WHERE p.kind = 0") ?? 0
        totals.packs = try database.scalar("SELECT count(*) FROM packs") ?? 0
        totals.uniqueDataBytes = try database.scalar("SELECT sum(b.raw_length) FROM blocks b JOIN packs p ON p.id = b.pack WHERE p.kind = 0") ?? 0
        // The blocks of a shared frame have one offset, and the frame's bytes count once.
        totals.storedDataBytes = try database.scalar("""
            SELECT sum(stored_length) FROM (SELECT DISTINCT b.pack, b.offset, b.stored_length FROM blocks b
                                            JOIN packs p ON p.id = b.pack WHERE p.kind = 0)
            """) ?? 0
        totals.packBytes = try database.scalar("SELECT sum(size) FROM packs") ?? 0
        totals.dictionaryBlocks = try database.scalar(
            "SELECT count(*) FROM blocks WHERE encoding = \(PackFormat.Encoding.zstdDictionary.rawValue)") ?? 0
        return totals
    }

    /// The block lists that hold any of `blocks`: list hash → those of `blocks` it holds, in list
    /// order (a block listed twice appears twice). One pass over every block list; read-only.
    public func blockLists(containing blocks: Set<BlockID>) throws(StoreError) -> [BlockID: [BlockID]] {
        guard !blocks.isEmpty else { return [:] }
        var result: [BlockID: [BlockID]] = [:]
        let lists = try database.prepare("SELECT hash, ids FROM blocklists")
        while try lists.step() {
            guard let hash = lists.blockID(0) else { continue }
            let hits = lists.withBlob(1, BlockID.list(in:)).filter(blocks.contains)
            if !hits.isEmpty { result[hash] = hits }
        }
        return result
    }

    /// Blocks that some recorded, not deleted, file version needs but the block index lacks; a
    /// block list that is itself missing is named by its hash. Read-only.
    public func absentReferencedBlocks() throws(StoreError) -> Set<BlockID> {
        var absent = Set<BlockID>()
        let single = try database.prepare("""
            SELECT DISTINCT v.blocklist FROM versions v WHERE v.blocks = 1 AND v.deleted = 0
            AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.hash = v.blocklist)
            """)
        while try single.step() { if let id = single.blockID(0) { absent.insert(id) } }
        let lists = try database.prepare("SELECT DISTINCT blocklist, blocks FROM versions WHERE blocks > 1 AND deleted = 0")
        var wanted: [(BlockID, Int)] = []
        while try lists.step() { if let id = lists.blockID(0) { wanted.append((id, lists.int(1))) } }
        for (hash, count) in wanted {
            var version = FileVersion(path: [], type: .file)
            version.blockListHash = hash
            version.blockCount = count
            let ids: [BlockID]
            do { ids = try blockIDs(of: version) } catch {
                absent.insert(hash)   // the list itself is gone: name it by its hash
                continue
            }
            for id in ids where try !hasBlock(id) { absent.insert(id) }
        }
        return absent
    }
}
