import Chunker
import Synchronization

/// Records into a receive-only vault what its master sends: blocks (verified before anything is
/// stored), then the versions that use them with the master's own sequence numbers, then snapshots
/// with their metadata records. The same write order as a backup: packs sealed and recorded before
/// the versions that need them, snapshots last, so an interrupted transfer leaves a replica whose
/// every listed snapshot restores, and the next transfer resumes after the last recorded version.
public final class ReplicaWriter {
    public let vault: Vault
    private let lock: VaultLock
    private let packs: PackWriter
    private let sealed = SealedPackList()
    private let decoder: BlockDecoder
    /// Blocks stored during this transfer that may sit in a pack not sealed yet.
    private var session = Set<BlockID>()

    /// Opens the replica for writing (it must be receive-only), holding its write lock.
    public init(vault: Vault, lockWaitSeconds: Double = 0) throws {
        guard vault.configuration.receiveOnly else {
            throw StoreError.invalidArgument("\(vault.path) is not a receive-only replica; create one with 'blockvault init --receive-only'")
        }
        self.vault = vault
        decoder = BlockDecoder(dictionaries: vault.dictionaries)
        lock = try vault.lockForWriting(waitSeconds: lockWaitSeconds)
        try vault.recoverInterruptedWrites()
        let sealed = self.sealed
        packs = PackWriter(kind: .data, storage: vault.storage) { pack in sealed.append(pack) }
    }

    /// Checks that this replica follows `masterDevice`, or no one yet: sequence numbers are the
    /// master's, so one replica takes the history of one master.
    public func checkMaster(_ masterDevice: String) throws {
        if let master = try vault.catalog.settingText("master_device"), master != masterDevice {
            throw StoreError.invalidArgument("replica \(vault.path) follows device \(master.prefix(16)), not \(masterDevice.prefix(16))")
        }
    }

    /// The master's sequence up to which this replica has recorded every version.
    public func recordedSequence() throws -> Int64 { try vault.catalog.maximumSequence() }

    public func hasBlock(_ id: BlockID) throws -> Bool {
        try session.contains(id) || vault.catalog.hasBlock(id)
    }

    /// Stores a zstd dictionary the master sent, before any block that needs it: sealed in a
    /// metadata pack and recorded (see `DictionaryWriter`). Nothing is done for one this replica
    /// already holds. Throws when the bytes are not the dictionary `id`, or differ from this
    /// replica's dictionary of that ID.
    public func storeDictionary(id: UInt32, bytes: [UInt8]) throws {
        let dictionary: ZstdDictionary
        do { dictionary = try ZstdDictionary(bytes: bytes) } catch {
            throw StoreError.corrupt("zstd dictionary \(id) from the peer is not a valid dictionary: \(error)")
        }
        guard dictionary.id == id else {
            throw StoreError.corrupt("zstd dictionary \(id) from the peer is dictionary \(dictionary.id)")
        }
        if let held = vault.dictionaries.dictionary(id: id) {
            guard held.bytes == bytes else { throw StoreError.corrupt("zstd dictionary \(id) from the peer differs from this replica's") }
            return
        }
        let (pack, record) = try vault.dictionaryWriter.write(dictionary)
        try vault.catalog.transaction {
            try vault.catalog.insertPack(pack)
            try vault.catalog.recordDictionary(id: id, record: record)
        }
        vault.dictionaries.insert(dictionary)
    }

    /// Verifies a block as the master stored it and adds it to a pack. Throws (storing nothing)
    /// when it is larger than a block may be, does not decompress to exactly `rawLength` bytes, or
    /// does not hash to `id`.
    public func store(id: BlockID, stored: UnsafeRawBufferPointer, rawLength: Int, encoding: PackFormat.Encoding) throws {
        guard rawLength >= 0, rawLength <= PackFormat.maximumBlockSize, stored.count <= PackFormat.maximumBlockSize else {
            throw StoreError.corrupt("block \(id) from the peer declares \(rawLength) bytes, more than a block may have")
        }
        // A peer sends every block alone; a part of a frame could not be located in a pack.
        guard encoding != .zstdShared else { throw StoreError.corrupt("block \(id) from the peer is not encoded alone") }
        do {
            _ = try decoder.decode(stored, encoding: encoding, rawLength: rawLength, id: id)
        } catch .undecodable {
            throw StoreError.corrupt("block \(id) from the peer does not decompress to its declared \(rawLength) bytes")
        } catch .missingDictionary(let dictionary, _) {
            throw StoreError.corrupt("block \(id) from the peer needs zstd dictionary \(dictionary), which the peer did not send")
        } catch {
            throw StoreError.corrupt("block \(id) from the peer does not match its hash")
        }
        guard session.insert(id).inserted, try !vault.catalog.hasBlock(id) else { return }
        try packs.append(id: id, stored: stored, rawLength: rawLength, encoding: encoding)
    }

    /// Records versions (every block they need must have been stored or be present): seals the open
    /// pack, then one transaction records packs, block lists and versions. Versions already recorded
    /// (a resumed transfer) are skipped.
    public func record(versions: [(folder: [UInt8], version: FileVersion)], blockLists: [MetadataRecord.BlockListRecord],
                       masterDevice: String) throws {
        try packs.flush()
        let catalog = vault.catalog
        let newPacks = sealed.take()
        try catalog.transaction {
            for pack in newPacks { try catalog.insertPack(pack) }
            for list in blockLists { try catalog.insertBlockList(hash: list.hash, ids: list.ids, size: list.size) }
            var resolvers: [[UInt8]: NameResolver] = [:]
            for (folderPath, version) in versions where try !catalog.hasVersion(sequence: version.sequence) {
                if resolvers[folderPath] == nil {
                    resolvers[folderPath] = NameResolver(catalog: catalog, folder: try catalog.folderID(path: folderPath, create: true)!)
                }
                let nameID = try resolvers[folderPath]!.nameID(for: version.path, isDirectory: version.type == .directory)
                for id in try catalog.blockIDs(of: version) where try !catalog.hasBlock(id) {
                    throw StoreError.corrupt("version #\(version.sequence) of \(version.displayPath) needs block \(id), which never arrived")
                }
                try catalog.insertVersion(version, nameID: nameID, keepSequence: true)
            }
            try catalog.setSettingText("master_device", masterDevice)
        }
    }

    /// Records the master's snapshots this replica does not have yet, each with its metadata records.
    /// Only snapshots covering recorded versions are taken. Returns how many were added.
    @discardableResult
    public func record(snapshots: [Snapshot]) throws -> Int {
        let known = Set(try vault.catalog.snapshots().map(\.snapshot.id))
        let recorded = try recordedSequence()
        var added = 0
        for snapshot in snapshots.sorted(by: { $0.sequence < $1.sequence }) where !known.contains(snapshot.id) && snapshot.sequence <= recorded {
            let folder = try vault.catalog.transaction { try vault.catalog.folderID(path: snapshot.folderPath, create: true)! }
            _ = try MetadataWriter(vault: vault).writeSnapshot(snapshot, folder: folder)
            added += 1
        }
        return added
    }

    public func close() { withExtendedLifetime(lock) {} }
}
