import Chunker

/// What kind of filesystem entry a version records.
public enum EntryType: Int, Sendable, CaseIterable {
    case file = 0
    case directory = 1
    case symlink = 2
    case fifo = 3
    case socket = 4
    case characterDevice = 5
    case blockDevice = 6

    public var name: String {
        switch self {
        case .file: "file"
        case .directory: "dir"
        case .symlink: "symlink"
        case .fifo: "fifo"
        case .socket: "socket"
        case .characterDevice: "chardev"
        case .blockDevice: "blockdev"
        }
    }
}

/// One recorded version of one path: a row of the catalog and a record of the metadata packs.
///
/// Equality and hashing compare what was recorded (the entry's state, its sequence, version vector
/// and author), not where this copy of it came from (`origin`): a version a replica received is
/// equal to its master's.
public struct FileVersion: Sendable, Hashable {
    /// The vault-wide local sequence number (assigned when recorded); a version received from a
    /// peer keeps the peer's in `origin`.
    public var sequence: Int64 = 0
    /// The path relative to the folder's root, `/`-separated bytes.
    public var path: [UInt8]
    public var type: EntryType
    public var size: Int64
    /// Permission bits (and setuid/setgid/sticky), without the file-type bits.
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var modificationTime: Int64
    public var changeTime: Int64
    public var inode: UInt64
    public var device: UInt64
    public var linkCount: UInt32
    public var deleted: Bool
    public var version: VersionVector
    /// The file's content identity (files only): for a file of exactly one block, that block's ID;
    /// for more, the SHA-256 of the concatenated block IDs, whose list the catalog stores once.
    public var blockListHash: BlockID?
    /// How many blocks the file has (0 for empty files and non-files).
    public var blockCount: Int = 0
    /// The target of a symlink, as bytes.
    public var linkTarget: [UInt8]?
    /// Short id of the device that recorded this version.
    public var modifiedBy: UInt64
    /// The entry's extended attributes (POSIX ACLs among them); empty when it has none.
    public var xattrs = ExtendedAttributes()
    /// A character or block device's device number (`st_rdev`); 0 for other entries.
    public var rdev: UInt64 = 0
    /// The device and sequence a version received from a peer had there; nil for one made here.
    public var origin: VersionOrigin?

    public init(path: [UInt8], type: EntryType, size: Int64 = 0, mode: UInt32 = 0, uid: UInt32 = 0, gid: UInt32 = 0,
                modificationTime: Int64 = 0, changeTime: Int64 = 0, inode: UInt64 = 0, device: UInt64 = 0,
                linkCount: UInt32 = 1, deleted: Bool = false, version: VersionVector = VersionVector(),
                blockListHash: BlockID? = nil, linkTarget: [UInt8]? = nil, modifiedBy: UInt64 = 0) {
        self.path = path
        self.type = type
        self.size = size
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.modificationTime = modificationTime
        self.changeTime = changeTime
        self.inode = inode
        self.device = device
        self.linkCount = linkCount
        self.deleted = deleted
        self.version = version
        self.blockListHash = blockListHash
        self.linkTarget = linkTarget
        self.modifiedBy = modifiedBy
    }

    public var displayPath: String { String(decoding: path, as: UTF8.self) }

    public static func == (left: FileVersion, right: FileVersion) -> Bool {
        left.sequence == right.sequence && left.path == right.path && left.type == right.type && left.size == right.size
            && left.mode == right.mode && left.uid == right.uid && left.gid == right.gid
            && left.modificationTime == right.modificationTime && left.changeTime == right.changeTime
            && left.inode == right.inode && left.device == right.device && left.linkCount == right.linkCount
            && left.deleted == right.deleted && left.version == right.version && left.blockListHash == right.blockListHash
            && left.blockCount == right.blockCount && left.linkTarget == right.linkTarget && left.modifiedBy == right.modifiedBy
            && left.xattrs == right.xattrs && left.rdev == right.rdev
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(sequence)
        hasher.combine(path)
        hasher.combine(version)
        hasher.combine(blockListHash)
        hasher.combine(modificationTime)
    }

    /// Whether the content and metadata a restore would produce differ (ignores inode/ctime/version).
    public func differs(from other: FileVersion) -> Bool {
        type != other.type || size != other.size || mode != other.mode || uid != other.uid || gid != other.gid
            || modificationTime != other.modificationTime || blockListHash != other.blockListHash
            || linkTarget != other.linkTarget || deleted != other.deleted || xattrs != other.xattrs || rdev != other.rdev
    }
}

/// A recorded point of a folder's history.
public struct Snapshot: Sendable, Hashable {
    /// 16 lower-case hex digits.
    public var id: String
    /// The absolute path of the backed-up directory, as bytes.
    public var folderPath: [UInt8]
    public var time: Int64
    public var host: String
    public var tags: [String]
    /// The snapshot covers every version of its folder with a sequence number up to this.
    public var sequence: Int64
    public var files: Int64
    public var bytes: Int64
    public var partial: Bool
    /// The ID of the snapshot's metadata record in a metadata pack.
    public var metadataID: BlockID?
    /// The backed-up directory's own status when the backup recorded it (nil for older snapshots).
    public var root: SnapshotRoot? = nil

    /// The memberwise initialiser, visible to the package (the wire codec builds snapshots too).
    package init(id: String, folderPath: [UInt8], time: Int64, host: String, tags: [String], sequence: Int64, files: Int64,
                 bytes: Int64, partial: Bool, metadataID: BlockID?, root: SnapshotRoot? = nil) {
        self.id = id
        self.folderPath = folderPath
        self.time = time
        self.host = host
        self.tags = tags
        self.sequence = sequence
        self.files = files
        self.bytes = bytes
        self.partial = partial
        self.metadataID = metadataID
        self.root = root
    }

    public var folderDisplay: String { String(decoding: folderPath, as: UTF8.self) }
}

/// The backed-up directory's own mode, owner, modification time and extended attributes, which a
/// restore of the whole snapshot into a new or empty directory gives that directory.
public struct SnapshotRoot: Sendable, Hashable {
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var modificationTime: Int64
    public var xattrs: ExtendedAttributes

    public init(mode: UInt32, uid: UInt32, gid: UInt32, modificationTime: Int64, xattrs: ExtendedAttributes) {
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.modificationTime = modificationTime
        self.xattrs = xattrs
    }
}
