import Chunker
import Testing
import TestSupport

/// `BlockID` packs the digest into four words; these tests make sure no byte-order slip between the
/// words and the digest can hide behind a round trip that is wrong in both directions.
@Suite("BlockID")
struct BlockIDTests {
    /// SHA-256("abc"): its bytes are known independently of `BlockID`.
    static let abcHex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    static let abcBytes: [UInt8] = [
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
    ]

    /// Random 32-byte values, some with the top bit set in leading bytes (signedness traps).
    static func randomByteStrings(count: Int, seed: UInt64) -> [[UInt8]] {
        let pool = DeterministicData.randomBytes(count: 32 * count, seed: seed)
        return (0..<count).map { Array(pool[32 * $0 ..< 32 * $0 + 32]) }
    }

    @Test("hex and bytes agree with the digest")
    func knownDigest() throws {
        let id = try #require(BlockID(hex: Self.abcHex))
        #expect(id.bytes == Self.abcBytes)
        #expect(BlockID(bytes: Self.abcBytes) == id)
        #expect(SHA256Hasher.hash(Array("abc".utf8)) == id)
        #expect(id.description == Self.abcHex)
        #expect(id.prefix64 == 0xba78_16bf_8f01_cfea, "prefix64 is the first 8 bytes, big-endian")
    }

    @Test("hex round trip")
    func hexRoundTrip() throws {
        for bytes in Self.randomByteStrings(count: 200, seed: 11) {
            let id = try #require(BlockID(bytes: bytes))
            let hex = id.hex
            #expect(hex.count == 64)
            #expect(hex == hex.lowercased())
            #expect(BlockID(hex: hex) == id)
            #expect(BlockID(hex: hex.uppercased()) == id, "upper case is accepted too")
        }
    }

    @Test("bytes round trip, including through copyBytes(to:)")
    func bytesRoundTrip() throws {
        for bytes in Self.randomByteStrings(count: 200, seed: 12) {
            let id = try #require(BlockID(bytes: bytes))
            #expect(id.bytes == bytes)
            var copied = [UInt8](repeating: 0xEE, count: 40)
            copied.withUnsafeMutableBytes { id.copyBytes(to: $0) }
            #expect(Array(copied.prefix(32)) == bytes)
            #expect(copied.suffix(8).allSatisfy { $0 == 0xEE }, "copyBytes writes exactly 32 bytes")
            #expect(bytes.withUnsafeBytes { BlockID(digest: $0) } == id)
            #expect(BlockID(bytes: bytes[...]) == id, "any collection of bytes works")
        }
    }

    @Test("init(bytes:) rejects counts other than 32", arguments: [0, 1, 31, 33, 64])
    func wrongByteCount(count: Int) {
        #expect(BlockID(bytes: [UInt8](repeating: 7, count: count)) == nil)
    }

    static let badHex: [String] = [
        "",
        String(abcHex.dropLast()),                      // 63 digits
        abcHex + "0",                                   // 65 digits
        String(abcHex.dropLast(2)),                     // 62 digits
        abcHex + abcHex,                                // 128 digits
        "g" + String(abcHex.dropFirst()),               // not a hex digit
        String(abcHex.dropLast()) + "G",
        String(abcHex.dropLast()) + " ",
        " " + String(abcHex.dropLast()),
        String(abcHex.dropLast()) + "\0",
        "0x" + String(abcHex.dropLast(2)),
        String(abcHex.dropLast(2)) + "é",               // 64 UTF-8 bytes, 63 characters
        String(abcHex.dropLast()) + "/",                // the characters either side of the digit ranges
        String(abcHex.dropLast()) + ":",
        String(abcHex.dropLast()) + "@",
        String(abcHex.dropLast()) + "`",
    ]

    @Test("init(hex:) rejects anything but 64 hex digits", arguments: badHex)
    func rejectsBadHex(text: String) {
        #expect(BlockID(hex: text) == nil)
        #expect(BlockID(hex: Substring(text)) == nil)
    }

    @Test("init(hex:) accepts a substring")
    func acceptsSubstring() {
        let line = "id=\(Self.abcHex);"
        let digits = line.dropFirst(3).dropLast()
        #expect(BlockID(hex: digits)?.bytes == Self.abcBytes)
    }

    /// Catalog indexes and merge joins rely on `<` sorting IDs exactly as their bytes sort.
    @Test("ordering is bytewise")
    func orderingIsBytewise() throws {
        let strings = Self.randomByteStrings(count: 500, seed: 13)
        // Near neighbours: differ only in one byte, in each word, with and without the top bit.
        var tricky: [[UInt8]] = []
        for position in [0, 7, 8, 15, 16, 24, 31] {
            for value: UInt8 in [0x00, 0x01, 0x7F, 0x80, 0xFF] {
                var bytes = [UInt8](repeating: 0x80, count: 32)
                bytes[position] = value
                tricky.append(bytes)
            }
        }
        let all = strings + tricky
        let ids = try all.map { try #require(BlockID(bytes: $0)) }
        let byID = ids.sorted().map(\.bytes)
        let byBytes = all.sorted { $0.lexicographicallyPrecedes($1) }
        #expect(byID == byBytes)
        for (a, b) in zip(ids, ids.dropFirst()) {
            #expect((a < b) == a.bytes.lexicographicallyPrecedes(b.bytes))
        }
    }

    @Test("equal digests are equal IDs with equal hashes")
    func hashable() throws {
        let fromHex = try #require(BlockID(hex: Self.abcHex.uppercased()))
        let fromBytes = try #require(BlockID(bytes: Self.abcBytes))
        #expect(fromHex == fromBytes)
        #expect(fromHex.hashValue == fromBytes.hashValue)
        #expect(Set([fromHex, fromBytes]).count == 1)
        #expect(!(fromHex < fromBytes) && !(fromBytes < fromHex))
    }
}
