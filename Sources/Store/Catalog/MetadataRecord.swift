import Chunker

/// The records a backup writes into metadata packs, so that the whole catalog (versions, block
/// lists, snapshots) can be rebuilt from the packs alone.
///
/// Encoding (version 1): a kind byte, then `ByteWriter` fields.
/// - versions (kind 1): folder count and paths; version count and, per version: folder index,
///   sequence, path, type, size, mode, uid, gid, mtime, ctime, inode, device, nlink, deleted,
///   version vector, content hash (empty or 32 bytes), block count, link target (flag + bytes), modified-by;
///   then block list count and, per list: hash, size, ids; then, only when some version has
///   extended attributes or a device number, the extras: their count and, per version that has
///   them, its index in the record (ascending), its device number (varint) and its extended
///   attributes (bytes: `ExtendedAttributes`' encoding, empty for none). Decoders that predate the
///   extras stop after the block lists and so still read such a record (without them); a record
///   without extras is what they always wrote. Then, optionally, the origins of versions a vault
///   received from a peer (`encodeOrigins`): device count and their full ids (strings); count and,
///   per version: its (local) sequence, its device's index, its sequence on that device. A record
///   with origins always has the extras section (maybe empty); decoders that predate origins stop
///   after the extras. The writers put origins in a record of their own (no folders, versions or
///   block lists), so that the records a snapshot lists stay those its master wrote.
/// - snapshot (kind 2): id, folder path, time, host, tags, sequence, files, bytes, partial, the
///   IDs of the versions records written with it, and (since 0.6.0, when recorded) the backed-up
///   directory's own status (`encodeRoot`, as bytes); decoders that predate it stop before it.
/// - forget (kind 3): the ids of forgotten snapshots, then forgotten version sequence numbers as
///   sorted (start, count) ranges. A rebuild applies it, so forgotten history stays forgotten.
/// - dictionary (kind 4): a zstd dictionary's ID, then its bytes. Blocks compressed with it (data
///   pack encoding 2) name the ID in their frame header; a rebuild records it again.
public enum MetadataRecord {
    public static let versionsKind: UInt8 = 1
    public static let snapshotKind: UInt8 = 2
    public static let forgetKind: UInt8 = 3
    public static let dictionaryKind: UInt8 = 4
    /// No version has more blocks: a forged count beyond it is refused before it becomes an `Int`.
    static let maximumBlockCount = 1 << 48
    /// Records are cut at about this many bytes of plaintext.
    static let targetSize = 4 << 20

    public struct BlockListRecord: Sendable, Equatable {
        public var hash: BlockID
        public var size: Int64
        public var ids: [UInt8]

        public init(hash: BlockID, size: Int64, ids: [UInt8]) {
            self.hash = hash
            self.size = size
            self.ids = ids
        }
    }

    package static func encodeVersions(_ versions: [(folder: [UInt8], version: FileVersion)], blockLists: [BlockListRecord]) -> [UInt8] {
        var writer = ByteWriter()
        writer.append(versionsKind)
        var folderIndex: [[UInt8]: Int] = [:]
        var folders: [[UInt8]] = []
        for (folder, _) in versions where folderIndex[folder] == nil {
            folderIndex[folder] = folders.count
            folders.append(folder)
        }
        writer.appendVarint(UInt64(folders.count))
        folders.forEach { writer.appendBytes($0) }
        writer.appendVarint(UInt64(versions.count))
        for (folder, version) in versions {
            writer.appendVarint(UInt64(folderIndex[folder]!))
            writer.appendSigned(version.sequence)
            writer.appendBytes(version.path)
            writer.appendVarint(UInt64(version.type.rawValue))
            writer.appendSigned(version.size)
            writer.appendVarint(UInt64(version.mode))
            writer.appendVarint(UInt64(version.uid))
            writer.appendVarint(UInt64(version.gid))
            writer.appendSigned(version.modificationTime)
            writer.appendSigned(version.changeTime)
            writer.appendVarint(version.inode)
            writer.appendVarint(version.device)
            writer.appendVarint(UInt64(version.linkCount))
            writer.append(version.deleted ? 1 : 0)
            writer.appendBytes(version.version.encoded)
            writer.appendBytes(version.blockListHash?.bytes ?? [])
            writer.appendVarint(UInt64(version.blockCount))
            writer.append(version.linkTarget == nil ? 0 : 1)
            writer.appendBytes(version.linkTarget ?? [])
            writer.appendVarint(version.modifiedBy)
        }
        writer.appendVarint(UInt64(blockLists.count))
        for list in blockLists {
            writer.append(list.hash)
            writer.appendSigned(list.size)
            writer.appendBytes(list.ids)
        }
        appendExtras(versions.map(\.version), to: &writer)
        return writer.bytes
    }

