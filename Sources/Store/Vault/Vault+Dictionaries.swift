import Chunker

extension Vault {
    /// Loads every dictionary the catalog records from its metadata record. One that cannot be
    /// loaded (its record or pack is gone or damaged) is noted in the set with the reason, so that
    /// the blocks needing it fail with that reason; opening the vault does not fail for it.
    static func loadDictionaries(catalog: Catalog, storage: any BlobStorage) throws(StoreError) -> DictionarySet {
        let set = DictionarySet()
        let records = try catalog.dictionaryRecords()
        guard !records.isEmpty else { return set }
        // Dictionary records are metadata, never compressed with a dictionary themselves.
        let reader = PackReader(storage: storage, dictionaries: DictionarySet())
        for (id, record) in records {
            guard let record else {
                set.recordFailure(id: id, "its catalog record is malformed")
                continue
            }
            guard let location = try catalog.location(of: record) else {
                set.recordFailure(id: id, "its metadata record \(record) is in no pack the catalog knows (run 'blockvault repair')")
                continue
            }
            do {
                let dictionary = try MetadataRecord.decodeDictionary(Array(try reader.read(location)))
                guard dictionary.id == id else { throw StoreError.corrupt("record \(record) holds dictionary \(dictionary.id), not \(id)") }
                set.insert(dictionary)
            } catch {
                set.recordFailure(id: id, "\(error)")
            }
        }
        return set
    }
}
