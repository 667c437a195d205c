import Chunker
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What to restore and how.
public struct RestoreOptions: Sendable {
    /// Paths (relative to the snapshot's root) to restore with everything under them; empty: all.
    public var includes: [[UInt8]] = []
    /// Replace files that already exist in the target.
    public var overwrite = false
    /// Threads that read and verify blocks (one more writes the files); 0: one per core.
    public var workers = 0
    /// Count the files and bytes to restore before restoring, so that `Restorer.progress` has
    /// totals (one more pass over the snapshot's entries in the catalog).
    public var countFirst = false

    public init() {}
}

public struct RestoreSummary: Sendable {
    public var files = 0
    public var directories = 0
    public var symlinks = 0
    public var bytes: Int64 = 0
    public var seconds: Double = 0
    /// Entries that could not be restored as recorded (device nodes without privilege, extended
    /// attributes the target refused, …), one line each naming the entry: the restore is partial.
    public var warnings: [String] = []
}

/// Writes a snapshot's entries into a target directory the Syncthing way: each file goes to a
/// temporary `.blockvault.<name>.tmp` beside its final name, every block verified against its hash
/// as it is read, then renamed into place; aligned runs of zeros become holes. This thread walks the
/// snapshot, makes directories, symlinks, FIFOs, sockets and device nodes, and plans the files; a
/// `RestorePipeline` decodes them on one thread per core and writes them on one more. Hard links
/// are made once every file is in place, and directory modes and times last, deepest first, so
/// writing into them does not disturb them. Every entry gets its owner, then its extended attributes other than ACLs, its
/// mode, its ACLs (after the mode, which would replace their mask) and its times, in that order.
/// What cannot be restored as recorded is named in the summary's warnings. Not thread-safe.
public final class Restorer {
    private let vault: Vault
    private let options: RestoreOptions
    /// Files written (hard links included) and their bytes, while `run` runs: phases "counting"
    /// (with `countFirst`), "restoring" (with totals after counting), "finishing" (directories' metadata).
    public let progress: OperationProgress

    public init(vault: Vault, options: RestoreOptions = RestoreOptions(), progress: OperationProgress = OperationProgress()) {
        self.vault = vault
        self.options = options
        self.progress = progress
    }

    /// Relative paths of directories in the target known to be real directories (not symlinks)
    /// during this restore; `[]` is the target itself. The value says whether this restore created
    /// it (then nothing but what this restore puts there can be in it).
    private var verified: [[UInt8]: Bool] = [:]
    private var target: [UInt8] = []
    private var overwrite = false
    private var summary = RestoreSummary()
    private var warnings = RestoreWarnings()
    private var directories: [FileVersion] = []
    /// The target directory's own status to give it last (a whole snapshot restored into a new directory).
    private var targetRoot: FileVersion?
    private var firstLinks: [HardLinkKey: [UInt8]] = [:]
    /// Hard links to make once their first file is in place: (where, relative to the target; to what).
    private var hardLinks: [(path: [UInt8], first: [UInt8])] = []

