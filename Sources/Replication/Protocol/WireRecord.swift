import Chunker
import Store

/// The records an index batch carries: versions with their block lists, and snapshots. The
/// protocol owns this codec so that a change of the storage format (`MetadataRecord`) never changes
/// what peers exchange; its bytes are protocol 3's (pinned by `WireGoldenTests`), which began as a
/// copy of the metadata pack records as 0.6.0 wrote them (extras and snapshot root, no origins).
///
/// - versions: kind 1; folder count and paths; version count and, per version: folder index,
///   sequence, path, type, size, mode, uid, gid, mtime, ctime, inode, device, nlink, deleted,
///   version vector, content hash (empty or 32 bytes), block count, link target (flag + bytes),
///   modified-by; block list count and, per list: hash, size, ids; then, only when some version
///   has extended attributes or a device number, their count and, per such version (ascending
///   index): its index, device number and extended attributes (bytes, empty for none). Peers that
///   predate the extras stop after the block lists.
/// - snapshot: kind 2; id, folder path, time, host, tags (comma-joined), sequence, files, bytes,
///   partial, a count of record IDs (0 on the wire; a decoder skips any) and, when the snapshot
///   has one, its root as bytes: mode, uid, gid, mtime, extended attributes.
///
/// Decoding checks lengths and counts before use and throws `ReplicationError.protocolViolation`
/// (a truncated field surfaces as the byte reader's error); what the values mean (paths,
/// sequences) `Message` checks afterwards.
enum WireRecord {
    static let versionsKind: UInt8 = 1
    static let snapshotKind: UInt8 = 2
    /// No version has more blocks: a forged count beyond it is refused before it becomes an `Int`.
    static let blockCountLimit = 1 << 48

    typealias Versions = [(folder: [UInt8], version: FileVersion)]

    static func encodeVersions(_ versions: Versions, blockLists: [MetadataRecord.BlockListRecord]) -> [UInt8] {
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
        let extras = versions.indices.filter { versions[$0].version.rdev != 0 || !versions[$0].version.xattrs.isEmpty }
        if !extras.isEmpty {
            writer.appendVarint(UInt64(extras.count))
            for index in extras {
                writer.appendVarint(UInt64(index))
                writer.appendVarint(versions[index].version.rdev)
                writer.appendBytes(versions[index].version.xattrs.encoded ?? [])
            }
        }
        return writer.bytes
    }

    static func decodeVersions(_ bytes: [UInt8]) throws -> (versions: Versions, blockLists: [MetadataRecord.BlockListRecord]) {
        var reader = ByteReader(bytes)
        guard try reader.uint8() == versionsKind else { throw ReplicationError.protocolViolation("not a versions record") }
        let folderCount = try reader.elementCount()
        var folders: [[UInt8]] = []
        for _ in 0..<folderCount { folders.append(try reader.byteString()) }
        let count = try reader.elementCount()
        var versions: Versions = []
        for _ in 0..<count {
            let folder = try reader.count(limit: folders.count)
            guard folder < folders.count else { throw ReplicationError.protocolViolation("versions record names an unknown folder") }
            let sequence = try reader.signed()
            let path = try reader.byteString()
            guard let type = EntryType(rawValue: try reader.count(limit: 255)) else { throw ReplicationError.protocolViolation("unknown entry type") }
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
            version.blockCount = try reader.count(limit: blockCountLimit)
            let hasTarget = try reader.uint8() != 0
            let target = try reader.byteString()
            version.linkTarget = hasTarget ? target : nil
            version.modifiedBy = try reader.varint()
            versions.append((folders[folder], version))
        }
        let listCount = try reader.elementCount(minimumSize: 33)
        var lists: [MetadataRecord.BlockListRecord] = []
        for _ in 0..<listCount {
            let hash = try reader.blockID()
            let size = try reader.signed()
            lists.append(MetadataRecord.BlockListRecord(hash: hash, size: size, ids: try reader.byteString()))
        }
        if !reader.isAtEnd {
            let extras = try reader.varint()
            guard extras <= UInt64(versions.count) else { throw ReplicationError.protocolViolation("versions record has more extras than versions") }
            var next = 0
            for _ in 0..<Int(extras) {
                let index = try reader.varint()
                guard index < UInt64(versions.count), Int(index) >= next else {
                    throw ReplicationError.protocolViolation("versions record has extras for an unknown version")
                }
                next = Int(index) + 1
                versions[Int(index)].version.rdev = try reader.varint()
                let xattrs = try reader.byteString(limit: ExtendedAttributes.maximumEncodedSize)
                if !xattrs.isEmpty { versions[Int(index)].version.xattrs = try ExtendedAttributes(encoded: xattrs) }
            }
        }
        return (versions, lists)
    }

    static func encodeSnapshot(_ snapshot: Snapshot) -> [UInt8] {
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
        writer.appendVarint(0)
        if let root = snapshot.root {
            var rootWriter = ByteWriter()
            rootWriter.appendVarint(UInt64(root.mode))
            rootWriter.appendVarint(UInt64(root.uid))
            rootWriter.appendVarint(UInt64(root.gid))
            rootWriter.appendSigned(root.modificationTime)
            rootWriter.appendBytes(root.xattrs.encoded ?? [])
            writer.appendBytes(rootWriter.bytes)
        }
        return writer.bytes
    }

    static func decodeSnapshot(_ bytes: [UInt8]) throws -> Snapshot {
        var reader = ByteReader(bytes)
        guard try reader.uint8() == snapshotKind else { throw ReplicationError.protocolViolation("not a snapshot record") }
        let id = try reader.string()
        let folder = try reader.byteString()
        let time = try reader.signed()
        let host = try reader.string()
        let tags = try reader.string()
        let sequence = try reader.signed()
        let files = try reader.signed()
        let bytesCount = try reader.signed()
        let partial = try reader.uint8() != 0
        // Record IDs mean something only in the sender's packs: skipped.
        for _ in 0..<(try reader.elementCount(minimumSize: 32)) { _ = try reader.blockID() }
        var snapshot = Snapshot(id: id, folderPath: folder, time: time, host: host,
                                tags: tags.isEmpty ? [] : tags.split(separator: ",").map(String.init),
                                sequence: sequence, files: files, bytes: bytesCount, partial: partial, metadataID: nil)
        // The root came later: a snapshot without it ends here (and older peers stop here).
        if !reader.isAtEnd {
            var root = ByteReader(try reader.byteString(limit: ExtendedAttributes.maximumEncodedSize + 64))
            let mode = UInt32(truncatingIfNeeded: try root.varint()) & 0o7777
            let uid = UInt32(truncatingIfNeeded: try root.varint())
            let gid = UInt32(truncatingIfNeeded: try root.varint())
            let time = try root.signed()
            let attributes = try root.byteString(limit: ExtendedAttributes.maximumEncodedSize)
            guard root.isAtEnd else { throw ReplicationError.protocolViolation("a snapshot root has trailing bytes") }
            snapshot.root = SnapshotRoot(mode: mode, uid: uid, gid: gid, modificationTime: time,
                                         xattrs: attributes.isEmpty ? ExtendedAttributes() : try ExtendedAttributes(encoded: attributes))
        }
        return snapshot
    }
}
