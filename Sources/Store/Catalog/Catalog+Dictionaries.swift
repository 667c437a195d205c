import Chunker

extension Catalog {
    /// Dictionaries are recorded as text settings `dictionary.<zstd dictionary ID>` whose value is
    /// the hex ID of the metadata record (a block in a metadata pack) that holds the dictionary.
    static let dictionaryKeyPrefix = "dictionary."

    /// Records that zstd dictionary `id` is held by the metadata record `record`, replacing an earlier
    /// record of the same ID. Call in the transaction that records the record's pack, which must be
    /// sealed before: no block compressed with the dictionary may be recorded before it.
    public func recordDictionary(id: UInt32, record: BlockID) throws(StoreError) {
        try setSettingText(Catalog.dictionaryKeyPrefix + String(id), record.hex)
    }

    /// Forgets the record of dictionary `id` (repair, when it is lost for good).
    public func forgetDictionary(id: UInt32) throws(StoreError) {
        try database.prepare("DELETE FROM settings_text WHERE key = ?").run([.text(Catalog.dictionaryKeyPrefix + String(id))])
    }

    /// Every dictionary recorded, by ascending ID, with its record (nil when the setting is malformed).
    public func dictionaryRecords() throws(StoreError) -> [(id: UInt32, record: BlockID?)] {
        let statement = try database.prepare("SELECT key, value FROM settings_text WHERE key LIKE 'dictionary.%'")
        var result: [(UInt32, BlockID?)] = []
        while try statement.step() {
            guard let id = UInt32(statement.text(0).dropFirst(Catalog.dictionaryKeyPrefix.count)) else { continue }
            result.append((id, BlockID(hex: statement.text(1))))
        }
        return result.sorted { $0.0 < $1.0 }
    }
}

extension Catalog {
    /// Where each block compressed with a dictionary is stored: (pack name, offset, stored length).
    func dictionaryBlockLocations() throws(StoreError) -> [(pack: String, offset: Int, storedLength: Int)] {
        let statement = try database.prepare("""
            SELECT p.name, b.offset, b.stored_length FROM blocks b JOIN packs p ON p.id = b.pack
            WHERE b.encoding = \(PackFormat.Encoding.zstdDictionary.rawValue) ORDER BY p.name, b.offset
            """)
        var result: [(String, Int, Int)] = []
        while try statement.step() { result.append((statement.text(0), statement.int(1), statement.int(2))) }
        return result
    }

    /// Forgets dictionary `id` and unreferences its record (`record`, a block of a metadata pack).
    /// A metadata pack left without any record is dropped from the catalog and listed for deletion;
    /// returns its name. Call inside a transaction, with no block using the dictionary left.
    func dropDictionary(id: UInt32, record: BlockID?) throws(StoreError) -> String? {
        try forgetDictionary(id: id)
        guard let record else { return nil }
        let statement = try database.prepare("""
            SELECT b.pack, p.name FROM blocks b JOIN packs p ON p.id = b.pack WHERE b.hash = ? AND p.kind = \(PackFormat.Kind.metadata.rawValue)
            """)
        try statement.bind(record, at: 1)
        guard try statement.step() else { return nil }
        let (pack, name) = (statement.int64(0), statement.text(1))
        try statement.step()
        let forget = try database.prepare("DELETE FROM blocks WHERE hash = ? AND pack = ?")
        try forget.bind(record, at: 1)
        try forget.bind(pack, at: 2)
        try forget.step()
        guard try database.scalar("SELECT count(*) FROM blocks WHERE pack = ?", [.integer(pack)]) == 0 else { return nil }
        try database.prepare("DELETE FROM packs WHERE id = ?").run([.integer(pack)])
        try database.prepare("INSERT OR IGNORE INTO pending_deletions(name) VALUES(?)").run([.text(name)])
        return name
    }
}
