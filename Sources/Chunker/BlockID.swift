/// The name of a block: the 32-byte SHA-256 of its plaintext.
///
/// Stored inline as four words so that a `BlockID` costs no heap allocation, hashes quickly in a
/// `Set` or `Dictionary`, and compares with four integer comparisons. Byte order is the digest's:
/// `bytes` and `hex` give the digest exactly as SHA-256 produced it.
public struct BlockID: Hashable, Sendable, Comparable, CustomStringConvertible {
    // Big-endian words of the digest, so that comparing words compares digests bytewise.
    @usableFromInline var w0: UInt64
    @usableFromInline var w1: UInt64
    @usableFromInline var w2: UInt64
    @usableFromInline var w3: UInt64

    /// The number of bytes in a block ID.
    public static let byteCount = 32

    /// Reads 32 bytes of digest. Precondition: `digest.count >= 32`.
    @inlinable
    public init(digest: UnsafeRawBufferPointer) {
        precondition(digest.count >= BlockID.byteCount, "a BlockID needs 32 bytes")
        w0 = UInt64(bigEndian: digest.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        w1 = UInt64(bigEndian: digest.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        w2 = UInt64(bigEndian: digest.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        w3 = UInt64(bigEndian: digest.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    /// Builds an ID from exactly 32 bytes; returns nil for any other count.
    public init?<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        guard bytes.count == BlockID.byteCount else { return nil }
        let array = Array(bytes)
        self = array.withUnsafeBytes { BlockID(digest: $0) }
    }

    /// Parses 64 hexadecimal digits (either case); returns nil for anything else.
    public init?(hex: some StringProtocol) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 64 else { return nil }
        var bytes = [UInt8](repeating: 0, count: 32)
        for index in 0..<32 {
            guard let high = BlockID.nibble(utf8[2 * index]), let low = BlockID.nibble(utf8[2 * index + 1]) else {
                return nil
            }
            bytes[index] = high << 4 | low
        }
        self = bytes.withUnsafeBytes { BlockID(digest: $0) }
    }

    /// The 32 digest bytes.
    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBytes { copyBytes(to: $0) }
        return out
    }

    /// Writes the 32 digest bytes to the start of `destination`. Precondition: it holds 32 bytes.
    @inlinable
    public func copyBytes(to destination: UnsafeMutableRawBufferPointer) {
        precondition(destination.count >= BlockID.byteCount)
        destination.storeBytes(of: w0.bigEndian, toByteOffset: 0, as: UInt64.self)
        destination.storeBytes(of: w1.bigEndian, toByteOffset: 8, as: UInt64.self)
        destination.storeBytes(of: w2.bigEndian, toByteOffset: 16, as: UInt64.self)
        destination.storeBytes(of: w3.bigEndian, toByteOffset: 24, as: UInt64.self)
    }

    /// Lower-case hexadecimal text of the digest (64 characters).
    public var hex: String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for word in [w0, w1, w2, w3] {
            var shift = 60
            while shift >= 0 {
                out.append(digits[Int((word >> UInt64(shift)) & 0xF)])
                shift -= 4
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The IDs stored back to back in `bytes` (32 bytes each), in order; a trailing partial ID is ignored.
    public static func list(in bytes: UnsafeRawBufferPointer) -> [BlockID] {
        stride(from: 0, to: bytes.count - bytes.count % byteCount, by: byteCount).map {
            BlockID(digest: UnsafeRawBufferPointer(rebasing: bytes[$0..<$0 + byteCount]))
        }
    }

    /// The first 8 digest bytes as a big-endian integer: a cheap, well-spread key for sharding.
    @inlinable public var prefix64: UInt64 { w0 }
    /// The last 8 digest bytes as a big-endian integer: independent of `prefix64` (both are SHA-256
    /// output), so the two make the pair of hashes a Bloom filter probes with.
    @inlinable public var suffix64: UInt64 { w3 }

    public var description: String { hex }

    public static func < (lhs: BlockID, rhs: BlockID) -> Bool {
        (lhs.w0, lhs.w1, lhs.w2, lhs.w3) < (rhs.w0, rhs.w1, rhs.w2, rhs.w3)
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return character - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
