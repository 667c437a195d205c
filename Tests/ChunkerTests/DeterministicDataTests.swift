import Chunker
import Testing
import TestSupport

/// The golden fixtures are only as trustworthy as the generators that rebuild their inputs, so the
/// generators are pinned here: against the published SplitMix64 outputs and by digest.
@Suite("Deterministic test data")
struct DeterministicDataTests {
    /// First outputs of the reference SplitMix64 (Vigna's splitmix64.c) from seed 0.
    @Test("SplitMix64 matches the reference implementation")
    func splitMix64() {
        var generator = SplitMix64(seed: 0)
        #expect(generator.next() == 0xE220_A839_7B1D_CDAF)
        #expect(generator.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(generator.next() == 0x06C4_5D18_8009_454F)
    }

    @Test("random bytes are the generator's words, little-endian, truncated at the end")
    func randomBytesLayout() {
        var generator = SplitMix64(seed: 0)
        let words = [generator.next(), generator.next()]
        var expected: [UInt8] = []
        for word in words { withUnsafeBytes(of: word.littleEndian) { expected.append(contentsOf: $0) } }
        for count in 0...16 {
            #expect(DeterministicData.randomBytes(count: count, seed: 0) == Array(expected.prefix(count)))
        }
    }

    @Test("same seed, same bytes; different seed, different bytes")
    func determinism() {
        #expect(DeterministicData.randomBytes(count: 1000, seed: 5) == DeterministicData.randomBytes(count: 1000, seed: 5))
        #expect(DeterministicData.randomBytes(count: 1000, seed: 5) != DeterministicData.randomBytes(count: 1000, seed: 6))
        #expect(DeterministicData.textLikeBytes(count: 1000, seed: 5) == DeterministicData.textLikeBytes(count: 1000, seed: 5))
        #expect(DeterministicData.textLikeBytes(count: 1000, seed: 5) != DeterministicData.textLikeBytes(count: 1000, seed: 6))
        // A shorter request is a prefix of a longer one, so sizes can change without new content.
        #expect(DeterministicData.textLikeBytes(count: 777, seed: 5) == Array(DeterministicData.textLikeBytes(count: 1000, seed: 5).prefix(777)))
    }

    @Test("text-like bytes are words from the vocabulary")
    func textShape() {
        #expect(DeterministicData.textVocabulary.count == 64, "the generator takes r % 64")
        let text = DeterministicData.textLikeBytes(count: 100_000, seed: 9)
        #expect(text.count == 100_000)
        let string = String(decoding: text, as: UTF8.self)
        let words = string.split(whereSeparator: { " ,.\n".contains($0) }).dropLast()  // the last may be cut
        let vocabulary = Set(DeterministicData.textVocabulary)
        #expect(words.allSatisfy { vocabulary.contains(String($0)) })
        #expect(Set(words).count == 64, "100 kB uses every word")
        #expect(string.contains(". ") && string.contains(", ") && string.contains("\n"))
    }

    /// Pins both generators' output by digest (the inputs of the golden vectors are built this way).
    @Test("generator output is pinned")
    func pinned() {
        #expect(SHA256Hasher.hash(DeterministicData.randomBytes(count: 4096, seed: 1)).hex
                == "276c10c86aa9b9ba5575128554e181e036ac203a3df34143d9d175927312b924")
        #expect(SHA256Hasher.hash(DeterministicData.textLikeBytes(count: 4096, seed: 2)).hex
                == "c922e3975191d52f399f8b5313edfd30d51b0b0531d810a902d4820939b563d0")
        #expect(String(decoding: DeterministicData.textLikeBytes(count: 40, seed: 2), as: UTF8.self) == "at and. restore will has pack that to st")
    }
}
