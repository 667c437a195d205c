/// An upload of a `FaultInjectingStorage`: its appends and commit go through the storage's
/// faults first. An injected commit failure aborts the wrapped upload, as a failed commit must
/// (nothing is left under the key). Owned by one party at a time, as every upload.
final class FaultInjectingUpload: BlobUpload, @unchecked Sendable {
    // @unchecked: an upload has one owner at a time (BlobUpload's contract); `base` is one too.
    private let base: any BlobUpload
    private let key: String
    private let storage: FaultInjectingStorage

    init(_ base: any BlobUpload, key: String, storage: FaultInjectingStorage) {
        self.base = base
        self.key = key
        self.storage = storage
    }

    var size: Int { base.size }

    func append(_ bytes: UnsafeRawBufferPointer) throws(StoreError) {
        _ = try storage.inject(.append, key)
        try base.append(bytes)
    }

    func commit() throws(StoreError) {
        do throws(StoreError) {
            _ = try storage.inject(.commit, key)
        } catch {
            base.abort()
            throw error
        }
        try base.commit()
    }

    func abort() { base.abort() }
}
