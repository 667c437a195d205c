#if canImport(Glibc)
import Glibc
#endif

/// Where packs live. Local directories today; the seam exists so that other backends, and a
/// fault-injecting wrapper in tests, can stand in.
public protocol PackStorage: Sendable {
    /// Starts a new pack called `name`, written piece by piece: nothing exists under that name until
    /// the returned file's `commit` (see `PackFile`).
    func create(name: String) throws(StoreError) -> any PackFile
    /// Opens a pack for reading; the caller closes the descriptor.
    func openForReading(name: String) throws(StoreError) -> Int32
    /// Every pack name present.
    func list() throws(StoreError) -> [String]
    /// Deletes a pack (idempotent: a missing pack is not an error).
    func remove(name: String) throws(StoreError)
    /// A human-readable location, for messages.
    func location(of name: String) -> String
}

/// Packs in `VAULT/packs/ab/<name>.pack`, where `ab` is the name's first two characters.
public struct LocalPackStorage: PackStorage {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public func location(of name: String) -> String { "\(directory)/\(name.prefix(2))/\(name).pack" }

    public func create(name: String) throws(StoreError) -> any PackFile {
        let shard = "\(directory)/\(name.prefix(2))"
        if mkdir(shard, 0o755) == 0 {
            try FileSystem.fsyncDirectory(directory)
        } else if errno != EEXIST {
            throw .system("cannot create directory", shard)
        }
        return try LocalPackFile(temporary: "\(shard)/.\(name).pack.tmp", final: location(of: name))
    }

    public func openForReading(name: String) throws(StoreError) -> Int32 {
        let path = location(of: name)
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .system("cannot open pack", path) }
        return descriptor
    }

    public func list() throws(StoreError) -> [String] {
        var names: [String] = []
        try forEachFile { _, file in
            if file.hasSuffix(".pack") && !file.hasPrefix(".") { names.append(String(file.dropLast(5))) }
        }
        return names
    }

    /// Deletes temporary files of packs whose writing never finished. Only safe while no writer runs
    /// (under the vault's write lock).
    func removeTemporaryFiles() throws(StoreError) {
        try forEachFile { shard, file in
            if file.hasPrefix(".") && file.hasSuffix(".pack.tmp") { unlink(shard + "/" + file) }
        }
    }

    /// Calls `body` with (shard directory, file name) for every file in every shard.
    private func forEachFile(_ body: (String, String) -> Void) throws(StoreError) {
        for shard in try FileSystem.listDirectory(Array(directory.utf8)) where shard.count == 2 {
            let shardPath = directory + "/" + String(decoding: shard, as: UTF8.self)
            for file in try FileSystem.listDirectory(Array(shardPath.utf8)) {
                body(shardPath, String(decoding: file, as: UTF8.self))
            }
        }
    }

    public func remove(name: String) throws(StoreError) {
        let path = location(of: name)
        if unlink(path) != 0 && errno != ENOENT { throw .system("cannot delete pack", path) }
    }
}

/// A random name for a new pack: 32 lower-case hex digits.
func randomHex(byteCount: Int) -> String {
    var generator = SystemRandomNumberGenerator()
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    for _ in 0..<byteCount {
        let byte = UInt8.random(in: 0...255, using: &generator)
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 15)])
    }
    return String(decoding: text, as: UTF8.self)
}
