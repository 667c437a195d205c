import Chunker

extension VaultWriter {
    /// Stores a zstd dictionary in the vault, durably, before anything may use it: raises the
    /// vault's format (config.json) so that builds that cannot read dictionaries refuse the vault,
    /// seals the dictionary's metadata record in a pack of its own, then records the pack and the
    /// dictionary in one transaction, and adds it to the vault's loaded dictionaries. Only then may
    /// blocks compressed with it be stored. A crash in between leaves an unrecorded metadata pack
    /// that nothing uses (adopted by the next writer like any other). Throws, recording nothing,
    /// when the record cannot be sealed or the transaction fails.
    func storeDictionary(_ dictionary: ZstdDictionary) throws {
        try Vault.raiseFormat(at: vault.path, to: VaultConfiguration.dictionaryFormat)
        let record = MetadataRecord.encodeDictionary(dictionary)
        let id = SHA256Hasher.hash(record)
        let pack = try sealAlone(.metadata) { packs in
            let encoder = BlockEncoder(level: vault.configuration.compression.level)
            try record.withUnsafeBytes { plain in
                let (stored, encoding) = try encoder.encode(plain, id: id)
                try packs.append(id: id, stored: stored, rawLength: plain.count, encoding: encoding)
            }
        }
        let catalog = vault.catalog
        try catalog.transaction {
            try catalog.insertPack(pack)
            try catalog.recordDictionary(id: dictionary.id, record: id)
        }
        vault.dictionaries.insert(dictionary)
    }
}