    /// Decodes a versions record, with the origins it carries by the sequence of their version;
    /// throws `StoreError.corrupt` on anything malformed.
    public static func decodeVersions(_ bytes: [UInt8]) throws(StoreError)
        -> (versions: [(folder: [UInt8], version: FileVersion)], blockLists: [BlockListRecord], origins: [Int64: VersionOrigin]) {
        var reader = ByteReader(bytes)
        guard try reader.uint8() == versionsKind else { throw .corrupt("not a versions record") }
        let folderCount = try reader.elementCount()
        var folders: [[UInt8]] = []
        for _ in 0..<folderCount { folders.append(try reader.byteString()) }
        let count = try reader.elementCount()
        var versions: [([UInt8], FileVersion)] = []
        for _ in 0..<count {
            let folder = try reader.count(limit: folders.count)
            guard folder < folders.count else { throw .corrupt("versions record names an unknown folder") }
            let sequence = try reader.signed()
            let path = try reader.byteString()
            guard let type = EntryType(rawValue: try reader.count(limit: 255)) else { throw .corrupt("unknown entry type") }
            var version = FileVersion(path: path, type: type)
            version.sequence = sequence
            version.size = try reader.signed()
            version.mode = UInt32(truncatingIfNeeded: try reader.varint())
            version.uid = UInt32(truncatingIfNeeded: try reader.varint())
            version.gid = UInt32(truncatingIfNeeded: try reader.varint())
            version.modificationTime = try reader.signed()
            version.changeTime = try reader.signed()
            version.inode = try reader.varint()
            version.device = try reader.varint()
            version.linkCount = UInt32(truncatingIfNeeded: try reader.varint())
            version.deleted = try reader.uint8() != 0
            version.version = try VersionVector(encoded: try reader.byteString())
            let hash = try reader.byteString()
            version.blockListHash = hash.isEmpty ? nil : BlockID(bytes: hash)
            version.blockCount = try reader.count(limit: maximumBlockCount)
            let hasTarget = try reader.uint8() != 0
            let target = try reader.byteString()
            version.linkTarget = hasTarget ? target : nil
            version.modifiedBy = try reader.varint()
            versions.append((folders[folder], version))
        }
        let listCount = try reader.elementCount(minimumSize: 33)
        var lists: [BlockListRecord] = []
        for _ in 0..<listCount {
            let hash = try reader.blockID()
            let size = try reader.signed()
            lists.append(BlockListRecord(hash: hash, size: size, ids: try reader.byteString()))
        }
        if !reader.isAtEnd { try readExtras(&reader, into: &versions) }
        let origins = reader.isAtEnd ? [:] : try readOrigins(&reader)
        return (versions, lists, origins)
    }

    /// A versions record that holds only the origins of versions received from a peer, each under
    /// its local sequence (see the encoding above).
    package static func encodeOrigins(_ origins: [(sequence: Int64, origin: VersionOrigin)]) -> [UInt8] {
        var writer = ByteWriter()
        writer.append(versionsKind)
        writer.appendVarint(0)   // folders
        writer.appendVarint(0)   // versions
        writer.appendVarint(0)   // block lists
        writer.appendVarint(0)   // extras
        var deviceIndex: [String: Int] = [:]
        var devices: [String] = []
        for (_, origin) in origins where deviceIndex[origin.device] == nil {
            deviceIndex[origin.device] = devices.count
            devices.append(origin.device)
        }
        writer.appendVarint(UInt64(devices.count))
        devices.forEach { writer.appendString($0) }
        writer.appendVarint(UInt64(origins.count))
        for (sequence, origin) in origins {
            writer.appendSigned(sequence)
            writer.appendVarint(UInt64(deviceIndex[origin.device]!))
            writer.appendSigned(origin.sequence)
        }
        return writer.bytes
    }

