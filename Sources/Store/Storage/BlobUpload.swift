/// An object being written piece by piece: its bytes are appended in order, then `commit` makes
/// it durable, verified and visible under its key at once; `abort` (or dropping it uncommitted)
/// removes what was written. Owned by one party at a time; not thread-safe.
public protocol BlobUpload: AnyObject, Sendable {
    /// Bytes appended so far.
    var size: Int { get }
    /// Appends `bytes`; they may be staged in memory until a later append or `commit`.
    func append(_ bytes: UnsafeRawBufferPointer) throws(StoreError)
    /// Makes the object durable and visible: after it returns, it survives a crash and reads back
    /// exactly as appended; if it throws, nothing exists under the key (and the upload is aborted).
    func commit() throws(StoreError)
    /// Removes what was written; idempotent, and a no-op after `commit`.
    func abort()
}

extension BlobUpload {
    /// `append` for bytes in an array.
    public func append(bytes: [UInt8]) throws(StoreError) {
        let failure: StoreError? = bytes.withUnsafeBytes { buffer in
            do throws(StoreError) { try append(buffer) } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }
}
