import Chunker

extension Vault {
    /// Loads every dictionary the catalog records from its metadata record. One that cannot be
    /// loaded (its record or pack is gone or damaged) is noted in the set with the reason, so that
    /// the blocks needing it fail with that reason; opening the vault does not fail for it.
    static func loadDictionaries(catalog: Catalog, storage: LocalPackStorage) throws(StoreError) -> DictionarySet {
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

    /// What stores dictionaries into this vault.
    var dictionaryWriter: DictionaryWriter {
        DictionaryWriter(vaultPath: path, storage: storage, level: configuration.compression.level)
    }
}

/// Stores a zstd dictionary in a vault, durably, before anything may use it: raises the vault's
/// format (config.json) so that builds that cannot read dictionaries refuse the vault, then seals
/// the dictionary's metadata record in a pack of its own. The caller records the pack and the
/// dictionary (`Catalog.insertPack`, `Catalog.recordDictionary`) in one transaction, and only then
/// lets blocks compressed with it be recorded. A crash in between leaves an unrecorded metadata
/// pack that nothing uses (adopted by the next writer like any other).
struct DictionaryWriter: Sendable {
    let vaultPath: String
    let storage: LocalPackStorage
    let level: Int32

    /// Returns the sealed pack and the ID of the record in it.
    func write(_ dictionary: ZstdDictionary) throws(StoreError) -> (pack: SealedPack, record: BlockID) {
        try Vault.raiseFormat(at: vaultPath, to: VaultConfiguration.dictionaryFormat)
        let sealed = SealedPackList()
        let packs = PackWriter(kind: .metadata, storage: storage) { pack in sealed.append(pack) }
        let record = MetadataRecord.encodeDictionary(dictionary)
        let encoder = BlockEncoder(level: level)
        let id = SHA256Hasher.hash(record)
        let failure: StoreError? = record.withUnsafeBytes { plain in
            do throws(StoreError) {
                let (stored, encoding) = try encoder.encode(plain, id: id)
                try packs.append(id: id, stored: stored, rawLength: plain.count, encoding: encoding)
            } catch { return error }
            return nil
        }
        if let failure { throw failure }
        try packs.flush()
        guard let pack = sealed.take().first else { throw .catalog("the pack of dictionary \(dictionary.id) was not sealed") }
        return (pack, id)
    }
}
