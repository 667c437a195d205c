import Chunker
import Testing

/// Block IDs are SHA-256 digests, and two vaults only deduplicate against each other if they agree
/// on them bit for bit, so the OpenSSL wrapper is checked against the published NIST answers.
@Suite("SHA-256")
struct SHA256HasherTests {
    /// FIPS 180-2 / NIST CSRC example vectors.
    static let knownAnswers: [(message: [UInt8], digest: String)] = [
        ([], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (Array("abc".utf8), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8),
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000),
         "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
    ]

    static let millionA = knownAnswers[3]

    @Test("one-shot digests match NIST", arguments: knownAnswers.indices)
    func oneShot(index: Int) {
        let (message, digest) = Self.knownAnswers[index]
        #expect(SHA256Hasher.hash(message).hex == digest)
        let hasher = SHA256Hasher()
        #expect(message.withUnsafeBytes { hasher.hash($0) }.hex == digest)
    }

    /// Piece sizes straddle SHA-256's 64-byte block in every way: 1, 63, 64, 65, and large pieces.
    @Test("incremental updates equal one-shot", arguments: [1, 63, 64, 65, 1000, 65_537, 999_999])
    func incremental(pieceSize: Int) {
        let (message, digest) = Self.millionA
        let hasher = SHA256Hasher()
        message.withUnsafeBytes { buffer in
            var start = 0
            while start < buffer.count {
                let end = min(start + pieceSize, buffer.count)
                hasher.update(UnsafeRawBufferPointer(rebasing: buffer[start..<end]))
                start = end
            }
        }
        #expect(hasher.finalize().hex == digest)
    }

    /// Empty updates must be no-ops, including one whose buffer has a nil base address.
    @Test("empty updates change nothing")
    func emptyUpdates() {
        let hasher = SHA256Hasher()
        hasher.update(UnsafeRawBufferPointer(start: nil, count: 0))
        Array("ab".utf8).withUnsafeBytes { hasher.update($0) }
        [UInt8]().withUnsafeBytes { hasher.update($0) }
        Array("c".utf8).withUnsafeBytes { hasher.update($0) }
        #expect(hasher.finalize().hex == Self.knownAnswers[1].digest)
    }

    /// `BlockReader` keeps one hasher for millions of blocks: each digest must be independent of
    /// the ones before it, and `hash` must discard an unfinished incremental digest.
    @Test("a reused hasher gives the same answers")
    func reuse() {
        let hasher = SHA256Hasher()
        for _ in 0..<3 {
            for (message, digest) in Self.knownAnswers.prefix(3) {
                #expect(message.withUnsafeBytes { hasher.hash($0) }.hex == digest)
                message.withUnsafeBytes { hasher.update($0) }
                #expect(hasher.finalize().hex == digest, "finalize must leave the hasher ready for the next digest")
            }
        }
        Array("left over".utf8).withUnsafeBytes { hasher.update($0) }
        #expect(Array("abc".utf8).withUnsafeBytes { hasher.hash($0) }.hex == Self.knownAnswers[1].digest)
        Array("left over".utf8).withUnsafeBytes { hasher.update($0) }
        hasher.reset()
        #expect(hasher.finalize().hex == Self.knownAnswers[0].digest, "reset must discard fed bytes")
    }
}
