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

    public init() {}
}

public struct RestoreSummary: Sendable {
    public var files = 0
    public var directories = 0
    public var symlinks = 0
    public var bytes: Int64 = 0
    public var seconds: Double = 0
    /// Entries that could not be restored as recorded (sockets, devices without privilege, …).
    public var warnings: [String] = []
}

/// Writes a snapshot's entries into a target directory the Syncthing way: each file goes to a
/// temporary `.blockvault.<name>.tmp` beside its final name, every block verified against its hash
/// as it is read, then renamed into place; runs of zero blocks become holes. Directory modes and
/// times are applied last, deepest first, so writing into them does not disturb them.
public final class Restorer {
    private let vault: Vault
    private let reader: PackReader

    public init(vault: Vault) {
        self.vault = vault
        reader = PackReader(storage: vault.storage)
    }

    public func restore(snapshot: Snapshot, folder: Int64, target: String, options: RestoreOptions = RestoreOptions()) throws -> RestoreSummary {
        let started = FileSystem.monotonicSeconds()
        let lock = try vault.lockForReading()
        defer { withExtendedLifetime(lock) {} }
        var summary = RestoreSummary()
        try FileSystem.makeDirectories(target)
        let targetBytes = Array(target.utf8)
        verified = [[]]
        var directories: [FileVersion] = []
        var hardLinks: [HardLinkKey: [UInt8]] = [:]
        var matched = Set<[UInt8]>()
        // Directories get their recorded mode and times even when the restore stops half-way.
        defer {
            for directory in directories.reversed() {
                applyMetadata(directory, to: targetBytes + [UInt8(ascii: "/")] + directory.path)
            }
        }
        try vault.catalog.forEachEntry(folder: folder, asOf: snapshot.sequence) { entry in
            guard let include = selected(entry.path, options.includes) else { return }
            matched.insert(include)
            let destination = targetBytes + [UInt8(ascii: "/")] + entry.path
            try makeParents(of: entry.path, under: targetBytes, overwrite: options.overwrite)
            switch entry.type {
            case .directory:
                try ensureDirectory(entry.path, under: targetBytes, overwrite: options.overwrite)
                directories.append(entry)
                summary.directories += 1
            case .file:
                let key = HardLinkKey(device: entry.device, inode: entry.inode)
                if entry.linkCount > 1, let first = hardLinks[key] {
                    try replace(destination, overwrite: options.overwrite) { temporary in
                        FileSystem.withCString(first) { from in FileSystem.withCString(temporary) { link(from, $0) } } == 0
                    }
                } else {
                    try restoreFile(entry, to: destination, overwrite: options.overwrite)
                    if entry.linkCount > 1 { hardLinks[key] = destination }
                    summary.bytes += entry.size
                }
                summary.files += 1
            case .symlink:
                try replace(destination, overwrite: options.overwrite) { temporary in
                    FileSystem.withCString(entry.linkTarget ?? []) { to in FileSystem.withCString(temporary) { symlink(to, $0) } } == 0
                }
                FileSystem.withCString(destination) { path in
                    _ = lchown(path, entry.uid, entry.gid)
                    var times = [Restorer.timeSpec(entry.modificationTime), Restorer.timeSpec(entry.modificationTime)]
                    _ = utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
                }
                summary.symlinks += 1
            case .fifo:
                try replace(destination, overwrite: options.overwrite) { temporary in
                    FileSystem.withCString(temporary) { mkfifo($0, mode_t(entry.mode)) } == 0
                }
                applyMetadata(entry, to: destination)
            case .socket, .characterDevice, .blockDevice:
                summary.warnings.append("\(entry.displayPath): \(entry.type.name) not restored")
            }
        }
        for include in options.includes where !matched.contains(include) {
            throw StoreError.invalidArgument("\(FileSystem.display(include)) is not in snapshot \(snapshot.id)")
        }
        summary.seconds = FileSystem.monotonicSeconds() - started
        return summary
    }

    private struct HardLinkKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    /// The include that selects `path` (the path itself or an ancestor), or `[]` when all is selected.
    private func selected(_ path: [UInt8], _ includes: [[UInt8]]) -> [UInt8]? {
        if includes.isEmpty { return [] }
        return includes.first { include in
            path == include || (path.count > include.count && path.starts(with: include) && path[include.count] == UInt8(ascii: "/"))
        }
    }

    /// Relative paths of directories in the target known to be real directories (not symlinks)
    /// during this restore; `[]` is the target itself.
    private var verified: Set<[UInt8]> = [[]]

    /// Makes sure every ancestor of `path` in the target is a real directory, creating missing ones
    /// (when restoring a subtree, its ancestors were not restored). Nothing is ever written through a
    /// symlink that already sits in the target.
    private func makeParents(of path: [UInt8], under target: [UInt8], overwrite: Bool) throws {
        guard let slash = path.lastIndex(of: UInt8(ascii: "/")) else { return }
        let parent = Array(path[..<slash])
        if verified.contains(parent) { return }
        try makeParents(of: parent, under: target, overwrite: overwrite)
        try ensureDirectory(parent, under: target, overwrite: overwrite)
    }

