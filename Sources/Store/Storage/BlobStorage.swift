/// Where a vault keeps its objects (packs today): a flat namespace of keys such as
/// `packs/ab/NAME.pack`, each naming an immutable blob of bytes. The local directory is one
/// implementation; an object store can take the keys verbatim. Decorators (a fault-injecting one
/// for tests; caching and retrying ones later) wrap any implementation and are themselves one.
///
/// Contracts every implementation keeps (`StorageConformanceTests` runs them against each):
/// - An object appears whole or not at all: `put`, an upload's `commit` and `createIfAbsent` make it
///   visible at once, durable (it survives a crash) before they return; nothing else is visible.
/// - Reads never return silently short data: `read(_:at:into:)` (the extension) throws
///   `StoreError.corrupt` for a range past the end of the object.
/// - Errors: `StoreError.io` for a failure of the storage itself (the object may be fine; a caller
///   never takes it for damage), `StoreError.corrupt` for an object that is shorter than asked.
/// - No file descriptor or other handle leaves an implementation; every method is thread-safe.
public protocol BlobStorage: Sendable {
    /// Stores `bytes` under `key`, replacing any object of that name, durably and atomically
    /// (readers see the old object or the new one, never a mix).
    func put(_ key: String, _ bytes: UnsafeRawBufferPointer) throws(StoreError)

    /// Stores `bytes` under `key` only if no object of that name exists, atomically with respect to
    /// every other writer of any process: of two racing callers exactly one gets `true`. Durable
    /// when it returns `true`; `false` changes nothing. A lock can be built on it (the object is the
    /// lock, its bytes say who holds it). Locally: `link(2)` of a synced temporary file, which
    /// fails with `EEXIST` where the name is taken.
    func createIfAbsent(_ key: String, _ bytes: UnsafeRawBufferPointer) throws(StoreError) -> Bool

    /// Starts an object under `key` written piece by piece (packs): nothing is visible under `key`
    /// until the upload's `commit` (see `BlobUpload`).
    func upload(_ key: String) throws(StoreError) -> any BlobUpload

    /// Reads up to `buffer.count` bytes of `key` from `offset` into `buffer` and returns how many it
    /// read: fewer only where the object ends. Callers use `read(_:at:into:)`, which refuses a short
    /// read. Throws `.io` when the object cannot be read (a missing object included).
    func readRange(_ key: String, at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(StoreError) -> Int

    /// The size of object `key` in bytes (stat, HEAD). Throws `.io` when it does not exist.
    func size(of key: String) throws(StoreError) -> Int

    /// Every key that starts with `prefix`, in no particular order; never an upload in progress.
    func list(prefix: String) throws(StoreError) -> [String]

    /// Deletes `key`. Idempotent: a missing object is not an error. Deletions are made durable by
    /// `syncDeletions`, so that a batch of them costs one sync.
    func delete(_ key: String) throws(StoreError)

    /// Makes the deletions under `prefix` done so far durable (locally: syncs the directories).
    func syncDeletions(prefix: String) throws(StoreError)

    /// Removes what uploads under `prefix` that never committed left behind (a writer killed
    /// mid-upload). Only safe while no upload is in progress (the vault's write lock).
    func removeIncompleteUploads(prefix: String) throws(StoreError)

    /// A human-readable location of `key` (a path, a URL), for messages.
    func location(of key: String) -> String
}

extension BlobStorage {
    /// Reads exactly `buffer.count` bytes of `key` from `offset`. Throws `.corrupt` naming the
    /// object when it ends before the range does, `.io` when it cannot be read.
    public func read(_ key: String, at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(StoreError) {
        var done = 0
        while done < buffer.count {
            let count = try readRange(key, at: offset + done, into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
            // A backend may return fewer bytes than asked before the end; only nothing at all is the end.
            if count <= 0 { throw .corrupt("\(location(of: key)) is shorter than expected (truncated?)") }
            done += count
        }
    }

    /// The bytes `range` of `key`, in a new array (for small reads off the hot path: footers,
    /// headers). Throws as `read(_:at:into:)`.
    public func read(_ key: String, range: Range<Int>) throws(StoreError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: range.count)
        var failure: StoreError?
        bytes.withUnsafeMutableBytes { buffer in
            do throws(StoreError) { try read(key, at: range.lowerBound, into: buffer) } catch { failure = error }
        }
        if let failure { throw failure }
        return bytes
    }

    /// The whole object `key`.
    public func read(_ key: String) throws(StoreError) -> [UInt8] {
        try read(key, range: 0..<size(of: key))
    }

    /// `put` for bytes in an array.
    public func put(_ key: String, bytes: [UInt8]) throws(StoreError) {
        var failure: StoreError?
        bytes.withUnsafeBytes { buffer in
            do throws(StoreError) { try put(key, buffer) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// `createIfAbsent` for bytes in an array.
    public func createIfAbsent(_ key: String, bytes: [UInt8]) throws(StoreError) -> Bool {
        var result: Result<Bool, StoreError> = .success(false)
        bytes.withUnsafeBytes { buffer in
            do throws(StoreError) { result = .success(try createIfAbsent(key, buffer)) } catch { result = .failure(error) }
        }
        return try result.get()
    }
}
