import Chunker
import Foundation

extension Vault {
    /// Finds a snapshot by full id, unique id prefix (≥ 4 digits) or `latest`; with `at`, the newest
    /// snapshot at or before that time (nanoseconds since the epoch).
    public func snapshot(_ reference: String, at: Int64? = nil) throws -> (folder: Int64, snapshot: Snapshot) {
        var all = try catalog.snapshots()
        if let at { all = all.filter { $0.snapshot.time <= at } }
        if reference == "latest" {
            guard let last = all.last else {
                throw StoreError.invalidArgument(at == nil ? "the vault has no snapshots yet" : "no snapshot was taken at or before that time")
            }
            return last
        }
        guard reference.count >= 4, reference.allSatisfy(\.isHexDigit) else {
            throw StoreError.invalidArgument("'\(reference)' is not a snapshot id; use an id from 'blockvault snapshots' or 'latest'")
        }
        let matches = all.filter { $0.snapshot.id.hasPrefix(reference.lowercased()) }
        guard matches.count == 1 else {
            throw StoreError.invalidArgument(matches.isEmpty ? "no snapshot \(reference) in the vault"
                                                             : "snapshot prefix \(reference) is ambiguous; give more digits")
        }
        return matches[0]
    }

    /// The entries of a snapshot under `path` (all when empty), in path order.
    public func entries(of snapshot: Snapshot, folder: Int64, under path: [UInt8] = []) throws -> [FileVersion] {
        var result: [FileVersion] = []
        var found = path.isEmpty
        try catalog.forEachEntry(folder: folder, asOf: snapshot.sequence) { entry in
            if path.isEmpty || entry.path == path
                || (entry.path.count > path.count && entry.path.starts(with: path) && entry.path[path.count] == UInt8(ascii: "/")) {
                found = true
                result.append(entry)
            }
        }
        guard found else { throw StoreError.invalidArgument("\(FileSystem.display(path)) is not in snapshot \(snapshot.id)") }
        return result
    }

    /// A path argument as `folder`'s entries are stored: an absolute path under the folder's
    /// backed-up directory loses that directory; otherwise leading `./` and `/` are dropped (a path
    /// relative to the directory, `./`-prefixed or written from its root). A trailing `/` is dropped.
    public func entryPath(_ argument: [UInt8], in folder: Int64) throws -> [UInt8] {
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        var path = argument[...]
        while path.count > 1, path.last == slash { path = path.dropLast() }
        if path.first == slash, let directory = try catalog.folders().first(where: { $0.id == folder })?.path {
            if path.elementsEqual(directory) { return [] }
            if path.starts(with: directory + [slash]) { return Array(path.dropFirst(directory.count + 1)) }
        }
        while true {
            if path.starts(with: [dot, slash]) { path = path.dropFirst(2) }
            else if path.first == slash { path = path.dropFirst() }
            else { break }
        }
        if path.elementsEqual([dot]) { return [] }
        return Array(path)
    }

    /// One recorded version of a path with the first snapshot that contains it.
    public struct HistoryEntry: Sendable {
        public var folderPath: [UInt8]
        public var version: FileVersion
        public var snapshot: Snapshot?
    }

    /// Every version of `path` ever recorded, oldest first. `path` is relative to a backed-up
    /// directory, or absolute (then it must lie in one).
    public func history(of path: [UInt8]) throws -> [HistoryEntry] {
        let snapshots = try catalog.snapshots()
        var result: [HistoryEntry] = []
        for folder in try catalog.folders() {
            var relative = path
            if path.first == UInt8(ascii: "/") {
                let prefix = folder.path + [UInt8(ascii: "/")]
                guard path.starts(with: prefix) else { continue }
                relative = Array(path[prefix.count...])
            }
            for version in try catalog.history(folder: folder.id, path: relative) {
                let covering = snapshots.first { $0.folder == folder.id && $0.snapshot.sequence >= version.sequence }?.snapshot
                result.append(HistoryEntry(folderPath: folder.path, version: version, snapshot: covering))
            }
        }
        return result
    }

    /// A path that changed between two snapshots.
    public struct Change: Sendable {
        public enum Kind: String, Sendable { case added, removed, modified }
        public var path: [UInt8]
        public var kind: Kind
    }