    private static func readOrigins(_ reader: inout ByteReader) throws(StoreError) -> [Int64: VersionOrigin] {
        var devices: [String] = []
        for _ in 0..<(try reader.elementCount(minimumSize: 1)) { devices.append(try reader.string()) }
        var origins: [Int64: VersionOrigin] = [:]
        for _ in 0..<(try reader.elementCount(minimumSize: 3)) {
            let sequence = try reader.signed()
            let device = try reader.varint()
            guard device < UInt64(devices.count) else { throw .corrupt("versions record names an unknown origin device") }
            origins[sequence] = VersionOrigin(device: devices[Int(device)], sequence: try reader.signed())
        }
        return origins
    }

    /// The extras section of a versions record (see the encoding above); nothing when no version has any.
    private static func appendExtras(_ versions: [FileVersion], to writer: inout ByteWriter) {
        let extras = versions.indices.filter { versions[$0].rdev != 0 || !versions[$0].xattrs.isEmpty }
        guard !extras.isEmpty else { return }
        writer.appendVarint(UInt64(extras.count))
        for index in extras {
            writer.appendVarint(UInt64(index))
            writer.appendVarint(versions[index].rdev)
            writer.appendBytes(versions[index].xattrs.encoded ?? [])
        }
    }

    private static func readExtras(_ reader: inout ByteReader, into versions: inout [([UInt8], FileVersion)]) throws(StoreError) {
        let count = try reader.varint()
        guard count <= UInt64(versions.count) else { throw .corrupt("versions record has more extras than versions") }
        var next = 0
        for _ in 0..<Int(count) {
            let index = try reader.varint()
            guard index < UInt64(versions.count), Int(index) >= next else { throw .corrupt("versions record has extras for an unknown version") }
            next = Int(index) + 1
            versions[Int(index)].1.rdev = try reader.varint()
            let xattrs = try reader.byteString(limit: ExtendedAttributes.maximumEncodedSize)
            if !xattrs.isEmpty { versions[Int(index)].1.xattrs = try ExtendedAttributes(encoded: xattrs) }
        }
    }

    package static func encodeSnapshot(_ snapshot: Snapshot, versionRecords: [BlockID]) -> [UInt8] {
        var writer = ByteWriter()
        writer.append(snapshotKind)
        writer.appendString(snapshot.id)
        writer.appendBytes(snapshot.folderPath)
        writer.appendSigned(snapshot.time)
        writer.appendString(snapshot.host)
        writer.appendString(snapshot.tags.joined(separator: ","))
        writer.appendSigned(snapshot.sequence)
        writer.appendSigned(snapshot.files)
        writer.appendSigned(snapshot.bytes)
        writer.append(snapshot.partial ? 1 : 0)
        writer.appendVarint(UInt64(versionRecords.count))
        versionRecords.forEach { writer.append($0) }
        if let root = snapshot.root { writer.appendBytes(encodeRoot(root)) }
        return writer.bytes
    }

    /// A snapshot root's encoding (the snapshot record's last field, the catalog's `snapshots.root`):
    /// mode, uid, gid (varints), mtime (signed), extended attributes (bytes, empty for none).
    static func encodeRoot(_ root: SnapshotRoot) -> [UInt8] {
        var writer = ByteWriter()
        writer.appendVarint(UInt64(root.mode))
        writer.appendVarint(UInt64(root.uid))
        writer.appendVarint(UInt64(root.gid))
        writer.appendSigned(root.modificationTime)
        writer.appendBytes(root.xattrs.encoded ?? [])
        return writer.bytes
    }

    static func decodeRoot(_ bytes: [UInt8]) throws(StoreError) -> SnapshotRoot {
        var reader = ByteReader(bytes)
        let mode = UInt32(truncatingIfNeeded: try reader.varint()) & 0o7777
        let uid = UInt32(truncatingIfNeeded: try reader.varint())
        let gid = UInt32(truncatingIfNeeded: try reader.varint())
        let time = try reader.signed()
        let attributes = try reader.byteString(limit: ExtendedAttributes.maximumEncodedSize)
        guard reader.isAtEnd else { throw .corrupt("a snapshot root has trailing bytes") }
        return SnapshotRoot(mode: mode, uid: uid, gid: gid, modificationTime: time,
                            xattrs: attributes.isEmpty ? ExtendedAttributes() : try ExtendedAttributes(encoded: attributes))
    }