    private struct HardLinkKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    /// Restores `snapshot` (of the folder with row id `folder`) into `target`, created if missing;
    /// may be called again for another snapshot or target. Throws when the snapshot cannot be read
    /// or an entry cannot be written (what was restored so far stays); entries restored only in part
    /// are named in the summary's warnings.
    public func run(snapshot: Snapshot, folder: Int64, target: String) throws -> RestoreSummary {
        let started = FileSystem.monotonicSeconds()
        let lock = try vault.lockForReading()
        defer { withExtendedLifetime(lock) {} }
        self.target = Array(target.utf8)
        overwrite = options.overwrite
        summary = RestoreSummary()
        warnings = RestoreWarnings()
        directories = []
        firstLinks = [:]
        hardLinks = []
        let isNew = FileSystem.lstat(self.target) == nil || (try? FileSystem.listDirectory(self.target))?.isEmpty == true
        try FileSystem.makeDirectories(target)
        verified = [[]: isNew]
        // A whole snapshot restored into a new or empty directory gives it the backed-up directory's
        // own status, last (a directory the user already had keeps its own).
        if isNew, options.includes.isEmpty, let root = snapshot.root {
            var entry = FileVersion(path: [], type: .directory)
            (entry.mode, entry.uid, entry.gid, entry.modificationTime, entry.xattrs) = (root.mode, root.uid, root.gid, root.modificationTime, root.xattrs)
            targetRoot = entry
        } else {
            targetRoot = nil
        }
        // Directories get their recorded mode and times even when the restore stops half-way.
        var directoriesDone = false
        defer { if !directoriesDone { finishDirectories() } }
        if options.countFirst {
            progress.enter("counting")
            let (files, bytes) = try count(snapshot: snapshot, folder: folder)
            progress.enter("restoring", items: files, bytes: bytes)
        } else {
            progress.enter("restoring", items: nil)
        }
        let workers = options.workers > 0 ? options.workers : max(1, ProcessInfo.processInfo.activeProcessorCount)
        var matched = Set<[UInt8]>()
        // Entries named like temporary files are restored after all others, when no temporary file
        // of another entry can be in their way (or they in its).
        var late: [FileVersion] = []
        try run(RestorePipeline(storage: vault.storage, dictionaries: vault.dictionaries, decoders: workers, warnings: warnings, progress: progress)) { pipeline in
            try vault.catalog.forEachEntry(folder: folder, asOf: snapshot.sequence) { entry in
                guard let include = selected(entry.path, options.includes) else { return }
                matched.insert(include)
                if Restorer.looksTemporary(entry.path) {
                    late.append(entry)
                } else {
                    try restore(entry, through: pipeline)
                }
            }
        }
        if !late.isEmpty {
            try run(RestorePipeline(storage: vault.storage, dictionaries: vault.dictionaries, decoders: 1, warnings: warnings, progress: progress)) { pipeline in
                for entry in late { try restore(entry, through: pipeline) }
            }
        }
        for link in hardLinks {
            try replace(link.path) { temporary in
                FileSystem.withCString(link.first) { from in FileSystem.withCString(temporary) { Glibc.link(from, $0) == 0 ? 0 : errno } }
            }
            progress.add(items: 1)
        }
        progress.enter("finishing")
        for include in options.includes where !matched.contains(include) {
            throw StoreError.invalidArgument("\(FileSystem.display(include)) is not in snapshot \(snapshot.id)")
        }
        finishDirectories()
        directoriesDone = true
        summary.warnings = warnings.all
        summary.seconds = FileSystem.monotonicSeconds() - started
        return summary
    }

    /// The files `run` restores (hard links included) and the bytes it writes (each hard-linked
    /// file's once), as `run` selects them.
    private func count(snapshot: Snapshot, folder: Int64) throws -> (files: Int64, bytes: Int64) {
        var files: Int64 = 0
        var bytes: Int64 = 0
        var linked = Set<HardLinkKey>()
        func add(size: Int64, links: UInt32, key: HardLinkKey) {
            files += 1
            if links > 1, !linked.insert(key).inserted { return }
            bytes += size
        }
        if options.includes.isEmpty {
            // Sizes alone, without the paths: a fraction of the cost of listing the entries.
            try vault.catalog.forEachFileSize(folder: folder, asOf: snapshot.sequence) { size, links, device, inode in
                add(size: size, links: links, key: HardLinkKey(device: device, inode: inode))
            }
        } else {
            try vault.catalog.forEachEntry(folder: folder, asOf: snapshot.sequence) { entry in
                guard entry.type == .file, selected(entry.path, options.includes) != nil else { return }
                add(size: entry.size, links: entry.linkCount, key: HardLinkKey(device: entry.device, inode: entry.inode))
            }
        }
        return (files, bytes)
    }

    /// Gives the directories their recorded metadata, deepest first.
    private func finishDirectories() {
        for directory in directories.reversed() {
            applyMetadata(directory, to: target + [UInt8(ascii: "/")] + directory.path)
        }
        directories = []
        if let root = targetRoot { applyMetadata(root, to: target) }
        targetRoot = nil
    }

    /// Plans with `body`, then waits for the pipeline's workers; throws the first failure of either.
    /// Damaged blocks met on the way are marked for the next backup to store again.
    private func run(_ pipeline: RestorePipeline, _ body: (RestorePipeline) throws -> Void) throws {
        do { try body(pipeline) } catch { pipeline.fail(error) }
        do { try pipeline.finish() } catch {
            guard vault.markDamaged(pipeline.damage.copies), case StoreError.corrupt(let message) = error else { throw error }
            throw StoreError.corrupt(message + " (marked missing: the next backup of a file that holds it stores it again)")
        }
    }

    /// Whether the last component of `path` has the form of a temporary name (`.blockvault.*.tmp`).
    private static func looksTemporary(_ path: [UInt8]) -> Bool {
        let name = path[(path.lastIndex(of: UInt8(ascii: "/")).map { $0 + 1 } ?? 0)...]
        return name.count >= temporaryPrefix.count + temporarySuffix.count
            && name.starts(with: temporaryPrefix) && name.suffix(temporarySuffix.count).elementsEqual(temporarySuffix)
    }

