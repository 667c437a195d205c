#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Objects as files under a directory (a vault's): key `packs/ab/NAME.pack` is the file
/// `ROOT/packs/ab/NAME.pack`. Keys are relative paths without `.` or `..` components. Uploads
/// stream to a hidden temporary file beside the final name (`.NAME.pack.tmp`), synced, read back,
/// renamed into place and the directory synced; reads `pread` through descriptors kept open in a
/// bounded cache. Thread-safe.
public final class LocalBlobStorage: BlobStorage {
    /// The directory the keys are relative to.
    public let root: String
    private let descriptors: DescriptorCache
    /// Directories in which `delete` removed a file since the last `syncDeletions`.
    private let unsyncedDeletions = Mutex<Set<String>>([])

    /// `openFiles`: how many read descriptors are kept open at most.
    public init(root: String, openFiles: Int = 128) {
        self.root = root
        descriptors = DescriptorCache(capacity: openFiles)
    }

    public func location(of key: String) -> String {
        assert(!key.hasPrefix("/") && !key.split(separator: "/").contains { $0 == ".." || $0 == "." }, "bad key \(key)")
        return root + "/" + key
    }

    /// The hidden name an upload or a `put` of `key` is written under before it is renamed into place.
    private func temporaryPath(of key: String) -> String {
        let final = location(of: key)
        let slash = final.lastIndex(of: "/")!
        return String(final[...slash]) + "." + String(final[final.index(after: slash)...]) + ".tmp"
    }

    public func upload(_ key: String) throws(StoreError) -> any BlobUpload {
        let final = location(of: key)
        try makeParent(of: final)
        return try LocalBlobUpload(temporary: temporaryPath(of: key), final: final) { [descriptors] in descriptors.forget(final) }
    }

    public func put(_ key: String, _ bytes: UnsafeRawBufferPointer) throws(StoreError) {
        let final = location(of: key)
        try makeParent(of: final)
        try FileSystem.writeDurably(bytes, to: final, temporary: temporaryPath(of: key))
        descriptors.forget(final)
    }

    public func createIfAbsent(_ key: String, _ bytes: UnsafeRawBufferPointer) throws(StoreError) -> Bool {
        let final = location(of: key)
        try makeParent(of: final)
        // A unique temporary name: racing creators must not write into one another's file.
        let temporary = "\(temporaryPath(of: key)).\(getpid()).\(randomHex(byteCount: 4))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .system("cannot create", temporary) }
        defer { unlink(temporary) }
        do throws(StoreError) {
            try FileSystem.writeAll(descriptor, bytes, path: temporary)
            try FileSystem.fsyncOrThrow(descriptor, path: temporary)
        } catch {
            close(descriptor)
            throw error
        }
        close(descriptor)
        // link(2) never replaces: it fails with EEXIST where the name is taken, atomically.
        guard link(temporary, final) == 0 else {
            if errno == EEXIST { return false }
            throw .system("cannot create", final)
        }
        try FileSystem.fsyncDirectory(FileSystem.parent(of: final))
        return true
    }

    public func readRange(_ key: String, at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(StoreError) -> Int {
        let path = location(of: key)
        return try descriptors.withDescriptor(path) { (descriptor: Int32) throws(StoreError) -> Int in
            var done = 0
            while done < buffer.count {
                let count = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
                if count < 0 {
                    if errno == EINTR { continue }
                    throw .system("cannot read", path)
                }
                if count == 0 { break }
                done += count
            }
            return done
        }
    }

    public func size(of key: String) throws(StoreError) -> Int {
        let path = location(of: key)
        return try descriptors.withDescriptor(path) { (descriptor: Int32) throws(StoreError) -> Int in
            var status = stat()
            guard fstat(descriptor, &status) == 0 else { throw .system("cannot stat", path) }
            return Int(status.st_size)
        }
    }

    /// Walks the directories the prefix names down to, and the ones below them; hidden files (an
    /// upload in progress, a `put`'s temporary) are no object's.
    public func list(prefix: String) throws(StoreError) -> [String] {
        let directory = prefix.lastIndex(of: "/").map { String(prefix[..<$0]) } ?? ""
        var keys: [String] = []
        try walk(directory) { key, name in
            if !name.hasPrefix(".") && key.hasPrefix(prefix) { keys.append(key) }
        }
        return keys
    }

    public func delete(_ key: String) throws(StoreError) {
        let path = location(of: key)
        descriptors.forget(path)
        if unlink(path) != 0 {
            if errno == ENOENT { return }
            throw .system("cannot delete", path)
        }
        unsyncedDeletions.withLock { _ = $0.insert(FileSystem.parent(of: path)) }
    }

    public func syncDeletions(prefix: String) throws(StoreError) {
        let under = location(of: prefix)
        let directories = unsyncedDeletions.withLock { pending in
            let matching = pending.filter { ($0 + "/").hasPrefix(under) }
            pending.subtract(matching)
            return matching
        }
        for directory in directories.sorted() { try FileSystem.fsyncDirectory(directory) }
    }

    public func removeIncompleteUploads(prefix: String) throws(StoreError) {
        let directory = prefix.lastIndex(of: "/").map { String(prefix[..<$0]) } ?? ""
        try walk(directory) { key, name in
            if name.hasPrefix(".") && name.hasSuffix(".tmp") && key.hasPrefix(prefix) { unlink(location(of: key)) }
        }
    }

    /// Calls `body` with (key, file name) for every file under the directory `directory` (a key
    /// prefix ending before a slash; "" is the root), depth first. A missing directory holds nothing.
    private func walk(_ directory: String, _ body: (String, String) -> Void) throws(StoreError) {
        let path = directory.isEmpty ? root : location(of: directory)
        guard let names = try? FileSystem.listDirectory(Array(path.utf8)) else {
            guard FileSystem.exists(path) else { return }
            _ = try FileSystem.listDirectory(Array(path.utf8))   // throws the listing's own error
            return
        }
        for raw in names {
            let name = String(decoding: raw, as: UTF8.self)
            let key = directory.isEmpty ? name : directory + "/" + name
            var status = stat()
            guard lstat(location(of: key), &status) == 0 else { continue }   // deleted meanwhile
            if status.st_mode & S_IFMT == S_IFDIR {
                try walk(key, body)
            } else if status.st_mode & S_IFMT == S_IFREG {
                body(key, name)
            }
        }
    }

    /// Creates the directory `path` lies in when it is missing (its parent first, where that is
    /// missing too), syncing each parent a directory was created in.
    private func makeParent(of path: String) throws(StoreError) {
        let directory = FileSystem.parent(of: path)
        if mkdir(directory, 0o755) == 0 {
            try FileSystem.fsyncDirectory(FileSystem.parent(of: directory))
        } else if errno == ENOENT && directory != root && directory.count > root.count {
            try makeParent(of: directory)
            try makeParent(of: path)
        } else if errno != EEXIST {
            throw .system("cannot create directory", directory)
        }
    }
}
