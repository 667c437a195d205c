/// Reproducible test inputs: the same `(count, seed)` gives the same bytes on every machine and in
/// every Swift release, because each generator is defined only in terms of `SplitMix64.next()`.
///
/// Golden fixtures (`Fixtures/chunker/golden.json`) are recorded from these generators, so changing
/// either definition below invalidates them: treat the documented algorithms as frozen.
public enum DeterministicData {
    /// `count` uniformly random bytes: the outputs of `SplitMix64(seed: seed)` written
    /// little-endian one after another, the last output truncated to the bytes still needed.
    public static func randomBytes(count: Int, seed: UInt64) -> [UInt8] {
        precondition(count >= 0, "a byte count cannot be negative")
        var generator = SplitMix64(seed: seed)
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            var offset = 0
            while offset + 8 <= count {
                raw.storeBytes(of: generator.next().littleEndian, toByteOffset: offset, as: UInt64.self)
                offset += 8
            }
            if offset < count {
                var word = generator.next()
                while offset < count {
                    raw[offset] = UInt8(truncatingIfNeeded: word)
                    word >>= 8
                    offset += 1
                }
            }
            initialized = count
        }
    }

    /// `count` bytes of word-like ASCII text: compressible and repetitive the way prose and source
    /// code are, which random bytes are not.
    ///
    /// For each word one output `r` of `SplitMix64(seed: seed)` is drawn: the word is
    /// `textVocabulary[Int(r % 64)]`, and the separator after it is chosen by `(r >> 32) & 15`:
    /// 0 gives ". ", 1 gives ", ", 2 gives "\n", anything else a single space. Words and separators
    /// are appended until `count` bytes exist; the last piece is truncated.
    public static func textLikeBytes(count: Int, seed: UInt64) -> [UInt8] {
        precondition(count >= 0, "a byte count cannot be negative")
        var generator = SplitMix64(seed: seed)
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count {
            let random = generator.next()
            let word = vocabularyBytes[Int(random % UInt64(vocabularyBytes.count))]
            let separator = separators[min(Int((random >> 32) & 15), separators.count - 1)]
            out.append(contentsOf: word.prefix(count - out.count))
            out.append(contentsOf: separator.prefix(count - out.count))
        }
        return out
    }

    /// The 64 words `textLikeBytes` draws from, in this order (the order is part of the definition).
    public static let textVocabulary: [String] = [
        "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "with", "was", "on", "be", "at", "by",
        "this", "had", "not", "are", "but", "from", "or", "have", "an", "they", "which", "one", "you", "were",
        "all", "her", "she", "there", "would", "their", "will", "when", "who", "him", "been", "has", "more",
        "block", "vault", "backup", "snapshot", "restore", "chunk", "catalog", "replica", "pack", "index",
        "return", "struct", "func", "let", "var", "guard", "throw", "import", "public", "private", "static",
    ]

    private static let vocabularyBytes: [[UInt8]] = textVocabulary.map { Array($0.utf8) }
    /// Indexed by `(r >> 32) & 15`, clamped to the last entry: three special separators, then spaces.
    private static let separators: [[UInt8]] = [Array(". ".utf8), Array(", ".utf8), Array("\n".utf8), Array(" ".utf8)]
}
