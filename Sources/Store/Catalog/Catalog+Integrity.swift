#if canImport(Glibc)
import Glibc
#endif

extension Catalog {
    /// What SQLite's own check of the catalog file found.
    public enum Integrity: Sendable, Equatable {
        /// `PRAGMA integrity_check` answered "ok".
        case intact
        /// The file is damaged: the check's lines (what `repair` rebuilds the catalog for).
        case damaged([String])
        /// Pages could not be read: the disk's problem (the message says so), which a rebuild
        /// would not fix.
        case unreadable(String)
    }

    /// Runs `PRAGMA integrity_check` over the whole file. Read-only; works on a catalog opened
    /// read-only. Damage the check finds is answered as `.damaged` or `.unreadable`, not thrown;
    /// throws only when the check itself cannot run.
    public func integrity() throws(StoreError) -> Integrity {
        let check = try database.prepare("PRAGMA integrity_check")
        var lines: [String] = []
        while try check.step() { lines.append(check.text(0)) }
        if lines == ["ok"] { return .intact }
        if let diskError = database.diskError() { return .unreadable(diskError) }
        return .damaged(lines)
    }

    /// The error for a catalog (or WAL) of vault `found` met where vault `expected` was opened.
    static func foreignVault(_ found: String, expected: String, path: String) -> StoreError {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return .invalidVault("\(name) (or its WAL) belongs to vault \(found), not this vault \(expected); move \(name)-wal/-shm aside or run 'blockvault repair --apply' to rebuild from the packs")
    }

    /// The vault ids that the write-ahead log of the catalog at `path` records (settings_text rows
    /// `vault_id`, found in the page images it holds); empty when there is no WAL. Every write
    /// transaction writes that page into the WAL (`stampVault`). Reads at most the first 256 MiB.
    static func vaultIDs(inWALOf path: String) -> Set<String> {
        let descriptor = open(path + "-wal", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return [] }
        defer { Glibc.close(descriptor) }   // not `Catalog.close`
        let key = Array(vaultIDKey.utf8)
        let idLength = 32
        let chunk = 4 << 20
        var found = Set<String>()
        var carry: [UInt8] = []
        var offset = 0
        var buffer = [UInt8](repeating: 0, count: chunk)
        while offset < 256 << 20 {
            let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, chunk, off_t(offset)) }
            guard count > 0 else { break }
            let bytes = carry + buffer[0..<count]
            var index = 0
            while index + key.count + idLength <= bytes.count {
                if bytes[index] == key[0] && Array(bytes[index..<index + key.count]) == key {
                    let value = bytes[(index + key.count)..<(index + key.count + idLength)]
                    if value.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) {
                        found.insert(String(decoding: value, as: UTF8.self))
                    }
                }
                index += 1
            }
            carry = Array(bytes[max(0, bytes.count - key.count - idLength)...])
            offset += count
        }
        return found
    }
}