    private static let temporaryPrefix = Array(".blockvault.".utf8)
    private static let temporarySuffix = Array(".tmp".utf8)

    /// Restores one entry: files through the pipeline, everything else here and now.
    private func restore(_ entry: FileVersion, through pipeline: RestorePipeline) throws {
        let destination = target + [UInt8(ascii: "/")] + entry.path
        try makeParents(of: entry.path)
        switch entry.type {
        case .directory:
            try ensureDirectory(entry.path)
            directories.append(entry)
            summary.directories += 1
        case .file:
            let key = HardLinkKey(device: entry.device, inode: entry.inode)
            if entry.linkCount > 1, let first = firstLinks[key] {
                hardLinks.append((entry.path, first))
            } else {
                try checkAbsent(entry.path)
                try pipeline.add(entry, destination: destination, locations: try locations(of: entry, display: FileSystem.display(destination)))
                if entry.linkCount > 1 { firstLinks[key] = destination }
                summary.bytes += entry.size
            }
            summary.files += 1
        case .symlink:
            try replace(entry.path) { temporary in
                FileSystem.withCString(entry.linkTarget ?? []) { to in FileSystem.withCString(temporary) { symlink(to, $0) == 0 ? 0 : errno } }
            }
            // A symlink has no mode of its own to set.
            applyMetadata(entry, to: destination)
            summary.symlinks += 1
        case .fifo, .socket, .characterDevice, .blockDevice:
            try makeNode(entry, at: destination)
        }
    }

    /// Makes a FIFO, socket or device node with `mknod` and gives it its metadata. Making a device
    /// node needs privilege: without it the node is left out and named in the warnings.
    private func makeNode(_ entry: FileVersion, at destination: [UInt8]) throws {
        let kind: mode_t = switch entry.type {
        case .fifo: S_IFIFO
        case .socket: S_IFSOCK
        case .characterDevice: S_IFCHR
        default: S_IFBLK
        }
        let device = entry.type == .characterDevice || entry.type == .blockDevice ? dev_t(entry.rdev) : 0
        if (kind == S_IFCHR || kind == S_IFBLK) && device == 0 {
            // Backups before device numbers were recorded left 0; a node 0:0 would be a wrong one.
            warnings.add("\(FileSystem.display(destination)): \(entry.type.name) not restored: its device number was not recorded (backed up by an older blockvault)")
            return
        }
        do {
            try replace(entry.path) { temporary in
                FileSystem.withCString(temporary) { mknod($0, kind | mode_t(entry.mode & 0o7777), device) == 0 ? 0 : errno }
            }
        } catch let error as StoreError {
            guard case .io(_, _, let code) = error, code == EPERM, kind == S_IFCHR || kind == S_IFBLK else { throw error }
            warnings.add("\(FileSystem.display(destination)): \(entry.type.name) \(Restorer.deviceNumbers(entry.rdev)) not restored: making device nodes needs root (\(String(cString: strerror(code))))")
            return
        }
        applyMetadata(entry, to: destination)
    }

    /// `major:minor` of a device number, as glibc packs them.
    static func deviceNumbers(_ rdev: UInt64) -> String {
        let major = ((rdev >> 32) & 0xFFFF_F000) | ((rdev >> 8) & 0xFFF)
        let minor = ((rdev >> 12) & 0xFFFF_FF00) | (rdev & 0xFF)
        return "\(major):\(minor)"
    }

    /// Where the file's blocks are, checked to add up to its size.
    private func locations(of entry: FileVersion, display: String) throws -> [BlockLocation] {
        var total: Int64 = 0
        let locations = try vault.catalog.blockIDs(of: entry).map { id in
            guard let location = try vault.catalog.location(of: id) else {
                throw StoreError.corrupt("\(display): block \(id) is missing from the vault")
            }
            total += Int64(location.entry.rawLength)
            return location
        }
        guard total == entry.size else {
            throw StoreError.corrupt("\(display): blocks add up to \(total) bytes, the catalog says \(entry.size)")
        }
        return locations
    }

    /// The include that selects `path` (the path itself or an ancestor), or `[]` when all is selected.
    private func selected(_ path: [UInt8], _ includes: [[UInt8]]) -> [UInt8]? {
        if includes.isEmpty { return [] }
        return includes.first { include in
            path == include || (path.count > include.count && path.starts(with: include) && path[include.count] == UInt8(ascii: "/"))
        }
    }

