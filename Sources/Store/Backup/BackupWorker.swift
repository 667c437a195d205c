import Chunker
#if canImport(Glibc)
import Glibc
#endif

/// A regular file the walker found new or changed.
struct FileTask: Sendable {
    var path: [UInt8]
    var fullPath: [UInt8]
    var status: FileStatus
    var previous: FileVersion?
}

/// What became of a file task.
enum FileOutcome {
    case stored(PendingVersion, bytesRead: Int64)
    case failed(String)
}

/// Reads, chunks, hashes and (for new blocks) compresses one file at a time, on its own thread,
/// with buffers reused across files.
final class BackupWorker {
    private let reader: BlockReader
    private let encoder: BlockEncoder
    private let index: BlockIndex
    private let lookup: BlockIndex.Lookup
    private let packs: PackWriter
    private let frames: CompressionStage.Frames
    private let progress: BackupProgress
    private let shortDevice: UInt64
    /// The backup's root, open for the whole backup: files are opened beneath it.
    private let rootDescriptor: Int32
    /// How often a file that changes while it is read is read again before it is reported.
    static let attempts = 3
    /// Linux's O_NOATIME, which Glibc's Swift overlay does not export: reading does not touch atime.
    static let noAccessTime: Int32 = 0o1000000

    /// New blocks at least this long go to the compression stage; shorter ones (small files, which
    /// the workers already spread over the cores) are compressed here, without a copy or a hand-over.
    static let handOverSize = PackFormat.frameMinimumBlock
    /// Files at least this long are announced to the kernel as read sequentially (larger read-ahead).
    static let sequentialAdviceSize: Int64 = 1 << 20

    init(rootDescriptor: Int32, chunker: ChunkerParameters, level: Int32, dictionary: ZstdDictionary?, index: BlockIndex,
         lookup: BlockIndex.Lookup, packs: PackWriter, compression: CompressionStage, progress: BackupProgress, shortDevice: UInt64) {
        self.rootDescriptor = rootDescriptor
        reader = BlockReader(parameters: chunker, parallelHashing: true)
        encoder = BlockEncoder(level: level, dictionary: dictionary)
        self.index = index
        self.lookup = lookup
        self.packs = packs
        frames = compression.frames()
        self.progress = progress
        self.shortDevice = shortDevice
    }

