#if canImport(Glibc)
import Glibc
#endif

extension Vault {
    /// Cleans up after a writer that was killed: deletes temporary pack files (never referenced by
    /// anything) and records packs that were sealed but not yet in the catalog, so their blocks are
    /// reused instead of stored again. Call only while holding the write lock. Returns the number of
    /// packs adopted.
    @discardableResult
    func recoverInterruptedWrites() throws -> Int {
        try storage.removeTemporaryFiles()
        let known = try Set(catalog.packNames())
        var adopted = 0
        for name in try storage.list() where !known.contains(name) {
            guard let pack = try? readSealedPack(name: name) else { continue }   // damaged: left for check/prune
            try catalog.transaction { try catalog.insertPack(pack) }
            adopted += 1
        }
        return adopted
    }

    /// Reads and checks a pack's footer.
    func readSealedPack(name: String) throws(StoreError) -> SealedPack {
        let descriptor = try storage.openForReading(name: name)
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .system("cannot stat", storage.location(of: name)) }
        let size = Int(status.st_size)
        let location = storage.location(of: name)
        let (kind, entries) = try PackFormat.parseFooter(fileSize: size, name: name) { (offset, count) throws(StoreError) -> [UInt8] in
            var bytes = [UInt8](repeating: 0, count: count)
            var failure: StoreError?
            bytes.withUnsafeMutableBytes { buffer in
                do throws(StoreError) { try FileSystem.preadAll(descriptor, buffer, offset: Int64(offset), path: location) } catch { failure = error }
            }
            if let failure { throw failure }
            return bytes
        }
        return SealedPack(name: name, kind: kind, size: size, entries: entries)
    }
}
