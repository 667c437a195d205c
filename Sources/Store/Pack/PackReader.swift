import Chunker
#if canImport(Glibc)
import Glibc
#endif

/// Where the catalog says a block is.
public struct BlockLocation: Sendable, Hashable {
    public var pack: String
    public var entry: PackEntry
}

/// Reads blocks out of packs, decompressing and re-hashing each one: a block whose bytes do not hash
/// to its ID is an error, never returned. Not thread-safe: one per worker.
public final class PackReader {
    private let storage: any PackStorage
    private let decompressor = ZstdDecompressor()
    private let hasher = SHA256Hasher()
    private var descriptors: [String: Int32] = [:]
    private var storedBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    private var plainBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)

    public init(storage: any PackStorage) { self.storage = storage }

    deinit {
        descriptors.values.forEach { close($0) }
        storedBuffer.deallocate()
        plainBuffer.deallocate()
    }

    private func descriptor(for pack: String) throws(StoreError) -> Int32 {
        if let open = descriptors[pack] { return open }
        if descriptors.count >= 64 { descriptors.values.forEach { close($0) }; descriptors.removeAll() }
        let opened = try storage.openForReading(name: pack)
        descriptors[pack] = opened
        return opened
    }

    private static func grow(_ buffer: inout UnsafeMutableRawBufferPointer, to count: Int) {
        guard buffer.count < count else { return }
        buffer.deallocate()
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
    }

    /// Reads one block as stored (compressed or raw) after verifying that it decodes to bytes
    /// matching its hash. The returned bytes are valid until the next call.
    public func readStored(_ location: BlockLocation) throws(StoreError) -> UnsafeRawBufferPointer {
        _ = try read(location)
        return UnsafeRawBufferPointer(rebasing: storedBuffer[0..<location.entry.storedLength])
    }

    /// Reads, decompresses and verifies one block. The returned bytes are valid until the next call.
    public func read(_ location: BlockLocation) throws(StoreError) -> UnsafeRawBufferPointer {
        let entry = location.entry
        let path = storage.location(of: location.pack)
        PackReader.grow(&storedBuffer, to: entry.storedLength)
        let stored = UnsafeMutableRawBufferPointer(rebasing: storedBuffer[0..<entry.storedLength])
        try FileSystem.preadAll(try descriptor(for: location.pack), stored, offset: Int64(entry.offset), path: path)
        let plain: UnsafeRawBufferPointer
        switch entry.encoding {
        case .raw:
            plain = UnsafeRawBufferPointer(stored)
        case .zstd:
            PackReader.grow(&plainBuffer, to: entry.rawLength)
            let target = UnsafeMutableRawBufferPointer(rebasing: plainBuffer[0..<entry.rawLength])
            guard decompressor.decompress(UnsafeRawBufferPointer(stored), into: target) else {
                throw .corrupt("block \(entry.id) in pack \(location.pack) does not decompress")
            }
            plain = UnsafeRawBufferPointer(target)
        }
        guard hasher.hash(plain) == entry.id else {
            throw .corrupt("block \(entry.id) in pack \(location.pack) does not match its hash")
        }
        return plain
    }
}
