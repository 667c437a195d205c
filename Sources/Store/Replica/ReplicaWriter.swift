import Chunker
import Synchronization

/// Records into a receive-only vault what its master sends: blocks (verified before anything is
/// stored), then the versions that use them (numbered by this vault, with the master's device and
/// sequence as their origin: see `Catalog.insertReceivedVersion`), then snapshots with their
/// metadata records. The same write order as a backup: packs sealed and recorded before
/// the versions that need them, snapshots last, so an interrupted transfer leaves a replica whose
/// every listed snapshot restores, and the next transfer resumes after the last recorded version.
public final class ReplicaWriter {
    public let vault: Vault
    private let lock: VaultLock
    /// Every pack, record and dictionary of the transfer goes through it.
    private let writer: VaultWriter
    private let packs: PackWriter
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
        writer = VaultWriter(vault: vault)
        packs = writer.packs(.data)
    }

    /// Checks that this replica follows `masterDevice`, or no one yet: one replica takes the
    /// history of one master. A replica that holds versions but names no master (its catalog was
    /// rebuilt from records that predate origins, and its old catalog was lost) takes them as this
    /// master's, numbered as it numbered them, as it did before origins were kept.
    public func checkMaster(_ masterDevice: String) throws {
        let catalog = vault.catalog
        if let master = try catalog.settingText("master_device") {
            guard master == masterDevice else {
                throw StoreError.invalidArgument("replica \(vault.path) follows device \(master.prefix(16)), not \(masterDevice.prefix(16))")
            }
        } else if try catalog.hasVersionsWithoutOrigin() {
            try catalog.transaction {
                try catalog.assignOrigin(toVersionsWithoutOne: masterDevice)
                try catalog.setSettingText("master_device", masterDevice)
            }
        }
    }

    /// The sequence of `device` up to which this replica has recorded every version it sent, in
    /// that device's numbering (the highest seen from it, not this vault's own highest).
    public func recordedSequence(from device: String) throws -> Int64 { try vault.catalog.seenSequence(from: device) }

    /// `recordedSequence(from:)` of the master this replica follows; 0 when it follows none yet.
    public func recordedSequence() throws -> Int64 {
        guard let master = try vault.catalog.settingText("master_device") else { return 0 }
        return try recordedSequence(from: master)
    }

    public func hasBlock(_ id: BlockID) throws -> Bool {
        try session.contains(id) || vault.catalog.hasBlock(id)
    }

    /// Whether this replica holds zstd dictionary `id`.
    public func holdsDictionary(_ id: UInt32) -> Bool { vault.dictionaries.dictionary(id: id) != nil }

    /// Stores a zstd dictionary the master sent for a block that needs it, before that block:
    /// sealed in a metadata pack and recorded (see `VaultWriter.storeDictionary`). A replica takes a dictionary
    /// only for a block it asked for, and only once that block (`neededBy`, as the peer stored it)
    /// decodes with it to its hash, so a peer cannot fill it with dictionaries nothing uses. Nothing
    /// is done for one this replica already holds. Throws, storing nothing, when the bytes are not
    /// the dictionary `id`, differ from this replica's dictionary of that ID, or do not decode the block.
    public func storeDictionary(id: UInt32, bytes: [UInt8], neededBy block: BlockID, stored: [UInt8], rawLength: Int) throws {
        let dictionary: ZstdDictionary
        do { dictionary = try ZstdDictionary(bytes: bytes) } catch {
            throw StoreError.corrupt("zstd dictionary \(id) from the peer is not a valid dictionary: \(error)")
        }
        guard dictionary.id == id else {
            throw StoreError.corrupt("zstd dictionary \(id) from the peer is dictionary \(dictionary.id)")
        }
        guard rawLength >= 0, rawLength <= PackFormat.maximumBlockSize else {
            throw StoreError.corrupt("block \(block) from the peer declares \(rawLength) bytes, more than a block may have")
        }
        let alone = DictionarySet()
        alone.insert(dictionary)
        do {
            let decoder = BlockDecoder(dictionaries: alone)
            try stored.withUnsafeBytes { _ = try decoder.decode($0, encoding: .zstdDictionary, rawLength: rawLength, id: block) }
        } catch {
            throw StoreError.corrupt("block \(block) from the peer does not decode with zstd dictionary \(id), which the peer sent for it")
        }
        if let held = vault.dictionaries.dictionary(id: id) {
            guard held.bytes == bytes else { throw StoreError.corrupt("zstd dictionary \(id) from the peer differs from this replica's") }
            return
        }
        try writer.storeDictionary(dictionary)
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
    /// pack, then one transaction records packs, block lists and versions, each under this vault's
    /// next sequence with (`masterDevice`, its sequence there) as its origin, and the highest
    /// sequence seen from the master. Versions whose origin is recorded already (a resumed
    /// transfer) are skipped.
    public func record(versions: [(folder: [UInt8], version: FileVersion)], blockLists: [MetadataRecord.BlockListRecord],
                       masterDevice: String) throws {
        try writer.commit { catalog in
            for list in blockLists { try catalog.insertBlockList(hash: list.hash, ids: list.ids, size: list.size) }
            var resolvers: [[UInt8]: NameResolver] = [:]
            for (folderPath, received) in versions {
                var version = received
                version.origin = VersionOrigin(device: masterDevice, sequence: received.sequence)
                guard try !catalog.hasVersion(origin: version.origin!) else { continue }
                if resolvers[folderPath] == nil {
                    resolvers[folderPath] = NameResolver(catalog: catalog, folder: try catalog.folderID(path: folderPath, create: true)!)
                }
                let nameID = try resolvers[folderPath]!.nameID(for: version.path, isDirectory: version.type == .directory)
                for id in try catalog.blockIDs(of: version) where try !catalog.hasBlock(id) {
                    throw StoreError.corrupt("version #\(version.sequence) of \(version.displayPath) needs block \(id), which never arrived")
                }
                try catalog.insertReceivedVersion(version, nameID: nameID)
            }
            try catalog.setSettingText("master_device", masterDevice)
        }
    }

    /// What `record(snapshots:)` did: how many snapshots were added, and which were refused and why.
    public struct SnapshotRecording: Sendable {
        public var added = 0
        public var skipped: [(id: String, reason: String)] = []
    }

    /// Records the master's snapshots this replica does not have yet, each with its metadata records.
    /// A snapshot is recorded only with every version it names, so the replica never lists one
    /// whose files it does not hold; refused (and reported in `skipped`) are one this replica has
    /// forgotten, one beyond the versions recorded, and one whose file count or byte count, computed
    /// from this replica's catalog as of its sequence, differs from what the snapshot records.
    /// A snapshot names a point of the master's numbering: it is recorded at the local sequence
    /// that stands for it (`Catalog.localSequence(of:from:)`, the same number for a replica
    /// numbered as its master).
    @discardableResult
    public func record(snapshots: [Snapshot]) throws -> SnapshotRecording {
        let catalog = vault.catalog
        let known = Set(try catalog.snapshots().map(\.snapshot.id))
        let forgotten = try catalog.forgottenSnapshotIDs()
        let master = try catalog.settingText("master_device")
        let recorded = try recordedSequence()
        var result = SnapshotRecording()
        var running: [Int64: (sequence: Int64, files: Int64, bytes: Int64)] = [:]
        for snapshot in snapshots.sorted(by: { $0.sequence < $1.sequence }) where !known.contains(snapshot.id) {
            if forgotten.contains(snapshot.id) {
                result.skipped.append((snapshot.id, "forgotten on this replica"))
                continue
            }
            guard snapshot.sequence <= recorded else {
                result.skipped.append((snapshot.id, "it is at sequence \(snapshot.sequence), beyond the \(recorded) recorded"))
                continue
            }
            var local = snapshot
            if let master { local.sequence = try catalog.localSequence(of: snapshot.sequence, from: master) }
            var totals: (files: Int64, bytes: Int64) = (0, 0)
            if let folder = try catalog.folderID(path: snapshot.folderPath, create: false) {
                // Snapshots go in sequence order: each folder's totals follow on from its last one.
                if let last = running[folder] {
                    let change = try catalog.fileTotalsChange(folder: folder, after: last.sequence, through: local.sequence)
                    totals = (last.files + change.files, last.bytes + change.bytes)
                } else {
                    totals = try catalog.fileTotals(folder: folder, asOf: local.sequence)
                }
                running[folder] = (local.sequence, totals.files, totals.bytes)
            }
            guard totals.files == snapshot.files && totals.bytes == snapshot.bytes || snapshot.partial && totals.files >= snapshot.files else {
                result.skipped.append((snapshot.id, "it records \(snapshot.files) files of \(snapshot.bytes) bytes, this replica holds \(totals.files) of \(totals.bytes) as of its sequence"))
                continue
            }
            let folder = try catalog.transaction { try catalog.folderID(path: snapshot.folderPath, create: true)! }
            _ = try MetadataWriter(writer: writer).writeSnapshot(local, folder: folder)
            result.added += 1
        }
        return result
    }

    public func close() { withExtendedLifetime(lock) {} }
}
