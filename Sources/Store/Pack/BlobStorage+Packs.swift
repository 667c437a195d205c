/// Packs as objects of a `BlobStorage`, under the keys `PackKey` gives them.
extension BlobStorage {
    /// The name of every pack present (no upload in progress), in no particular order.
    func packNames() throws(StoreError) -> [String] {
        try list(prefix: PackKey.prefix).compactMap(PackKey.name(of:))
    }

    /// Starts pack `name`: nothing exists under that name until the upload's `commit`.
    func uploadPack(named name: String) throws(StoreError) -> any BlobUpload {
        try upload(PackKey.key(for: name))
    }

    /// Reads exactly `buffer.count` bytes of pack `name` from `offset`; throws `.corrupt` where the
    /// pack is shorter, `.io` where it cannot be read.
    func readPack(named name: String, at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(StoreError) {
        do throws(StoreError) {
            try read(PackKey.key(for: name), at: offset, into: buffer)
        } catch .io(let path, "cannot open", let code) {
            throw .io(path: path, operation: "cannot open pack", errno: code)
        }
    }

    /// The size of pack `name` in bytes.
    func packSize(named name: String) throws(StoreError) -> Int {
        do throws(StoreError) {
            return try size(of: PackKey.key(for: name))
        } catch .io(let path, "cannot open", let code) {
            throw .io(path: path, operation: "cannot open pack", errno: code)
        }
    }

    /// Deletes pack `name` (idempotent: a missing pack is not an error); `syncPackDeletions` makes
    /// the deletions durable.
    func deletePack(named name: String) throws(StoreError) {
        do throws(StoreError) {
            try delete(PackKey.key(for: name))
        } catch .io(let path, _, let code) {
            throw .io(path: path, operation: "cannot delete pack", errno: code)
        }
    }

    /// Makes the packs deleted so far gone for good.
    func syncPackDeletions() throws(StoreError) { try syncDeletions(prefix: PackKey.prefix) }

    /// Where pack `name` is, for messages.
    func packLocation(_ name: String) -> String { location(of: PackKey.key(for: name)) }

    /// Reads and checks a pack's footer (through its trailer and checksum), without reading its blocks.
    func sealedPack(named name: String) throws(StoreError) -> SealedPack {
        let size = try packSize(named: name)
        let (kind, entries) = try PackFormat.parseFooter(fileSize: size, name: name) { (offset, count) throws(StoreError) -> [UInt8] in
            var bytes = [UInt8](repeating: 0, count: count)
            var failure: StoreError?
            bytes.withUnsafeMutableBytes { buffer in
                do throws(StoreError) { try readPack(named: name, at: offset, into: buffer) } catch { failure = error }
            }
            if let failure { throw failure }
            return bytes
        }
        return SealedPack(name: name, kind: kind, size: size, entries: entries)
    }
}
