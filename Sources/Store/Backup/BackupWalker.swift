import Chunker
#if canImport(Glibc)
import Glibc
#endif

/// Walks the directory iteratively (no recursion limit), in sorted order, comparing each entry with
/// its latest recorded version (one catalog query per directory). New and changed regular files go
/// to the workers; directories, symlinks, special files and deletions are recorded directly.
///
/// Everything is opened beneath the root's descriptor, through real directories only
/// (`FileSystem.openBeneath`), and must be what the walk stat'ed: a directory swapped for a symlink
/// (or for another directory) while the backup runs is reported, never followed out of the tree.
struct BackupWalker {
    let root: [UInt8]
    /// The root, open for the whole backup (the workers open files beneath it too).
    let rootDescriptor: Int32
    let folder: Int64
    let reader: Catalog
    let options: BackupOptions
    let shortDevice: UInt64
    let nowSeconds: UInt64
    let progress: BackupProgress
    let warn: @Sendable (String) -> Void

    private(set) var filesUnchanged = 0
    private(set) var bytesUnchanged: Int64 = 0
    private(set) var filesDeleted = 0
    private(set) var directories = 0
    private(set) var errors: [String] = []
    /// Blocks the vault should have but lacks: an unchanged file that needs one is read again.
    let missingBlocks: Set<BlockID>

    init(root: [UInt8], rootDescriptor: Int32, folder: Int64, reader: Catalog, options: BackupOptions, shortDevice: UInt64,
         nowSeconds: UInt64, progress: BackupProgress, warn: @escaping @Sendable (String) -> Void) throws {
        missingBlocks = try reader.missingBlocks()
        self.root = root
        self.rootDescriptor = rootDescriptor
        self.folder = folder
        self.reader = reader
        self.options = options
        self.shortDevice = shortDevice
        self.nowSeconds = nowSeconds
        self.progress = progress
        self.warn = warn
    }

    private struct PendingDirectory {
        var path: [UInt8]
        /// The directory's interned name, when the catalog has seen it (0 for the root).
        var nameID: Int64?
        /// The directory the walk stat'ed in its parent (nil for the root): what it opens must be it.
        var identity: (device: UInt64, inode: UInt64)?
    }

