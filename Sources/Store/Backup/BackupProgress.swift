import Synchronization

/// Live counters of a running backup, read by a progress display on another thread.
public final class BackupProgress: Sendable {
    public let filesSeen = Atomic<Int>(0)
    public let filesToHash = Atomic<Int>(0)
    public let filesHashed = Atomic<Int>(0)
    public let bytesToHash = Atomic<Int64>(0)
    public let bytesHashed = Atomic<Int64>(0)
    public let bytesAdded = Atomic<Int64>(0)
    public let errors = Atomic<Int>(0)
    /// Set once the walk has finished, so the hashing total is final.
    public let walkFinished = Atomic<Bool>(false)

    public init() {}
}

/// What a backup does besides walking the directory.
public struct BackupOptions: Sendable {
    public var tags: [String] = []
    /// fnmatch(3) patterns matched against the path relative to the backed-up directory and
    /// against each entry's name; a matching entry (and its subtree) is left out.
    public var excludes: [String] = []
    /// Record a snapshot even when the directory is empty although its last snapshot was not.
    public var allowEmpty = false
    public var lockWaitSeconds: Double = 0
    /// Reader/hasher threads (and compressor threads); 0: two readers and one compressor per core.
    public var workers: Int = 0
    public var host: String? = nil
    /// Compress small blocks with the vault's zstd dictionary, training one from samples of the
    /// directory when the vault has none. Off only for tests and measurements: nothing is trained
    /// or used.
    public var dictionary = true

    public init() {}
}

/// The result of a backup.
public struct BackupSummary: Sendable {
    public var snapshot: Snapshot
    public var filesNew = 0
    public var filesChanged = 0
    public var filesUnchanged = 0
    public var filesDeleted = 0
    /// Unchanged files read again because the vault had lost some of their blocks.
    public var filesHealed = 0
    public var directories = 0
    /// Each problem with its path; non-empty means the snapshot is partial.
    public var errors: [String] = []
    public var bytesRead: Int64 = 0
    public var bytesAdded: Int64 = 0
    public var seconds: Double = 0
}
