import Chunker
import Testing
import TestSupport

/// The Gear table is part of the vault format: if one entry changed, every FastCDC cut point after
/// the next 64 bytes could move and no new backup would deduplicate against an old one. These pins
/// make such a change fail loudly; a deliberate one must bump `GearTable.version`.
@Suite("Gear table")
struct GearTableTests {
    /// SHA-256 of the 256 entries written little-endian (2048 bytes), computed once for version 1.
    static let pinnedDigest = "4f1c810a223f9e60a3648c4a1637d68b67bbe8aff471305d4eb65fc771edf31c"

    @Test("version 1 is pinned by digest")
    func digest() {
        #expect(GearTable.version == 1, "a new table version needs a new pinned digest")
        var bytes: [UInt8] = []
        for index in 0..<256 {
            withUnsafeBytes(of: GearTable.entries[index].littleEndian) { bytes.append(contentsOf: $0) }
        }
        #expect(bytes.count == 2048)
        #expect(SHA256Hasher.hash(bytes).hex == Self.pinnedDigest)
    }

    @Test("first and last entries are pinned")
    func endpoints() {
        #expect(GearTable.entries[0] == 0x6320_AC66_0EAF_AC59)
        #expect(GearTable.entries[1] == 0x0950_FAB2_AD65_2BF5)
        #expect(GearTable.entries[255] == 0x774E_8F1F_CF62_1AAE)
    }

    /// The doc comment promises "SplitMix64 from the seed 'blockvlt'", so that anyone can rebuild
    /// the table from the description alone; hold the code to that promise.
    @Test("the table is SplitMix64 from the documented seed")
    func matchesDocumentation() {
        #expect(GearTable.seed == 0x626C_6F63_6B76_6C74)
        #expect(withUnsafeBytes(of: GearTable.seed.bigEndian) { Array($0) } == Array("blockvlt".utf8))
        var generator = SplitMix64(seed: GearTable.seed)
        let expected = (0..<256).map { _ in generator.next() }
        let actual = (0..<256).map { GearTable.entries[$0] }
        #expect(actual == expected)
        #expect(Set(actual).count == 256, "entries are distinct")
    }
}
