import Chunker
import Foundation

/// Records a new snapshot of a directory: one walker (the calling thread), two readers per core that
/// read, chunk and hash whole files and compress their small blocks, one compressor per core for
/// frames of large blocks, a pack writer, and a committer thread that is the catalog's only writer.
/// Queues between them are bounded.
public final class Backup {
    /// Files (or versions) handed over at once, and the file bytes at which a batch of files is
    /// handed over early so that one reader does not take all the large files of a directory.
    static let handOverBatch = 32
    static let handOverBytes: Int64 = 1 << 20

    let vault: Vault
    let options: BackupOptions
    public let progress: BackupProgress
    let warn: @Sendable (String) -> Void

    public init(vault: Vault, options: BackupOptions = BackupOptions(), progress: BackupProgress = BackupProgress(),
                warn: @escaping @Sendable (String) -> Void = { _ in }) {
        self.vault = vault
        self.options = options
        self.progress = progress
        self.warn = warn
    }

    /// Backs up `directory` and records a snapshot of it. Throws when the vault cannot be written or
    /// the directory cannot be read at all; problems with single files are named in the summary's
    /// `errors` (and the snapshot is marked partial).
    public func run(directory: String) throws -> BackupSummary {
        let started = FileSystem.monotonicSeconds()
        // BLOCKVAULT_PHASES=1 prints when each phase ended, on stderr: for profiling, not for scripts.
        let tracePhases = ProcessInfo.processInfo.environment["BLOCKVAULT_PHASES"] != nil
        func phase(_ name: String) {
            if tracePhases { FileHandle.standardError.write("phase \(name): \(String(format: "%.3f", FileSystem.monotonicSeconds() - started)) s\n".data(using: .utf8)!) }
        }
        guard !vault.configuration.receiveOnly else {
            throw StoreError.invalidArgument("\(vault.path) is a receive-only replica: it records what its master pushes, never local backups")
        }
        let lock = try vault.lockForWriting(waitSeconds: options.lockWaitSeconds)
        defer { withExtendedLifetime(lock) {} }
        try vault.recoverInterruptedWrites()
        guard let resolved = realpath(directory, nil) else {
            throw StoreError.system("cannot back up", directory)
        }
        let root = Array(String(cString: resolved).utf8)
        free(resolved)
        guard let rootStatus = FileSystem.lstat(root), FileStatus(rootStatus).type == .directory else {
            throw StoreError.invalidArgument("\(directory) is not a directory")
        }
        // Open for the whole backup: everything under the root is opened beneath it, never by full
        // path, so a directory swapped for a symlink meanwhile cannot lead out of the tree. The root
        // itself was resolved once above: a root given as a symlink is followed, as asked.
        let rootDescriptor = FileSystem.withCString(root) { open($0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard rootDescriptor >= 0 else { throw StoreError.system("cannot back up", directory) }
        defer { close(rootDescriptor) }

        // Large files' new blocks share zstd frames, which older builds cannot read.
        try Vault.raiseFormat(at: vault.path, to: VaultConfiguration.sharedFrameFormat)
        // Trained (and recorded) here when the vault has none, before any block is compressed.
        let writer = VaultWriter(vault: vault)
        let dictionary = try dictionaryForBackup(root: root, rootDescriptor: rootDescriptor, writer: writer)
        phase("dictionary")
        let catalog = vault.catalog
        try catalog.setCacheSize(megabytes: 64)
        let folder = try catalog.transaction { try catalog.folderID(path: root, create: true)! }
        let metadata = MetadataStream(writer: writer, folderPath: root, startSequence: try catalog.maximumSequence())
        let index = try BlockIndex(catalogPath: vault.catalogPath)
        let committer = CatalogCommitter(catalog: catalog, folder: folder, blocks: index, metadata: metadata)
        // The committer records each data pack in its own transactions, as it arrives, before the
        // versions that need it; no worker waits for a pack's fsync.
        let packs = writer.dataPacks(sealInBackground: true) { [queue = committer.queue] pack in
            queue.push(.pack(pack))
        }
        let tasks = BoundedQueue<FileTask>(capacity: 256)
        let shared = SharedResults()
        let nowSeconds = UInt64(FileSystem.nowNanoseconds() / 1_000_000_000)
        let configuration = vault.configuration
        let progress = self.progress
        // Opened before any thread starts, so that failing to open them leaves no thread waiting.
        var walker = try BackupWalker(root: root, rootDescriptor: rootDescriptor, folder: folder, reader: try Catalog(path: vault.catalogPath),
                                      options: options, shortDevice: configuration.shortDeviceID, nowSeconds: nowSeconds,
                                      progress: progress, warn: warn)

        // Two readers a core: while one waits for the disk (small files, a cold cache), the other hashes.
        // Measured on the 33,226-file docs tree with a cold cache: 7.8 s with 2 readers, 5.4 s with 4.
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let workerCount = options.workers > 0 ? options.workers : 2 * cores
        let lookups = try (0..<workerCount).map { _ in try index.makeLookup() }

        committer.start()
        let compression = CompressionStage(threads: options.workers > 0 ? options.workers : cores, workers: workerCount,
                                           level: configuration.compression.level,
                                           dictionary: dictionary, packs: packs, progress: progress)
        let group = DispatchGroup()
        for lookup in lookups {
            group.enter()
            let thread = Thread {
                Thread.current.name = "bv-reader"   // shows in /proc/PID/task/*/comm, for profiling
                ThreadPriority.lowerCurrentThread()
                defer { group.leave() }
                // Versions go to the committer a batch at a time: one hand-over, not one per file.
                var versions: [CommitEvent] = []
                defer { committer.queue.push(contentsOf: versions) }
                let worker = BackupWorker(rootDescriptor: rootDescriptor, chunker: configuration.chunker, level: configuration.compression.level, dictionary: dictionary,
                                          index: index, lookup: lookup, packs: packs, compression: compression, progress: progress,
                                          shortDevice: configuration.shortDeviceID)
                while let task = tasks.pop() {
                    if shared.hasFailed { continue }
                    do {
                        switch try worker.process(task, nowSeconds: nowSeconds) {
                        case .stored(let pending, let bytesRead):
                            if let previous = task.previous, FileStatus.same(pending.version, previous) {
                                // Read again only to heal lost blocks: same content, so no new version.
                                shared.fileHealed(bytesRead: bytesRead, size: previous.size)
                                break
                            }
                            shared.fileStored(isNew: task.previous == nil || task.previous!.deleted, bytesRead: bytesRead,
                                              size: pending.version.size)
                            versions.append(.version(pending))
                            if versions.count >= Backup.handOverBatch {
                                committer.queue.push(contentsOf: versions)
                                versions.removeAll(keepingCapacity: true)
                            }
                        case .failed(let message):
                            shared.fileFailed(message, previous: task.previous)
                            progress.errors.add(1, ordering: .relaxed)
                        }
                    } catch {
                        shared.fail(error)
                        tasks.close()
                        committer.queue.close()
                    }
                    progress.filesHashed.add(1, ordering: .relaxed)
                }
            }
            thread.stackSize = 1 << 22
            thread.start()
        }

        var walkError: Error?
        // Files go to the readers, and versions to the committer, in batches: a queue hand-over can
        // wake a sleeping thread, and one per file cost a context switch per file.
        var batch: [FileTask] = []
        var batchBytes: Int64 = 0
        var records: [CommitEvent] = []
        do {
            try walker.walk(
                submit: { task in
                    progress.filesToHash.add(1, ordering: .relaxed)
                    progress.bytesToHash.add(task.status.size, ordering: .relaxed)
                    batch.append(task)
                    batchBytes += task.status.size
                    if batch.count >= Backup.handOverBatch || batchBytes >= Backup.handOverBytes {
                        tasks.push(contentsOf: batch)
                        batch.removeAll(keepingCapacity: true)
                        batchBytes = 0
                    }
                },
                record: { pending in
                    records.append(.version(pending))
                    if records.count >= Backup.handOverBatch {
                        committer.queue.push(contentsOf: records)
                        records.removeAll(keepingCapacity: true)
                    }
                })
        } catch {
            walkError = error
        }
        tasks.push(contentsOf: batch)
        committer.queue.push(contentsOf: records)
        progress.walkFinished.store(true, ordering: .relaxed)
        phase("walk")
        tasks.close()
        group.wait()
        phase("readers")
        // Every handed-over block must be in the pack writer before its last pack is sealed.
        do { try compression.finish() } catch { shared.fail(error) }
        if walkError == nil && !shared.hasFailed {
            do { try packs.flush() } catch { shared.fail(error) }
        } else {
            packs.abandon()   // before the vault's lock goes: no seal runs on after, no temporary pack stays
        }
        phase("last data pack")
        do { try committer.finish() } catch { shared.fail(error) }
        phase("committer")
        if let walkError { throw walkError }
        if let failure = shared.failure { throw failure }

        var summary = shared.summary(walker: walker)
        // Everything the snapshot covers is now in the catalog; describe it in metadata packs, then
        // commit the snapshot row: the last step, so a crash before it leaves no snapshot at all.
        let sequence = try catalog.maximumSequence()
        let host = options.host ?? ProcessInfo.processInfo.hostName
        var snapshot = Snapshot(id: randomHex(byteCount: 8), folderPath: root, time: FileSystem.nowNanoseconds(), host: host,
                                tags: options.tags, sequence: sequence,
                                files: Int64(summary.filesUnchanged + summary.filesNew + summary.filesChanged),
                                bytes: walker.bytesUnchanged + shared.storedBytes, partial: !summary.errors.isEmpty, metadataID: nil)
        snapshot.root = Backup.rootStatus(rootDescriptor)
        snapshot = try MetadataWriter(writer: writer).writeSnapshot(snapshot, folder: folder, stream: metadata)
        phase("metadata and snapshot")
        summary.snapshot = snapshot
        summary.bytesAdded = progress.bytesAdded.load(ordering: .relaxed)
        summary.seconds = FileSystem.monotonicSeconds() - started
        return summary
    }
}

/// Results the workers share with the orchestrator.
private final class SharedResults: Sendable {
    private struct State {
        var filesNew = 0
        var filesChanged = 0
        var filesHealed = 0
        var bytesRead: Int64 = 0
        var storedBytes: Int64 = 0
        var errors: [String] = []
        var failedPreviousFiles = 0
        var failedPreviousBytes: Int64 = 0
        var failure: Error?
    }
    private let state = AdaptiveMutex(State())

    var hasFailed: Bool { state.withLock { $0.failure != nil } }
    var failure: Error? { state.withLock { $0.failure } }
    var storedBytes: Int64 { state.withLock { $0.storedBytes + $0.failedPreviousBytes } }

    func fail(_ error: Error) { state.withLock { if $0.failure == nil { $0.failure = error } } }

    func fileHealed(bytesRead: Int64, size: Int64) {
        state.withLock {
            $0.filesHealed += 1
            $0.bytesRead += bytesRead
            $0.storedBytes += size
        }
    }

    func fileStored(isNew: Bool, bytesRead: Int64, size: Int64) {
        state.withLock {
            if isNew { $0.filesNew += 1 } else { $0.filesChanged += 1 }
            $0.bytesRead += bytesRead
            $0.storedBytes += size
        }
    }

    /// A file that could not be read keeps its previous version in the snapshot, if it had one.
    func fileFailed(_ message: String, previous: FileVersion?) {
        state.withLock {
            $0.errors.append(message)
            if let previous, !previous.deleted, previous.type == .file {
                $0.failedPreviousFiles += 1
                $0.failedPreviousBytes += previous.size
            }
        }
    }

    func summary(walker: BackupWalker) -> BackupSummary {
        state.withLock { state in
            var summary = BackupSummary(snapshot: Snapshot(id: "", folderPath: [], time: 0, host: "", tags: [], sequence: 0,
                                                           files: 0, bytes: 0, partial: false, metadataID: nil))
            summary.filesNew = state.filesNew
            summary.filesChanged = state.filesChanged
            summary.filesUnchanged = walker.filesUnchanged + state.failedPreviousFiles + state.filesHealed
            summary.filesHealed = state.filesHealed
            summary.filesDeleted = walker.filesDeleted
            summary.directories = walker.directories
            summary.errors = walker.errors + state.errors
            summary.bytesRead = state.bytesRead
            return summary
        }
    }
}

extension Backup {
    /// The backed-up directory's own status, read from the descriptor the backup holds; nil when it
    /// cannot be read (the snapshot then restores as before, without it).
    static func rootStatus(_ descriptor: Int32) -> SnapshotRoot? {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return nil }
        let attributes = (try? ExtendedAttributes.read(fd: descriptor)) ?? ExtendedAttributes()
        return SnapshotRoot(mode: UInt32(status.st_mode & 0o7777), uid: status.st_uid, gid: status.st_gid,
                            modificationTime: FileSystem.nanoseconds(status.st_mtim), xattrs: attributes)
    }
}
