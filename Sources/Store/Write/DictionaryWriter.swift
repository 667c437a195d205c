import Chunker

/// Stores a zstd dictionary in a vault, durably, before anything may use it: raises the vault's
/// format (config.json) so that builds that cannot read dictionaries refuse the vault, then seals
/// the dictionary's metadata record in a pack of its own. The caller records the pack and the
/// dictionary (`Catalog.insertPack`, `Catalog.recordDictionary`) in one transaction, and only then
/// lets blocks compressed with it be recorded. A crash in between leaves an unrecorded metadata
/// pack that nothing uses (adopted by the next writer like any other).
struct DictionaryWriter: Sendable {
    let vaultPath: String
    let storage: any BlobStorage
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