    mutating func walk(submit: (FileTask) -> Void, record: (PendingVersion) -> Void) throws {
        var stack = [PendingDirectory(path: [], nameID: 0)]
        while let directory = stack.popLast() {
            let fullDirectory = directory.path.isEmpty ? root : root + [UInt8(ascii: "/")] + directory.path
            let names: [[UInt8]]
            // Open while its entries are examined: each is stat'ed by name in it, not by full path.
            // The root is opened afresh ("."): a listing moves the descriptor's position.
            let descriptor = FileSystem.openBeneath(rootDescriptor, directory.path.isEmpty ? [UInt8(ascii: ".")] : directory.path,
                                                    flags: O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            defer { if descriptor >= 0 { close(descriptor) } }
            do {
                guard descriptor >= 0 else {
                    if FileSystem.isSwapped(errno) { throw StoreError.invalidArgument(BackupWalker.swapped(fullDirectory)) }
                    throw StoreError.system("cannot list", FileSystem.display(fullDirectory))
                }
                if let identity = directory.identity {
                    var status = stat()
                    guard fstat(descriptor, &status) == 0 else { throw StoreError.system("cannot stat", FileSystem.display(fullDirectory)) }
                    guard UInt64(status.st_dev) == identity.device && UInt64(status.st_ino) == identity.inode else {
                        throw StoreError.invalidArgument(BackupWalker.swapped(fullDirectory))
                    }
                }
                names = try FileSystem.listDirectory(descriptor: descriptor, path: fullDirectory)
            } catch {
                // Absence is not deletion: an unreadable directory keeps everything recorded under it.
                if directory.path.isEmpty { throw error }
                report("\(error)")
                continue
            }
            // Both lists are in bytewise name order, so one merge pairs each entry with its record.
            let recorded = try directory.nameID.map { try reader.recordedChildren(folder: folder, parent: $0) } ?? []
            if directory.path.isEmpty && !options.allowEmpty && names.isEmpty && recorded.contains(where: { !$0.deleted }) {
                throw StoreError.invalidArgument("\(FileSystem.display(root)) is empty but its last snapshot was not; refusing to record everything as deleted (pass --allow-empty if this is intended)")
            }
            var next = 0
            var gone: [Catalog.RecordedChild] = []
            var subdirectories: [PendingDirectory] = []
            for name in names {
                while next < recorded.count && FileSystem.bytewiseLess(recorded[next].name, name) {
                    gone.append(recorded[next])
                    next += 1
                }
                var earlier: Catalog.RecordedChild?
                if next < recorded.count && recorded[next].name == name {
                    earlier = recorded[next]
                    next += 1
                }
                let path = directory.path.isEmpty ? name : directory.path + [UInt8(ascii: "/")] + name
                // The whole recorded version, read only for an entry that changed or went away.
                func previous() throws -> FileVersion? { try earlier.map { try reader.version(sequence: $0.sequence, path: path) } }
                if isExcluded(path: path, name: name) {
                    if let earlier, !earlier.deleted { try delete(try previous()!, nameID: earlier.nameID, record: record) }
                    continue
                }
                progress.filesSeen.add(1, ordering: .relaxed)
                let fullPath = fullDirectory + [UInt8(ascii: "/")] + name
                guard let raw = FileSystem.lstat(name, in: descriptor) else {
                    if errno == ENOENT, let earlier, !earlier.deleted {   // vanished between listing and stat: a deletion
                        try delete(try previous()!, nameID: earlier.nameID, record: record)
                    } else if errno != ENOENT {
                        report("\(FileSystem.display(fullPath)): cannot stat: \(String(cString: strerror(errno)))")
                    }
                    continue
                }
                let status = FileStatus(raw)
                let before = earlier.flatMap { $0.deleted ? nil : $0 }
                // An entry that changed type from directory loses its recorded subtree.
                if let before, before.type == .directory, status.type != .directory {
                    try deleteChildren(of: before.nameID, directory: path, record: record)
                }
                switch status.type {
                case .file:
                    if let before, status.matches(before), try !needsHealing(sequence: before.sequence, path: path) {
                        filesUnchanged += 1
                        bytesUnchanged += before.size
                    } else {
                        submit(FileTask(path: path, fullPath: fullPath, status: status, previous: try previous()))
                    }
                case .directory:
                    directories += 1
                    if before == nil || !status.matches(before!) {
                        let version = status.version(path: path, after: try previous(), device: shortDevice, nowSeconds: nowSeconds)
                        record(PendingVersion(path: path, version: withAttributes(version, fullPath), blockList: nil, dependencies: []))
                    }
                    subdirectories.append(PendingDirectory(path: path, nameID: earlier?.nameID, identity: (status.device, status.inode)))
                case .symlink:
                    let target: [UInt8]
                    do { target = try FileSystem.readLink(name, in: descriptor, path: fullPath) } catch {
                        report("\(error)")
                        continue
                    }
                    if let before, status.matches(before), before.linkTarget == target { continue }
                    var version = status.version(path: path, after: try previous(), device: shortDevice, nowSeconds: nowSeconds)
                    version.linkTarget = target
                    record(PendingVersion(path: path, version: withAttributes(version, fullPath), blockList: nil, dependencies: []))
                case .fifo, .socket, .characterDevice, .blockDevice:
                    // Recorded by metadata only; never opened, so a FIFO cannot hang the backup.
                    if let before, status.matches(before) { continue }
                    let version = status.version(path: path, after: try previous(), device: shortDevice, nowSeconds: nowSeconds)
                    record(PendingVersion(path: path, version: withAttributes(version, fullPath), blockList: nil, dependencies: []))
                }
            }
            // What the catalog had here and the disk no longer has was deleted.
            for child in gone + recorded[next...] where !child.deleted {
                let path = directory.path.isEmpty ? child.name : directory.path + [UInt8(ascii: "/")] + child.name
                try delete(try reader.version(sequence: child.sequence, path: path), nameID: child.nameID, record: record)
            }
            stack.append(contentsOf: subdirectories.reversed())
        }
    }

    /// The report of a directory that is no longer the one the walk listed in its parent.
    static func swapped(_ fullDirectory: [UInt8]) -> String {
        "\(FileSystem.display(fullDirectory)): changed during the backup (replaced, or a directory on its path replaced by a symlink); not followed, what was recorded under it is kept"
    }

    /// `version` with the extended attributes of the entry at `fullPath` (read by path: a symlink's
    /// own, a device or FIFO never opened). Attributes that cannot be read are reported, which
    /// makes the backup partial; the entry is recorded without them and with no ctime, which no
    /// entry has, so that the next backup examines it again instead of taking it as unchanged.
    private mutating func withAttributes(_ version: FileVersion, _ fullPath: [UInt8]) -> FileVersion {
        var version = version
        do { version.xattrs = try ExtendedAttributes.read(path: fullPath) } catch {
            report("\(FileSystem.display(fullPath)): \(error)")
            version.changeTime = 0
        }
        return version
    }

    /// Whether an unchanged file's content includes a block the vault has lost (self-healing).
    private func needsHealing(sequence: Int64, path: [UInt8]) throws -> Bool {
        guard !missingBlocks.isEmpty else { return false }
        let version = try reader.version(sequence: sequence, path: path)
        guard version.blockCount > 0 else { return false }
        return try reader.blockIDs(of: version).contains { missingBlocks.contains($0) }
    }

    private mutating func report(_ message: String) {
        errors.append(message)
        progress.errors.add(1, ordering: .relaxed)
        warn(message)
    }

    private func isExcluded(path: [UInt8], name: [UInt8]) -> Bool { options.excludes(path: path, name: name) }

    /// Records the deletion of `version` (and, for a directory, of everything recorded under it).
    private mutating func delete(_ version: FileVersion, nameID: Int64, record: (PendingVersion) -> Void) throws {
        guard !version.deleted else { return }
        if version.type == .directory { try deleteChildren(of: nameID, directory: version.path, record: record) }
        var deletion = version
        deletion.deleted = true
        deletion.blockListHash = nil
        deletion.blockCount = 0
        deletion.version = version.version.updated(by: shortDevice, nowSeconds: nowSeconds)
        deletion.modifiedBy = shortDevice
        record(PendingVersion(path: version.path, version: deletion, blockList: nil, dependencies: []))
        if version.type == .file { filesDeleted += 1 }
    }

    private mutating func deleteChildren(of nameID: Int64, directory: [UInt8], record: (PendingVersion) -> Void) throws {
        let children = try reader.latestChildren(folder: folder, parent: nameID, directory: directory)
        for (_, child) in children.sorted(by: { FileSystem.bytewiseLess($0.key.bytes, $1.key.bytes) }) where !child.version.deleted {
            try delete(child.version, nameID: child.nameID, record: record)
        }
    }
}
