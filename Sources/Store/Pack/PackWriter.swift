import Chunker
import Synchronization

/// A pack that has been written, verified and renamed into place: only now may the catalog refer
/// to its blocks.
public struct SealedPack: Sendable {
    public let name: String
    public let kind: PackFormat.Kind
    public let size: Int
    public let entries: [PackEntry]
}

/// Collects stored blocks into packs of about `targetSize` bytes and seals each through a
/// `PackStorage`. Thread-safe: workers append concurrently; a full pack is taken out under the lock
/// and sealed outside it, so other workers keep appending to the next one.
public final class PackWriter: Sendable {
    public let kind: PackFormat.Kind
    private let storage: any PackStorage
    private let targetSize: Int
    private let onSealed: @Sendable (SealedPack) throws -> Void

    private struct OpenPack {
        var bytes: [UInt8]
        var entries: [PackEntry] = []

        /// Starts empty: a pack that stays small (metadata, the last pack of a backup) never holds
        /// memory for a full one.
        init() { bytes = PackFormat.header }

        /// Appends a stored block, growing the buffer by doubling but never past a full pack plus one
        /// maximum block, so a full pack is at most one buffer of that size.
        mutating func append(_ stored: UnsafeRawBufferPointer, targetSize: Int) {
            let needed = bytes.count + stored.count
            if needed > bytes.capacity {
                let full = targetSize + PackFormat.maximumBlockSize / 32 + 4096
                bytes.reserveCapacity(max(needed, min(2 * bytes.capacity, full)))
            }
            bytes.append(contentsOf: stored)
        }
    }
    private let open: Mutex<OpenPack>

    /// `onSealed` is called once per sealed pack, on the thread that sealed it, before `append` or
    /// `flush` returns.
    public init(kind: PackFormat.Kind, storage: any PackStorage, targetSize: Int = PackFormat.targetSize,
                onSealed: @escaping @Sendable (SealedPack) throws -> Void) {
        self.kind = kind
        self.storage = storage
        self.targetSize = targetSize
        self.onSealed = onSealed
        open = Mutex(OpenPack())
    }

    /// Adds one block (already compressed, or raw) to the open pack, sealing it when full.
    public func append(id: BlockID, stored: UnsafeRawBufferPointer, rawLength: Int, encoding: PackFormat.Encoding) throws(StoreError) {
        var full: OpenPack? = open.withLock { pack in
            pack.entries.append(PackEntry(id: id, offset: pack.bytes.count, storedLength: stored.count,
                                          rawLength: rawLength, encoding: encoding))
            pack.append(stored, targetSize: targetSize)
            guard pack.bytes.count >= targetSize else { return nil }
            let taken = pack
            pack = OpenPack()
            return taken
        }
        if full != nil { try seal(&full!) }
    }

    /// Seals the open pack if it holds anything.
    public func flush() throws(StoreError) {
        var taken: OpenPack = open.withLock { pack in
            let taken = pack
            pack = OpenPack()
            return taken
        }
        if !taken.entries.isEmpty { try seal(&taken) }
    }

    /// Writes the pack; `inout` so that appending the footer does not copy the pack's bytes.
    private func seal(_ pack: inout OpenPack) throws(StoreError) {
        pack.bytes.append(contentsOf: PackFormat.footer(kind: kind, entries: pack.entries))
        let bytes = pack.bytes
        let name = randomHex(byteCount: 16)
        let failure: StoreError? = bytes.withUnsafeBytes { buffer in
            do throws(StoreError) { try storage.write(name: name, contents: buffer) } catch { return error }
            return nil
        }
        if let failure { throw failure }
        do {
            try onSealed(SealedPack(name: name, kind: kind, size: bytes.count, entries: pack.entries))
        } catch let error as StoreError {
            throw error
        } catch {
            throw .catalog("recording pack \(name) failed: \(error)")
        }
    }
}

/// Collects the packs a `PackWriter` seals, for callers that record them in their own transaction.
public final class SealedPackList: Sendable {
    private let packs = Mutex<[SealedPack]>([])

    public init() {}

    public func append(_ pack: SealedPack) { packs.withLock { $0.append(pack) } }

    /// The packs collected so far; the list starts empty again.
    public func take() -> [SealedPack] { packs.withLock { taken in defer { taken.removeAll() }; return taken } }
}
