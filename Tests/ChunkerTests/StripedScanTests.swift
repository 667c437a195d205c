@testable import Chunker
import Testing
import TestSupport

/// FastCDC scans four stripes side by side and rebuilds each stripe's fingerprint from the 64 bytes
/// before it. These tests hold that scan to the byte-by-byte definition, with masks loose enough that
/// several stripes of one round find cuts (the case where stripe order decides).
@Suite("Striped Gear scan")
struct StripedScanTests {
    static let inputs: [(name: String, bytes: [UInt8])] = [
        ("random", DeterministicData.randomBytes(count: 600 << 10, seed: 71)),
        ("text", DeterministicData.textLikeBytes(count: 600 << 10, seed: 72)),
        ("zeros", [UInt8](repeating: 0, count: 600 << 10)),
    ]

    @Test("first cut and running fingerprint equal the serial scan's", arguments: 0..<3, [1, 4, 9, 12, 15, 19, 30])
    func agreesWithSerialScan(input: Int, maskBits: Int) {
        let bytes = StripedScanTests.inputs[input].bytes
        let mask = FastCDC.topBits(maskBits)
        var generator = SplitMix64(seed: UInt64(maskBits * 31 + input))
        bytes.withUnsafeBufferPointer { buffer in
            let scan = GearScan(bytes: buffer.baseAddress!)
            for _ in 0..<40 {
                // A start where hashing begins from zero, or one a window or more after it.
                let origin = Int(generator.next() % UInt64(64 << 10))
                let start = origin + (generator.next() % 2 == 0 ? 0 : 64 + Int(generator.next() % 9000))
                // Long regions, and short ones that run as a single round of short stripes.
                let length = generator.next() % 2 == 0 ? generator.next() % UInt64(400 << 10) : generator.next() % 12_000
                let end = min(buffer.count, start + Int(length))
                let before = Self.fingerprint(buffer, from: origin, to: start)
                var serial = before, striped = before
                let expected = scan.serialCut(from: start, to: end, mask: mask, fingerprint: &serial)
                let actual = scan.firstCut(from: start, to: end, mask: mask, fingerprint: &striped)
                #expect(actual == expected, "start \(start), end \(end), mask bits \(maskBits)")
                if expected == nil { #expect(striped == serial, "the fingerprint carried past the region") }
            }
        }
    }

    /// The fingerprint after `end - 1` when hashing starts from zero at `origin`.
    static func fingerprint(_ buffer: UnsafeBufferPointer<UInt8>, from origin: Int, to end: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in origin..<end { value = (value &<< 1) &+ GearTable.entries[Int(buffer[index])] }
        return value
    }

    @Test("FastCDC cuts where the textbook loop cuts", arguments: 0..<3, [
        ChunkerParameters(kind: .fastcdc, minimumSize: 64 << 10, normalSize: 128 << 10, maximumSize: 512 << 10),
        ChunkerParameters(kind: .fastcdc, minimumSize: 2 << 10, normalSize: 16 << 10, maximumSize: 64 << 10),
        ChunkerParameters(kind: .fastcdc, minimumSize: 100, normalSize: 256, maximumSize: 40 << 10),
        ChunkerParameters(kind: .fastcdc, minimumSize: 127 << 10, normalSize: 128 << 10, maximumSize: 300 << 10),
        ChunkerParameters(kind: .fastcdc, minimumSize: 124 << 10, normalSize: 128 << 10, maximumSize: 512 << 10),
    ])
    func matchesTextbookLoop(input: Int, parameters: ChunkerParameters) {
        let bytes = StripedScanTests.inputs[input].bytes
        let chunker = FastCDC(parameters: parameters)
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let rest = UnsafeRawBufferPointer(rebasing: raw[offset..<min(raw.count, offset + parameters.maximumSize)])
                let cut = chunker.cutPoint(in: rest, atEnd: true)
                #expect(cut == Self.textbookCut(rest, chunker), "block at \(offset)")
                offset += cut
            }
        }
    }

    /// FastCDC's cut-point loop as the paper writes it.
    static func textbookCut(_ bytes: UnsafeRawBufferPointer, _ chunker: FastCDC) -> Int {
        if bytes.count <= chunker.minimumSize { return bytes.count }
        var fingerprint: UInt64 = 0
        for index in chunker.minimumSize..<min(bytes.count, chunker.maximumBlockSize) {
            fingerprint = (fingerprint &<< 1) &+ GearTable.entries[Int(bytes[index])]
            let mask = index < chunker.normalSize ? chunker.smallMask : chunker.largeMask
            if fingerprint & mask == 0 { return index + 1 }
        }
        return min(bytes.count, chunker.maximumBlockSize)
    }
}
