#if canImport(Glibc)
import Glibc
#endif

/// Where packs live. Local directories today; the seam exists so that other backends, and a
/// fault-injecting wrapper in tests, can stand in.
public protocol PackStorage: Sendable {
    /// Stores a sealed pack durably and atomically: after it returns, the pack survives a crash and
    /// reads back exactly as given; if it throws, no pack of that name exists.
    func write(name: String, contents: UnsafeRawBufferPointer) throws(StoreError)
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

    public func write(name: String, contents: UnsafeRawBufferPointer) throws(StoreError) {
        let shard = "\(directory)/\(name.prefix(2))"
        if mkdir(shard, 0o755) == 0 {
            try FileSystem.fsyncDirectory(directory)
        } else if errno != EEXIST {
            throw .system("cannot create directory", shard)
        }
        let final = location(of: name)
        let temporary = "\(shard)/.\(name).pack.tmp"
        let descriptor = open(temporary, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o444)
        guard descriptor >= 0 else { throw .system("cannot create", temporary) }
        do {
            try FileSystem.writeAll(descriptor, contents, path: temporary)
            try FileSystem.fsyncOrThrow(descriptor, path: temporary)
            try verify(descriptor, against: contents, path: temporary)
        } catch {
            close(descriptor)
            unlink(temporary)
            throw error
        }
        close(descriptor)
        guard rename(temporary, final) == 0 else {
            unlink(temporary)
            throw .system("cannot rename pack into", final)
        }
        try FileSystem.fsyncDirectory(shard)
    }

    /// Reads the written file back and compares it with what was meant to be written.
    private func verify(_ descriptor: Int32, against contents: UnsafeRawBufferPointer, path: String) throws(StoreError) {
        let piece = 1 << 20
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: piece, alignment: 16)
        defer { scratch.deallocate() }
        var offset = 0
        while offset < contents.count {
            let count = min(piece, contents.count - offset)
            let target = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<count])
            try FileSystem.preadAll(descriptor, target, offset: Int64(offset), path: path)
            guard memcmp(target.baseAddress!, contents.baseAddress! + offset, count) == 0 else {
                throw .corrupt("\(path) reads back differently from what was written")
            }
            offset += count
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0, Int(status.st_size) == contents.count else {
            throw .corrupt("\(path) has the wrong size after writing")
        }
    }

    public func openForReading(name: String) throws(StoreError) -> Int32 {
        let path = location(of: name)
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .system("cannot open pack", path) }
        return descriptor
    }

    public func list() throws(StoreError) -> [String] {
        var names: [String] = []
        for shard in try FileSystem.listDirectory(Array(directory.utf8)) where shard.count == 2 {
            let shardPath = directory + "/" + String(decoding: shard, as: UTF8.self)
            for file in try FileSystem.listDirectory(Array(shardPath.utf8)) {
                let text = String(decoding: file, as: UTF8.self)
                if text.hasSuffix(".pack") && !text.hasPrefix(".") { names.append(String(text.dropLast(5))) }
            }
        }
        return names
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