    /// Stores the file's new blocks and returns its version. Problems with the file itself (gone,
    /// unreadable, replaced by something else, changing while read) come back as `.failed`; failures
    /// of the vault (a pack that cannot be written) are thrown and end the backup.
    func process(_ task: FileTask, nowSeconds: UInt64) throws(StoreError) -> FileOutcome {
        // The path's display form is made only for a failure (after its message, which may read errno).
        func failed(_ message: String) -> FileOutcome { .failed("\(FileSystem.display(task.fullPath)): \(message)") }
        // Beneath the root, through real directories only: a directory on the path swapped for a
        // symlink since the walk is not followed out of the tree. O_NONBLOCK: a FIFO swapped in does
        // not hang the open (it is then refused below, not being the file the walk stat'ed).
        // O_NOATIME is refused (EPERM) for files of other owners.
        let flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC
        var opened = FileSystem.openBeneath(rootDescriptor, task.path, flags: flags | BackupWorker.noAccessTime)
        if opened < 0 && errno == EPERM { opened = FileSystem.openBeneath(rootDescriptor, task.path, flags: flags) }
        guard opened >= 0 else {
            if FileSystem.isSwapped(errno) { return failed(BackupWorker.swapped) }
            return failed("cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(opened) }
        var bytesRead: Int64 = 0
        for attempt in 0..<BackupWorker.attempts {
            var before = stat()
            guard fstat(opened, &before) == 0 else { return failed("cannot stat: \(String(cString: strerror(errno)))") }
            let status = FileStatus(before)
            // The file the walk stat'ed, not another one renamed or swapped in under its name since.
            guard status.device == task.status.device && status.inode == task.status.inode else { return failed(BackupWorker.swapped) }
            guard status.type == .file else { return failed("is no longer a regular file; skipped") }
            // Reads of a regular file ignore O_NONBLOCK, so it can stay set; small files (most of a
            // tree) skip the calls that only pay off for large ones or for a second attempt.
            if attempt == 0 && status.size >= BackupWorker.sequentialAdviceSize {
                posix_fadvise(opened, 0, 0, Int32(POSIX_FADV_SEQUENTIAL))
            }
            if attempt > 0 {
                guard lseek(opened, 0, SEEK_SET) == 0 else { return failed("cannot seek: \(String(cString: strerror(errno)))") }
            }
            var ids: [UInt8] = []
            ids.reserveCapacity(Int(min(status.size / (32 << 10) + 1, 1 << 20)) * 32)
            var dependencies: [BlockID] = []
            var length: UInt64 = 0
            var compressedStream = false
            do {
                length = try reader.forEachBlock(fileDescriptor: opened, fileSize: UInt64(status.size)) { block in
                    if block.offset == 0 { compressedStream = BlockEncoder.opensCompressedStream(block.bytes) }
                    ids.append(contentsOf: repeatElement(0, count: 32))
                    ids.withUnsafeMutableBytes { block.id.copyBytes(to: UnsafeMutableRawBufferPointer(rebasing: $0[($0.count - 32)...])) }
                    switch try index.claim(block.id, lookup: lookup) {
                    case .stored:
                        break
                    case .session:
                        dependencies.append(block.id)
                    case .mine where compressedStream && BlockEncoder.looksRandom(block.bytes):
                        try packs.append(id: block.id, stored: block.bytes, rawLength: block.length, encoding: .raw)
                        dependencies.append(block.id)
                        progress.bytesAdded.add(Int64(block.length), ordering: .relaxed)
                    case .mine where block.length >= BackupWorker.handOverSize:
                        try frames.add(id: block.id, bytes: block.bytes)
                        dependencies.append(block.id)
                    case .mine:
                        let (stored, encoding) = try encoder.encode(block.bytes, id: block.id)
                        try packs.append(id: block.id, stored: stored, rawLength: block.length, encoding: encoding)
                        dependencies.append(block.id)
                        progress.bytesAdded.add(Int64(stored.count), ordering: .relaxed)
                    }
                    progress.bytesHashed.add(Int64(block.length), ordering: .relaxed)
                }
                try frames.finish()
            } catch let error as ChunkerError {
                // The blocks claimed before the failure must still be stored.
                try frames.finish()
                return failed("\(error)")
            } catch let error as StoreError {
                throw error
            } catch {
                throw .catalog("\(error)")
            }
            bytesRead += Int64(length)
            // Read before the second fstat: a change to them changes the ctime, which that compares.
            let xattrs: ExtendedAttributes
            do { xattrs = try ExtendedAttributes.read(fd: opened) } catch { return failed("\(error)") }
            var after = stat()
            guard fstat(opened, &after) == 0 else { return failed("cannot stat: \(String(cString: strerror(errno)))") }
            let end = FileStatus(after)
            // Unchanged size and mtime/ctime across the read, and every byte the size promised: the
            // blocks are one consistent state of the file, not a mix of two.
            guard end == status, Int64(length) == status.size else { continue }
            var version = status.version(path: task.path, after: task.previous, device: shortDevice, nowSeconds: nowSeconds)
            version.xattrs = xattrs
            version.blockCount = ids.count / BlockID.byteCount
            // A single block is its own content identity; only longer lists are stored as lists.
            version.blockListHash = version.blockCount == 1 ? ids.withUnsafeBytes { BlockID(digest: $0) }
                                  : version.blockCount > 1 ? SHA256Hasher.hash(ids) : nil
            let list = version.blockCount > 1 ? ids : nil
            return .stored(PendingVersion(path: task.path, version: version, blockList: list, dependencies: dependencies),
                           bytesRead: bytesRead)
        }
        return failed("changed while being read (\(BackupWorker.attempts) attempts); previous version kept")
    }

    static let swapped = "changed during the backup (replaced, or a directory on its path replaced by a symlink); not read, previous version kept"
}