    /// Creates the directory `path` in the target, or checks that what is there is a directory; a
    /// file or symlink in the way is an error, or replaced when `overwrite`. Its parent is verified.
    private func ensureDirectory(_ path: [UInt8], under target: [UInt8], overwrite: Bool) throws {
        let full = target + [UInt8(ascii: "/")] + path
        let display = FileSystem.display(full)
        if let existing = FileSystem.lstat(full) {
            if existing.st_mode & S_IFMT == S_IFDIR {
                verified.insert(path)
                return
            }
            guard overwrite else {
                throw StoreError.invalidArgument("\(display) exists and is not a directory; pass --overwrite to replace it")
            }
            guard FileSystem.withCString(full, { unlink($0) }) == 0 else { throw StoreError.system("cannot replace", display) }
        }
        guard FileSystem.withCString(full, { mkdir($0, 0o700) }) == 0 else {
            throw StoreError.system("cannot create directory", display)
        }
        verified.insert(path)
    }

    static func timeSpec(_ nanoseconds: Int64) -> timespec {
        Glibc.timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
    }

    /// `.blockvault.<name>.tmp` beside `path`; for a name too long to take the additions (the
    /// limit is 255 bytes), `.blockvault.<first 16 hex digits of its SHA-256>.tmp`.
    private func temporaryPath(for path: [UInt8]) -> [UInt8] {
        let slash = path.lastIndex(of: UInt8(ascii: "/"))!
        let name = Array(path[(slash + 1)...])
        let middle = name.count + 16 <= 255 ? name : Array(SHA256Hasher.hash(name).hex.prefix(16).utf8)
        return Array(path[...slash]) + Array(".blockvault.".utf8) + middle + Array(".tmp".utf8)
    }

    /// Makes an entry under a temporary name with `create`, then renames it over `destination`,
    /// refusing to replace an existing entry unless `overwrite`.
    private func replace(_ destination: [UInt8], overwrite: Bool, create: ([UInt8]) -> Bool) throws {
        if !overwrite, FileSystem.lstat(destination) != nil {
            throw StoreError.invalidArgument("\(FileSystem.display(destination)) already exists; pass --overwrite to replace it")
        }
        let temporary = temporaryPath(for: destination)
        FileSystem.withCString(temporary) { _ = unlink($0) }
        guard create(temporary) else { throw StoreError.system("cannot create", FileSystem.display(temporary)) }
        let renamed = FileSystem.withCString(temporary) { from in FileSystem.withCString(destination) { rename(from, $0) } }
        guard renamed == 0 else {
            let code = errno
            FileSystem.withCString(temporary) { _ = unlink($0) }
            throw StoreError.io(path: FileSystem.display(destination), operation: "cannot rename into place", errno: code)
        }
    }

    private func restoreFile(_ entry: FileVersion, to destination: [UInt8], overwrite: Bool) throws {
        if !overwrite, FileSystem.lstat(destination) != nil {
            throw StoreError.invalidArgument("\(FileSystem.display(destination)) already exists; pass --overwrite to replace it")
        }
        let temporary = temporaryPath(for: destination)
        let display = FileSystem.display(destination)
        let descriptor = FileSystem.withCString(temporary) { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600) }
        guard descriptor >= 0 else { throw StoreError.system("cannot create", FileSystem.display(temporary)) }
        do {
            var offset: Int64 = 0
            do {
                for id in try vault.catalog.blockIDs(of: entry) {
                    guard let location = try vault.catalog.location(of: id) else {
                        throw StoreError.corrupt("\(display): block \(id) is missing from the vault")
                    }
                    let bytes: UnsafeRawBufferPointer
                    do { bytes = try reader.read(location) } catch {
                        throw StoreError.corrupt("\(display): \(error)")
                    }
                    if !Restorer.isZero(bytes) {
                        let written = pwriteAll(descriptor, bytes, offset: offset)
                        guard written else { throw StoreError.system("cannot write", display) }
                    }
                    offset += Int64(bytes.count)
                }
            }
            guard offset == entry.size else {
                throw StoreError.corrupt("\(display): blocks add up to \(offset) bytes, the catalog says \(entry.size)")
            }
            guard ftruncate(descriptor, off_t(offset)) == 0 else { throw StoreError.system("cannot set size of", display) }
            _ = fchown(descriptor, entry.uid, entry.gid)
            guard fchmod(descriptor, mode_t(entry.mode)) == 0 else { throw StoreError.system("cannot set mode of", display) }
            var times = [Restorer.timeSpec(entry.modificationTime), Restorer.timeSpec(entry.modificationTime)]
            futimens(descriptor, &times)
            close(descriptor)
        } catch {
            close(descriptor)
            FileSystem.withCString(temporary) { _ = unlink($0) }
            throw error
        }
        let renamed = FileSystem.withCString(temporary) { from in FileSystem.withCString(destination) { rename(from, $0) } }
        guard renamed == 0 else { throw StoreError.system("cannot rename into place", display) }
    }

    private func pwriteAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, offset: Int64) -> Bool {
        var done = 0
        while done < bytes.count {
            let count = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + done)
            if count < 0 { if errno == EINTR { continue }; return false }
            done += count
        }
        return true
    }

    /// Whether every byte is zero (such blocks are left as holes).
    static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return true }
        let words = bytes.count / 8
        for index in 0..<words where base.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self) != 0 { return false }
        for index in (words * 8)..<bytes.count where bytes[index] != 0 { return false }
        return true
    }

    private func applyMetadata(_ entry: FileVersion, to path: [UInt8]) {
        FileSystem.withCString(path) { cPath in
            _ = lchown(cPath, entry.uid, entry.gid)
            _ = chmod(cPath, mode_t(entry.mode))
            var times = [Restorer.timeSpec(entry.modificationTime), Restorer.timeSpec(entry.modificationTime)]
            _ = utimensat(AT_FDCWD, cPath, &times, AT_SYMLINK_NOFOLLOW)
        }
    }
}