    /// Makes sure every ancestor of `path` in the target is a real directory, creating missing ones
    /// (when restoring a subtree, its ancestors were not restored). Nothing is ever written through a
    /// symlink that already sits in the target.
    private func makeParents(of path: [UInt8]) throws {
        guard let slash = path.lastIndex(of: UInt8(ascii: "/")) else { return }
        let parent = Array(path[..<slash])
        if verified[parent] != nil { return }
        try makeParents(of: parent)
        try ensureDirectory(parent)
    }

    /// Creates the directory `path` in the target, or checks that what is there is a directory; a
    /// file or symlink in the way is an error, or replaced when `overwrite`. Its parent is verified.
    private func ensureDirectory(_ path: [UInt8]) throws {
        let full = target + [UInt8(ascii: "/")] + path
        let display = FileSystem.display(full)
        if FileSystem.withCString(full, { mkdir($0, 0o700) }) == 0 {
            verified[path] = true
            return
        }
        let code = errno
        guard code == EEXIST, let existing = FileSystem.lstat(full) else {
            throw StoreError.io(path: display, operation: "cannot create directory", errno: code)
        }
        if existing.st_mode & S_IFMT == S_IFDIR {
            verified[path] = false
            return
        }
        guard overwrite else {
            throw StoreError.invalidArgument("\(display) exists and is not a directory; pass --overwrite to replace it")
        }
        guard FileSystem.withCString(full, { unlink($0) }) == 0 else { throw StoreError.system("cannot replace", display) }
        guard FileSystem.withCString(full, { mkdir($0, 0o700) }) == 0 else {
            throw StoreError.system("cannot create directory", display)
        }
        verified[path] = true
    }

    /// Fails when something is at `path` (relative to the target) and it may not be replaced. In a
    /// directory this restore created, nothing can be, so nothing is looked up.
    private func checkAbsent(_ path: [UInt8]) throws {
        guard !overwrite else { return }
        let parent = path.lastIndex(of: UInt8(ascii: "/")).map { Array(path[..<$0]) } ?? []
        if verified[parent] == true { return }
        let destination = target + [UInt8(ascii: "/")] + path
        if FileSystem.lstat(destination) != nil {
            throw StoreError.invalidArgument("\(FileSystem.display(destination)) already exists; pass --overwrite to replace it")
        }
    }

    static func timeSpec(_ nanoseconds: Int64) -> timespec {
        Glibc.timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
    }

    /// Makes an entry under a temporary name with `create` (which returns 0 or an `errno`), then
    /// renames it over `path` (relative to the target), refusing to replace an existing entry unless
    /// `overwrite`. A leftover temporary entry of an interrupted restore is replaced.
    private func replace(_ path: [UInt8], create: ([UInt8]) -> Int32) throws {
        try checkAbsent(path)
        let destination = target + [UInt8(ascii: "/")] + path
        let temporary = RestoringFile.temporaryPath(for: destination)
        var code = create(temporary)
        if code == EEXIST {
            FileSystem.withCString(temporary) { _ = unlink($0) }
            code = create(temporary)
        }
        guard code == 0 else { throw StoreError.io(path: FileSystem.display(temporary), operation: "cannot create", errno: code) }
        let renamed = FileSystem.withCString(temporary) { from in FileSystem.withCString(destination) { rename(from, $0) } }
        guard renamed == 0 else {
            let code = errno
            FileSystem.withCString(temporary) { _ = unlink($0) }
            throw StoreError.io(path: FileSystem.display(destination), operation: "cannot rename into place", errno: code)
        }
    }

    /// Owner, attributes, mode (not of a symlink, which has none), ACLs and times, in the order the
    /// type's comment gives; never through a symlink at `path`.
    private func applyMetadata(_ entry: FileVersion, to path: [UInt8]) {
        let display = FileSystem.display(path)
        FileSystem.withCString(path) { cPath in _ = lchown(cPath, entry.uid, entry.gid) }
        warnings.add(entry.xattrs.write(path: path, acls: false), path: display)
        if entry.type != .symlink {
            FileSystem.withCString(path) { cPath in _ = chmod(cPath, mode_t(entry.mode)) }
            warnings.add(entry.xattrs.write(path: path, acls: true), path: display)
        }
        FileSystem.withCString(path) { cPath in
            var times = [Restorer.timeSpec(entry.modificationTime), Restorer.timeSpec(entry.modificationTime)]
            _ = utimensat(AT_FDCWD, cPath, &times, AT_SYMLINK_NOFOLLOW)
        }
    }
}