    static func encodeForget(snapshots: [String], sequences: [Int64]) -> [UInt8] {
        var writer = ByteWriter()
        writer.append(forgetKind)
        writer.appendVarint(UInt64(snapshots.count))
        snapshots.forEach { writer.appendString($0) }
        var ranges: [(Int64, Int64)] = []
        for sequence in sequences.sorted() {
            if let last = ranges.last, last.0 + last.1 == sequence { ranges[ranges.count - 1].1 += 1 } else { ranges.append((sequence, 1)) }
        }
        writer.appendVarint(UInt64(ranges.count))
        for (start, count) in ranges {
            writer.appendSigned(start)
            writer.appendSigned(count)
        }
        return writer.bytes
    }

    public static func decodeForget(_ bytes: [UInt8]) throws(StoreError) -> (snapshots: [String], sequences: [ClosedRange<Int64>]) {
        var reader = ByteReader(bytes)
        guard try reader.uint8() == forgetKind else { throw .corrupt("not a forget record") }
        var snapshots: [String] = []
        for _ in 0..<(try reader.elementCount()) { snapshots.append(try reader.string()) }
        var ranges: [ClosedRange<Int64>] = []
        for _ in 0..<(try reader.elementCount(minimumSize: 2)) {
            let start = try reader.signed()
            let count = try reader.signed()
            guard count >= 1, start >= 0, start <= Int64.max - count else { throw .corrupt("forget record has an invalid range") }
            ranges.append(start...(start + count - 1))
        }
        return (snapshots, ranges)
    }

    public static func decodeSnapshot(_ bytes: [UInt8]) throws(StoreError) -> (Snapshot, [BlockID]) {
        var reader = ByteReader(bytes)
        guard try reader.uint8() == snapshotKind else { throw .corrupt("not a snapshot record") }
        let id = try reader.string()
        let folder = try reader.byteString()
        let time = try reader.signed()
        let host = try reader.string()
        let tags = try reader.string()
        let sequence = try reader.signed()
        let files = try reader.signed()
        let bytesCount = try reader.signed()
        let partial = try reader.uint8() != 0
        let count = try reader.elementCount(minimumSize: 32)
        var records: [BlockID] = []
        for _ in 0..<count { records.append(try reader.blockID()) }
        var snapshot = Snapshot(id: id, folderPath: folder, time: time, host: host,
                                tags: tags.isEmpty ? [] : tags.split(separator: ",").map(String.init),
                                sequence: sequence, files: files, bytes: bytesCount, partial: partial, metadataID: nil)
        // The root came later: a record without it ends here (and older decoders stop here).
        if !reader.isAtEnd { snapshot.root = try decodeRoot(try reader.byteString(limit: ExtendedAttributes.maximumEncodedSize + 64)) }
        return (snapshot, records)
    }

    static func encodeDictionary(_ dictionary: ZstdDictionary) -> [UInt8] {
        var writer = ByteWriter()
        writer.append(dictionaryKind)
        writer.appendVarint(UInt64(dictionary.id))
        writer.appendBytes(dictionary.bytes)
        return writer.bytes
    }

    /// Decodes a dictionary record and prepares the dictionary; throws `StoreError.corrupt` when the
    /// record is malformed or its bytes are not the dictionary its ID says.
    public static func decodeDictionary(_ bytes: [UInt8]) throws(StoreError) -> ZstdDictionary {
        var reader = ByteReader(bytes)
        guard try reader.uint8() == dictionaryKind else { throw .corrupt("not a dictionary record") }
        let id = try reader.varint()
        let dictionary = try ZstdDictionary(bytes: try reader.byteString(limit: ZstdDictionary.maximumSize))
        guard reader.isAtEnd, UInt64(dictionary.id) == id else {
            throw .corrupt("dictionary record \(id) does not hold zstd dictionary \(id)")
        }
        return dictionary
    }
}
