import Chunker
#if canImport(Glibc)
import Glibc
#endif

/// A vault on disk:
///
///     VAULT/config.json    format, ids, chunker, compression
///     VAULT/catalog.db     the SQLite catalog (WAL)
///     VAULT/packs/ab/*.pack
///     VAULT/locks/         advisory locks
public final class Vault {
    public let path: String
    public let configuration: VaultConfiguration
    public let catalog: Catalog
    /// Where the packs are (`LocalBlobStorage` of the vault's directory, or a decorator of it).
    public let storage: any BlobStorage
    /// The zstd dictionaries the catalog records, loaded at open; a backup adds the one it trains.
    public let dictionaries: DictionarySet

    public var catalogPath: String { Vault.catalogPath(path) }
    public var locksDirectory: String { "\(path)/locks" }

    static func catalogPath(_ path: String) -> String { "\(path)/catalog.db" }

    /// Creates a new vault at `path` (which must not exist or be an empty directory).
    @discardableResult
    public static func create(at path: String, chunker: ChunkerParameters = .fastCDC, receiveOnly: Bool = false) throws(StoreError) -> VaultConfiguration {
        if FileSystem.exists(path) {
            let entries = try FileSystem.listDirectory(Array(path.utf8))
            guard entries.isEmpty else { throw .invalidArgument("\(path) already exists and is not empty; choose a new path for the vault") }
        }
        try FileSystem.makeDirectories(path)
        for directory in ["packs", "locks"] {
            if mkdir("\(path)/\(directory)", 0o755) != 0 && errno != EEXIST { throw .system("cannot create directory", "\(path)/\(directory)") }
        }
        let configuration = VaultConfiguration.make(chunker: chunker, receiveOnly: receiveOnly)
        try Catalog(path: catalogPath(path), vaultID: configuration.vaultID)
            .registerDevice(deviceID: configuration.deviceID, shortID: configuration.shortDeviceID)
        // config.json is written last: its presence is what makes the directory a vault.
        try FileSystem.writeFileAtomically("\(path)/config.json", try configuration.encoded())
        try FileSystem.fsyncDirectory(path)
        return configuration
    }

    /// Whether the vault was opened only to read (see `init(path:readOnly:)`).
    public let readOnly: Bool

    /// Opens an existing vault. `readOnly`: for commands that only read (restore, ls, check…): the
    /// catalog is opened without writing anything, so a vault on a read-only mount or a full disk
    /// can still be read; such a vault must not be written through.
    public convenience init(path: String, readOnly: Bool = false) throws(StoreError) {
        try self.init(path: path, readOnly: readOnly, storage: LocalBlobStorage(root: path))
    }

    /// Opens an existing vault whose packs are in `storage` (tests wrap the local storage in a
    /// `FaultInjectingStorage`).
    init(path: String, readOnly: Bool, storage: any BlobStorage) throws(StoreError) {
        self.path = path
        self.readOnly = readOnly
        configuration = try Vault.readConfiguration(at: path)
        guard FileSystem.exists(Vault.catalogPath(path)) else {
            throw .invalidVault("\(Vault.catalogPath(path)) is missing; run 'blockvault repair' to rebuild it from the packs")
        }
        catalog = try Catalog(path: Vault.catalogPath(path), readOnly: readOnly, vaultID: configuration.vaultID)
        self.storage = storage
        dictionaries = try Vault.loadDictionaries(catalog: catalog, storage: storage)
    }

    /// Reads `VAULT/config.json` without opening the catalog (which `repair` may have to rebuild).
    /// Raises the vault's format (config.json, written atomically) to at least `format`, so that
    /// builds that cannot read what it is about to hold refuse it from then on.
    static func raiseFormat(at path: String, to format: Int) throws(StoreError) {
        var configuration = try readConfiguration(at: path)
        guard configuration.format < format else { return }
        configuration.format = format
        try FileSystem.writeFileAtomically("\(path)/config.json", try configuration.encoded())
    }

    public static func readConfiguration(at path: String) throws(StoreError) -> VaultConfiguration {
        let configPath = "\(path)/config.json"
        guard FileSystem.exists(configPath) else {
            throw .invalidVault(FileSystem.exists(path) ? "\(path) is not a blockvault vault (no config.json)"
                                                         : "vault \(path) does not exist; create it with 'blockvault init --repo \(path)'")
        }
        return try VaultConfiguration.decode(try FileSystem.readFile(configPath), path: configPath)
    }

    /// Takes the vault's write lock (backup, forget, prune, repair), waiting up to `waitSeconds`.
    public func lockForWriting(waitSeconds: Double = 0) throws(StoreError) -> VaultLock {
        try VaultLock(directory: locksDirectory, waitSeconds: waitSeconds)
    }

    /// A shared lock held while reading packs (restore, check): prune waits for it before deleting.
    /// Where the lock cannot be taken for want of write access (a read-only mount), nothing can
    /// delete packs either, and the read goes on without it.
    public func lockForReading(waitSeconds: Double = 60) throws(StoreError) -> VaultLock {
        try VaultLock(directory: locksDirectory, name: "read", exclusive: false, waitSeconds: waitSeconds, optional: true)
    }

    /// The exclusive side of `lockForReading`: no reader is using any pack while it is held.
    public func lockOutReaders(waitSeconds: Double = 0) throws(StoreError) -> VaultLock {
        try VaultLock(directory: locksDirectory, name: "read", exclusive: true, waitSeconds: waitSeconds)
    }
}
