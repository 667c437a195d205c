import Chunker

/// What prune asks the catalog: which blocks recorded versions still need, how much of each data
/// pack is dead, which blocks to copy out of a pack, and the sweep that unreferences packs.
extension Catalog {
    /// One data pack's use: its live and dead blocks, and the bytes of its dead ones.
    public struct PackUsage: Sendable {
        public var id: Int64
        public var name: String
        public var size: Int
        public var liveBlocks = 0
        public var deadBlocks = 0
        public var deadBytes = 0
    }

    /// Marks every block a recorded version needs (a single-block file's block, and every block of
    /// the block lists multi-block files use) in a temporary table, runs `body`, and drops the
    /// table. The liveness questions below are asked inside `body`. SQLite spills the table to a
    /// temporary file when large, so memory stays flat however big the vault is.
    public func withLiveBlocks<T>(_ body: () throws -> T) throws -> T {
        try database.execute("""
            DROP TABLE IF EXISTS temp.live;
            CREATE TEMP TABLE live(hash BLOB PRIMARY KEY) STRICT, WITHOUT ROWID;
            INSERT OR IGNORE INTO temp.live SELECT blocklist FROM versions WHERE blocks = 1 AND blocklist IS NOT NULL;
            """)
        defer { try? database.execute("DROP TABLE IF EXISTS temp.live") }
        let markLive = try database.prepare("INSERT OR IGNORE INTO temp.live(hash) VALUES(?)")
        let lists = try database.prepare("""
            SELECT l.ids FROM blocklists l WHERE l.hash IN (SELECT DISTINCT blocklist FROM versions WHERE blocks > 1)
            """)
        while try lists.step() {
            for id in lists.withBlob(0, BlockID.list(in:)) {
                try markLive.bind(id, at: 1)
                try markLive.step()
            }
        }
        return try body()
    }

    /// Every data pack's use, by name, from two passes over the block table (blocks stored alone,
    /// then shared frames). A shared frame's bytes are dead in the proportion of its blocks'
    /// plaintext that is dead; frames are grouped by SQLite (which sorts on disk when it must), so
    /// memory does not grow with their number. Inside `withLiveBlocks` only.
    public func dataPackUsage() throws -> [PackUsage] {
        var uses: [Int64: PackUsage] = [:]
        for pack in try packs() where pack.kind == Int(PackFormat.Kind.data.rawValue) {
            uses[pack.id] = PackUsage(id: pack.id, name: pack.name, size: pack.size)
        }
        let usage = try database.prepare("""
            SELECT b.pack, b.stored_length, EXISTS (SELECT 1 FROM temp.live l WHERE l.hash = b.hash) FROM blocks b
            WHERE b.encoding != \(PackFormat.Encoding.zstdShared.rawValue)
            """)
        while try usage.step() {
            let pack = usage.int64(0)
            guard uses[pack] != nil else { continue }
            if usage.int(2) != 0 {
                uses[pack]!.liveBlocks += 1
            } else {
                uses[pack]!.deadBlocks += 1
                uses[pack]!.deadBytes += usage.int(1)
            }
        }
        let frameUsage = try database.prepare("""
            SELECT pack, max(stored_length), sum(live * raw_length), sum((1 - live) * raw_length), sum(live), count(*) FROM
              (SELECT b.pack, b.offset, b.stored_length, b.raw_length,
                      EXISTS (SELECT 1 FROM temp.live l WHERE l.hash = b.hash) AS live
               FROM blocks b WHERE b.encoding = \(PackFormat.Encoding.zstdShared.rawValue))
            GROUP BY pack, offset
            """)
        while try frameUsage.step() {
            let pack = frameUsage.int64(0)
            guard uses[pack] != nil else { continue }
            let (stored, liveRaw, deadRaw) = (frameUsage.int(1), frameUsage.int(2), frameUsage.int(3))
            uses[pack]!.liveBlocks += frameUsage.int(4)
            uses[pack]!.deadBlocks += frameUsage.int(5) - frameUsage.int(4)
            if deadRaw > 0 {
                uses[pack]!.deadBytes += liveRaw == 0 ? stored : Int(Double(stored) * Double(deadRaw) / Double(liveRaw + deadRaw))
            }
        }
        return uses.values.sorted { $0.name < $1.name }
    }

    /// The blocks to copy out of `packs` when repacking them: calls `body` once per pack (that has
    /// block rows) with its live entries and, for its shared frames, how many blocks (live or dead)
    /// each holds, by offset. One pack's entries are in memory at a time. Inside `withLiveBlocks` only.
    public func blocksToCopy(fromPacks packs: Set<Int64>,
                             _ body: (_ pack: Int64, _ live: [PackEntry], _ frameBlocks: [Int: Int]) throws -> Void) throws {
        let isLive = try database.prepare("SELECT 1 FROM temp.live WHERE hash = ?")
        try forEachPackEntries(only: packs) { packID, entries in
            var live: [PackEntry] = []
            var frameBlocks: [Int: Int] = [:]
            for entry in entries.values {
                if entry.isShared { frameBlocks[entry.offset, default: 0] += 1 }
                try isLive.bind(entry.id, at: 1)
                if try isLive.step() {
                    live.append(entry)
                    try isLive.step()
                }
            }
            try body(packID, live, frameBlocks)
        }
    }

    /// The sweep, inside the transaction that recorded the copies: forgets `packs` (their rows and
    /// the rows of blocks still located in them, which are dead once the live ones point at their
    /// copies) and lists their files in `pending_deletions`, for `Vault.finishPendingDeletions` to
    /// delete after the commit. Dead blocks in kept packs keep their rows: a later backup may reuse
    /// them. Also forgets missing blocks nothing needs and block lists no version uses. Inside
    /// `withLiveBlocks` only.
    public func unreferencePacks(_ packs: [(id: Int64, name: String)]) throws {
        let markPending = try database.prepare("INSERT OR IGNORE INTO pending_deletions(name) VALUES(?)")
        let deletePack = try database.prepare("DELETE FROM packs WHERE id = ?")
        for pack in packs {
            try deletePack.run([.integer(pack.id)])
            try markPending.run([.text(pack.name)])
        }
        if !packs.isEmpty {
            try database.execute("DELETE FROM blocks WHERE pack IN (\(packs.map { String($0.id) }.joined(separator: ",")))")
        }
        try database.execute("DELETE FROM missing_blocks WHERE hash NOT IN (SELECT hash FROM temp.live)")
        try database.execute("""
            DELETE FROM blocklists WHERE hash NOT IN (SELECT blocklist FROM versions WHERE blocks > 1 AND blocklist IS NOT NULL)
            """)
    }

    /// The bytes of every data pack the catalog records.
    public func dataPackBytes() throws(StoreError) -> Int64 {
        try database.scalar("SELECT sum(size) FROM packs WHERE kind = \(PackFormat.Kind.data.rawValue)") ?? 0
    }
}
