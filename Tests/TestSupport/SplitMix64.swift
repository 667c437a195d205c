/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014):
/// the state advances by 0x9E3779B97F4A7C15 and each output is that state mixed with the
/// multipliers 0xBF58476D1CE4E5B9 and 0x94D049BB133111EB and the shifts 30, 27 and 31.
///
/// Chosen for test data because it is tiny, fast in a debug build, and fully specified: golden
/// fixtures depend on its exact output, which Swift's own generators do not promise across releases.
/// Use `next()` directly when the output must stay stable; Swift's `random(in:using:)` algorithms
/// may change how they consume the generator.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The current state; the next output is a function of `state &+ 0x9E3779B97F4A7C15`.
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}
