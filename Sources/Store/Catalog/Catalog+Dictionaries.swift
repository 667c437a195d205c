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
