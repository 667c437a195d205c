#if canImport(Glibc)
import Glibc
#endif

extension PackStorage {
    /// Reads and checks a pack's footer (through its trailer and checksum), without reading its blocks.
    func sealedPack(named name: String) throws(StoreError) -> SealedPack {
        let descriptor = try openForReading(name: name)
        defer { close(descriptor) }
        let path = location(of: name)
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .system("cannot stat", path) }
        let size = Int(status.st_size)
        let (kind, entries) = try PackFormat.parseFooter(fileSize: size, name: name) { (offset, count) throws(StoreError) -> [UInt8] in
            var bytes = [UInt8](repeating: 0, count: count)
            var failure: StoreError?
            bytes.withUnsafeMutableBytes { buffer in
                do throws(StoreError) { try FileSystem.preadAll(descriptor, buffer, offset: Int64(offset), path: path) } catch { failure = error }
            }
            if let failure { throw failure }
            return bytes
        }
        return SealedPack(name: name, kind: kind, size: size, entries: entries)
    }
}
