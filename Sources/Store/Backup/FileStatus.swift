#if canImport(Glibc)
import Glibc
#endif

/// The parts of `lstat` a backup compares and records.
struct FileStatus: Sendable, Equatable {
    var type: EntryType
    var size: Int64
    var mode: UInt32
    var uid: UInt32
    var gid: UInt32
    var modificationTime: Int64
    var changeTime: Int64
    var inode: UInt64
    var device: UInt64
    var linkCount: UInt32
    /// A device node's device number; 0 for everything else.
    var rdev: UInt64

    init(_ status: stat) {
        switch status.st_mode & S_IFMT {
        case S_IFDIR: type = .directory
        case S_IFLNK: type = .symlink
        case S_IFIFO: type = .fifo
        case S_IFSOCK: type = .socket
        case S_IFCHR: type = .characterDevice
        case S_IFBLK: type = .blockDevice
        default: type = .file
        }
        // Only a file's or a link's size means something to restore; a directory's varies by filesystem.
        size = type == .file || type == .symlink ? Int64(status.st_size) : 0
        mode = UInt32(status.st_mode & 0o7777)
        uid = status.st_uid
        gid = status.st_gid
        modificationTime = FileSystem.nanoseconds(status.st_mtim)
        changeTime = FileSystem.nanoseconds(status.st_ctim)
        inode = UInt64(status.st_ino)
        device = UInt64(status.st_dev)
        linkCount = UInt32(truncatingIfNeeded: status.st_nlink)
        rdev = type == .characterDevice || type == .blockDevice ? UInt64(status.st_rdev) : 0
    }

    /// Whether `previous` (the latest recorded version) still describes this entry, so that its
    /// content need not be read again: same type, size, mtime, ctime, inode and mode.
    func matches(_ previous: some RecordedStatus) -> Bool {
        !previous.deleted && previous.type == type && previous.size == size && previous.modificationTime == modificationTime
            && previous.changeTime == changeTime && previous.inode == inode && previous.mode == mode
            && previous.uid == uid && previous.gid == gid
    }

    /// Whether a freshly read version records exactly what `previous` recorded (content and metadata).
    static func same(_ version: FileVersion, _ previous: FileVersion) -> Bool {
        !previous.deleted && !version.differs(from: previous) && version.changeTime == previous.changeTime
            && version.inode == previous.inode && version.blockCount == previous.blockCount
    }

    /// A version of this entry, not yet numbered.
    func version(path: [UInt8], after previous: FileVersion?, device shortDevice: UInt64, nowSeconds: UInt64) -> FileVersion {
        var version = FileVersion(path: path, type: type, size: size, mode: mode, uid: uid,
                    gid: gid, modificationTime: modificationTime, changeTime: changeTime, inode: inode, device: device,
                    linkCount: linkCount, deleted: false,
                    version: (previous?.version ?? VersionVector()).updated(by: shortDevice, nowSeconds: nowSeconds),
                    modifiedBy: shortDevice)
        version.rdev = rdev
        return version
    }
}

/// What `FileStatus.matches` compares an entry with: a recorded version, whole (`FileVersion`) or as
/// the walk reads it from the catalog (`Catalog.RecordedChild`).
protocol RecordedStatus {
    var deleted: Bool { get }
    var type: EntryType { get }
    var size: Int64 { get }
    var modificationTime: Int64 { get }
    var changeTime: Int64 { get }
    var inode: UInt64 { get }
    var mode: UInt32 { get }
    var uid: UInt32 { get }
    var gid: UInt32 { get }
}

extension FileVersion: RecordedStatus {}
extension Catalog.RecordedChild: RecordedStatus {}
