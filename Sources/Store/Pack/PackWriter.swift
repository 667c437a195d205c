import Chunker
import Dispatch
import Synchronization

/// A pack that has been written, verified and renamed into place: only now may the catalog refer
/// to its blocks.
public struct SealedPack: Sendable {
    public let name: String
    public let kind: PackFormat.Kind
    public let size: Int
    public let entries: [PackEntry]
}

/// Collects stored blocks into packs of about `targetSize` bytes, streamed to storage as they fill,
/// and seals each (footer, then `BlobUpload.commit`). Thread-safe: workers append concurrently under a
/// lock (which covers the pack file's occasional 1 MiB write); a full pack is taken out under the
/// lock and sealed outside it, so other workers keep appending to the next one.
///
/// With `sealInBackground` (a backup's data packs), full packs are sealed on a queue of their own,
/// so no worker waits for a pack's fsync (0.03–0.15 s each: a compressor that sealed its own packs
/// left a core idle while it waited). At most `sealsInFlight` full packs wait to be sealed; a
/// worker that fills another waits for room. The owner must call `flush()` or `waitForSeals()`
/// before it releases the vault's lock.
public final class PackWriter: Sendable {
    static let sealsInFlight = 2
    public let kind: PackFormat.Kind
    private let storage: any BlobStorage
    private let targetSize: Int
    private let onSealed: @Sendable (SealedPack) throws -> Void

    private struct OpenPack {
        var name = ""
        /// Created with the first block, so a writer that stores nothing creates no file.
        var file: (any BlobUpload)?
        var entries: [PackEntry] = []
    }
    private let open: AdaptiveMutex<OpenPack>
    private let background: Bool
    private let sealing = DispatchQueue(label: "blockvault.pack-sealing")
    private let sealed = DispatchGroup()
    private let room = DispatchSemaphore(value: PackWriter.sealsInFlight)
    /// The first failure of a seal on the sealing queue, thrown by the next `append` or `flush`.
    private let sealFailure = Mutex<StoreError?>(nil)

    /// `onSealed` is called once per sealed pack, on the thread that sealed it (in the background:
    /// the sealing queue), before `flush` returns. Made only by `VaultWriter`, which owns the order
    /// in which sealed packs are recorded.
    init(kind: PackFormat.Kind, storage: any BlobStorage, targetSize: Int = PackFormat.targetSize,
         sealInBackground: Bool = false, onSealed: @escaping @Sendable (SealedPack) throws -> Void) {
        background = sealInBackground
        self.kind = kind
        self.storage = storage
        self.targetSize = targetSize
        self.onSealed = onSealed
        open = AdaptiveMutex(OpenPack())
    }

    /// Adds one block (already compressed, or raw) to the open pack, sealing it when full. If the
    /// pack's file cannot be written, that pack is discarded (none of its blocks was recorded yet)
    /// and the error thrown.
    public func append(id: BlockID, stored: UnsafeRawBufferPointer, rawLength: Int, encoding: PackFormat.Encoding) throws(StoreError) {
        try append(stored) { offset in [PackEntry(id: id, offset: offset, storedLength: stored.count, rawLength: rawLength, encoding: encoding)] }
    }

    /// Adds one zstd frame that holds several blocks: each gets an entry (`.zstdShared`) that
    /// locates the frame and where in its plaintext the block starts (`skip`).
    public func appendFrame(stored: UnsafeRawBufferPointer, blocks: [(id: BlockID, rawLength: Int, skip: Int)]) throws(StoreError) {
        try append(stored) { offset in
            blocks.map { PackEntry(id: $0.id, offset: offset, storedLength: stored.count, rawLength: $0.rawLength, encoding: .zstdShared, skip: $0.skip) }
        }
    }

    /// Adds one zstd frame of several blocks that lie one after another in its plaintext.
    public func appendFrame(stored: UnsafeRawBufferPointer, consecutive blocks: [(id: BlockID, rawLength: Int)]) throws(StoreError) {
        var skip = 0
        try appendFrame(stored: stored, blocks: blocks.map { block in
            defer { skip += block.rawLength }
            return (block.id, block.rawLength, skip)
        })
    }

    /// Appends `stored` with the entries `entries(offset)` makes for it.
    private func append(_ stored: UnsafeRawBufferPointer, entries: (Int) -> [PackEntry]) throws(StoreError) {
        if let failure = sealFailure.withLock({ $0 }) { throw failure }
        let full: OpenPack? = try open.withLock { (pack: inout OpenPack) throws(StoreError) -> OpenPack? in
            do throws(StoreError) {
                if pack.file == nil {
                    pack.name = randomHex(byteCount: 16)
                    let file = try storage.uploadPack(named: pack.name)
                    pack.file = file
                    try file.append(bytes: PackFormat.header)
                }
                let file = pack.file!
                pack.entries.append(contentsOf: entries(file.size))
                try file.append(stored)
                guard file.size >= targetSize else { return nil }
            } catch {
                pack.file?.abort()
                pack = OpenPack()
                throw error
            }
            defer { pack = OpenPack() }
            return pack
        }
        if let full {
            if background { sealInBackground(full) } else { try seal(full) }
        }
    }

    /// Seals the open pack if it holds anything, waits until every pack taken out is sealed, and
    /// throws the first failure of any seal.
    public func flush() throws(StoreError) {
        let taken = open.withLock { pack in
            defer { pack = OpenPack() }
            return pack
        }
        if taken.file != nil { try seal(taken) }
        try waitForSeals()
    }

    /// For an owner that failed: discards the open pack (its temporary file goes now, not when
    /// the next writer cleans up) and waits for the seals in flight; their failures are not thrown.
    public func abandon() {
        let taken = open.withLock { pack in
            defer { pack = OpenPack() }
            return pack
        }
        taken.file?.abort()
        sealed.wait()
    }

    /// Waits until every pack taken out for sealing in the background is sealed (or discarded),
    /// and throws the first failure of any.
    public func waitForSeals() throws(StoreError) {
        sealed.wait()
        if let failure = sealFailure.withLock({ $0 }) { throw failure }
    }

    private func sealInBackground(_ pack: OpenPack) {
        room.wait()
        sealed.enter()
        sealing.async { [self] in
            defer {
                room.signal()
                sealed.leave()
            }
            if sealFailure.withLock({ $0 != nil }) {
                pack.file!.abort()
                return
            }
            do throws(StoreError) {
                try seal(pack)
            } catch {
                sealFailure.withLock { if $0 == nil { $0 = error } }
            }
        }
    }

    private func seal(_ pack: OpenPack) throws(StoreError) {
        let file = pack.file!
        do throws(StoreError) {
            try file.append(bytes: PackFormat.footer(kind: kind, entries: pack.entries))
            try file.commit()
        } catch {
            file.abort()
            throw error
        }
        do {
            try onSealed(SealedPack(name: pack.name, kind: kind, size: file.size, entries: pack.entries))
        } catch let error as StoreError {
            throw error
        } catch {
            throw .catalog("recording pack \(pack.name) failed: \(error)")
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
