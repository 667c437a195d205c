#if canImport(Glibc)
import Glibc
#endif

/// A path (raw bytes, not necessarily UTF-8) as a dictionary key. `[UInt8]`'s own `Hashable` feeds
/// the hasher one byte at a time, which made hashing paths a fifth of a no-change backup's work;
/// this hashes the bytes in one call.
struct PathKey: Hashable {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    static func == (left: PathKey, right: PathKey) -> Bool { left.bytes == right.bytes }
}

extension FileSystem {
    /// Bytewise order of two names or paths (memcmp, then the shorter first): the order backups
    /// walk a directory in and snapshots list paths in.
    static func bytewiseLess(_ left: [UInt8], _ right: [UInt8]) -> Bool {
        let common = min(left.count, right.count)
        let order = left.withUnsafeBytes { l in right.withUnsafeBytes { r in common == 0 ? 0 : memcmp(l.baseAddress!, r.baseAddress!, common) } }
        return order != 0 ? order < 0 : left.count < right.count
    }
}