    /// What changed from `old` to `new` (both of the same folder or not), in path order.
    public func diff(from old: (folder: Int64, snapshot: Snapshot), to new: (folder: Int64, snapshot: Snapshot)) throws -> [Change] {
        var before: [[UInt8]: FileVersion] = [:]
        try catalog.forEachEntry(folder: old.folder, asOf: old.snapshot.sequence) { before[$0.path] = $0 }
        var changes: [Change] = []
        try catalog.forEachEntry(folder: new.folder, asOf: new.snapshot.sequence) { entry in
            if let earlier = before.removeValue(forKey: entry.path) {
                if earlier.differs(from: entry) { changes.append(Change(path: entry.path, kind: .modified)) }
            } else {
                changes.append(Change(path: entry.path, kind: .added))
            }
        }
        changes += before.keys.map { Change(path: $0, kind: .removed) }
        return changes.sorted { $0.path.lexicographicallyPrecedes($1.path) }
    }

    /// Sizes and counts of the whole vault.
    public struct Statistics: Sendable {
        public var snapshots = 0
        public var versions: Int64 = 0
        public var blocks: Int64 = 0
        public var packs: Int64 = 0
        /// Bytes of all files of all snapshots, as a restore of each would write them.
        public var logicalBytes: Int64 = 0
        /// Bytes of distinct data blocks (before compression).
        public var uniqueBytes: Int64 = 0
        /// Bytes of data blocks as stored (after compression).
        public var storedDataBytes: Int64 = 0
        /// Bytes of all pack files on disk, metadata included.
        public var storedBytes: Int64 = 0
        /// zstd dictionaries the vault holds (loaded), and their bytes.
        public var dictionaries = 0
        public var dictionaryBytes = 0
        /// Data blocks compressed with a dictionary.
        public var dictionaryBlocks: Int64 = 0
        public var dedupRatio: Double { uniqueBytes == 0 ? 1 : Double(logicalBytes) / Double(uniqueBytes) }
        public var compressionRatio: Double { storedDataBytes == 0 ? 1 : Double(uniqueBytes) / Double(storedDataBytes) }
    }

    public func statistics() throws -> Statistics {
        var statistics = Statistics()
        let snapshots = try catalog.snapshots()
        statistics.snapshots = snapshots.count
        statistics.logicalBytes = snapshots.reduce(0) { $0 + $1.snapshot.bytes }
        let totals = try catalog.totals()
        statistics.versions = totals.versions
        statistics.blocks = totals.dataBlocks
        statistics.packs = totals.packs
        statistics.uniqueBytes = totals.uniqueDataBytes
        statistics.storedDataBytes = totals.storedDataBytes
        statistics.storedBytes = totals.packBytes
        statistics.dictionaries = dictionaries.all.count
        statistics.dictionaryBytes = dictionaries.all.reduce(0) { $0 + $1.bytes.count }
        statistics.dictionaryBlocks = totals.dictionaryBlocks
        return statistics
    }
}

extension Vault {
    /// For each block, the file versions that use it, as "path (version #N; snapshots a, b)".
    /// Single-block files are found by index; longer files by scanning the block lists once.
    public func versionsUsing(_ blocks: Set<BlockID>) throws -> [BlockID: [String]] {
        guard !blocks.isEmpty else { return [:] }
        let listsUsing = try catalog.blockLists(containing: blocks)   // block list hash → damaged blocks in it
        let snapshots = try catalog.snapshots()
        var result: [BlockID: [String]] = [:]
        var wanted: [(BlockID, [BlockID])] = blocks.map { ($0, [$0]) }
        wanted += listsUsing.map { ($0.key, $0.value) }
        for (hash, damaged) in wanted {
            for (folder, version, replacement) in try catalog.versions(withContent: hash) {
                let replacedAt = replacement ?? Int64.max
                if version.blockCount == 1 && hash != damaged.first { continue }
                // The snapshots whose state holds this version: taken after it, before its replacement.
                let covering = snapshots.filter { $0.folder == folder && $0.snapshot.sequence >= version.sequence
                                                  && $0.snapshot.sequence < replacedAt }
                    .prefix(3).map { String($0.snapshot.id.prefix(8)) }
                let text = "\(version.displayPath) (version #\(version.sequence)\(covering.isEmpty ? "" : "; snapshots \(covering.joined(separator: ", "))"))"
                for id in damaged { result[id, default: []].append(text) }
            }
        }
        return result
    }
}
