/// The Gear table that FastCDC's rolling hash adds in, one random 64-bit word per byte value.
///
/// The table is part of the on-disk format: two vaults cut the same bytes at the same places only if
/// they use the same table, so it is fixed and versioned, never regenerated differently.
/// Version 1 is the first 256 outputs of SplitMix64 (Steele, Lea and Flood, 2014) started from the
/// seed 0x626C6F636B766C74 (the ASCII bytes "blockvlt"): for each entry the state is advanced by
/// 0x9E3779B97F4A7C15 and mixed with the multipliers 0xBF58476D1CE4E5B9 and 0x94D049BB133111EB
/// and shifts 30, 27 and 31. `ChunkerTests` pins a digest of the table so it can never drift.
public enum GearTable {
    /// The table version recorded in every vault's configuration.
    public static let version = 1

    /// The documented seed of version 1.
    public static let seed: UInt64 = 0x626C_6F63_6B76_6C74

    /// The 256 entries, allocated once for the life of the process (never freed on purpose: the hot
    /// loop reads it through a raw pointer, with no bounds checks or reference counting).
    nonisolated(unsafe) public static let entries: UnsafePointer<UInt64> = {
        let table = UnsafeMutablePointer<UInt64>.allocate(capacity: 256)
        var state = seed
        for index in 0..<256 {
            state = state &+ 0x9E37_79B9_7F4A_7C15
            var mixed = state
            mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
            mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
            table[index] = mixed ^ (mixed >> 31)
        }
        return UnsafePointer(table)
    }()
}
