/// A fast 64-bit checksum for proving that bytes read back from a file are the bytes that were
/// written to it. Not cryptographic: it guards against storage faults (lost, torn or misdirected
/// writes), not against an adversary, which the blocks' SHA-256 IDs do. It runs at several GB/s, so
/// a pack can be streamed to disk and verified without keeping its bytes in memory.
///
/// Four independent 64-bit lanes each absorb every fourth 8-byte word (a multiply-rotate-multiply
/// round, so the lanes proceed in parallel on one core); the tail is absorbed a byte at a time and
/// the result is mixed with the length so that a truncation changes it.
enum ReadBackChecksum {
    private static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let prime3: UInt64 = 0x1656_67B1_9E37_79F9

    @inline(__always)
    private static func rotate(_ value: UInt64, _ count: UInt64) -> UInt64 {
        (value << count) | (value >> (64 - count))
    }

    @inline(__always)
    private static func round(_ lane: UInt64, _ word: UInt64) -> UInt64 {
        rotate(lane &+ word &* prime2, 31) &* prime1
    }

    static func of(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let count = bytes.count
        guard count > 0, let base = bytes.baseAddress else { return prime3 }
        var a = prime1 &+ prime2, b = prime2, c: UInt64 = 0, d = 0 &- prime1
        var offset = 0
        while offset + 32 <= count {
            a = round(a, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
            b = round(b, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)))
            c = round(c, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self)))
            d = round(d, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset + 24, as: UInt64.self)))
            offset += 32
        }
        var hash = rotate(a, 1) &+ rotate(b, 7) &+ rotate(c, 12) &+ rotate(d, 18)
        while offset < count {
            hash = rotate(hash ^ (UInt64(base.load(fromByteOffset: offset, as: UInt8.self)) &* prime3), 11) &* prime1
            offset += 1
        }
        hash ^= UInt64(count) &* prime2
        hash ^= hash >> 33
        hash = hash &* prime2
        hash ^= hash >> 29
        hash = hash &* prime3
        hash ^= hash >> 32
        return hash
    }
}
