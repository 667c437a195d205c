/// FastCDC content-defined chunking (Xia et al., USENIX ATC 2016): a Gear rolling hash
/// `fp = (fp << 1) + gear[byte]`, no hashing below the minimum size, and normalized chunking: a mask
/// with two more one-bits than log2(normal) before the normal size, two fewer after it, which pulls
/// block sizes towards the normal size. Masks use the top bits of `fp`, the bits that depend on the
/// most recent 64 bytes, so a cut depends only on a small window of content.
///
/// Speed: one Gear step is a two-instruction dependency chain per byte, so a single scan is bound by
/// latency, not by the core's width. Because a 64-bit fingerprint is exactly the sum of the last 64
/// bytes' table entries shifted by their age, the fingerprint at any position can be rebuilt from the
/// 64 bytes before it. The scan therefore runs four independent stripes of a region side by side (each
/// stripe primed from the 64 bytes before it) and takes the first cut in stripe order: the same cut
/// points as the byte-by-byte definition, at about twice its speed.
public struct FastCDC: CutPointFinder {
    public let minimumSize: Int
    public let normalSize: Int
    public let maximumBlockSize: Int
    /// Used before the normal size: harder to satisfy.
    public let smallMask: UInt64
    /// Used after the normal size: easier to satisfy.
    public let largeMask: UInt64

    public init(parameters: ChunkerParameters) {
        minimumSize = parameters.minimumSize
        normalSize = parameters.normalSize
        maximumBlockSize = parameters.maximumSize
        let bits = normalSize.trailingZeroBitCount
        smallMask = FastCDC.topBits(bits + 2)
        largeMask = FastCDC.topBits(bits - 2)
    }

    /// A mask of the `count` most significant bits.
    static func topBits(_ count: Int) -> UInt64 {
        count <= 0 ? 0 : ~UInt64(0) << UInt64(64 - count)
    }

    public func cutPoint(in bytes: UnsafeRawBufferPointer, atEnd: Bool) -> Int {
        let available = bytes.count
        if available <= minimumSize { return available }
        let scan = GearScan(bytes: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
        // The fingerprint starts from zero at the minimum size and carries on across the normal size.
        var fingerprint: UInt64 = 0
        let normalEnd = min(normalSize, available)
        if let cut = scan.firstCut(from: minimumSize, to: normalEnd, mask: smallMask, fingerprint: &fingerprint) {
            return cut
        }
        let maximumEnd = min(maximumBlockSize, available)
        return scan.firstCut(from: normalEnd, to: maximumEnd, mask: largeMask, fingerprint: &fingerprint) ?? maximumEnd
    }
}

/// The Gear scan over one buffer: finds the first position whose fingerprint has no bits under a mask.
struct GearScan {
    let bytes: UnsafePointer<UInt8>
    let gear = GearTable.entries

    /// Bytes per stripe; a round scans four stripes side by side.
    static let stripe = 2048
    /// A stretch too short for four full stripes (the one between the minimum and the normal size,
    /// or the end of a longer one) still runs as one round of four shorter stripes, down to this
    /// length (at least `window`): priming a stripe costs `window` serial steps, and a serial step
    /// costs about twice a striped one, so shorter stripes would save little.
    static let shortestStripe = 256
    /// The fingerprint's window: older bytes have been shifted out of all 64 bits.
    static let window = 64

    /// The end (exclusive) of the first byte in `start..<end` after which `fingerprint & mask == 0`,
    /// or nil. `fingerprint` comes in as the value before `start` and, when nil is returned, leaves
    /// as the value at `end - 1`. `start` must not lie before the place the fingerprint started from
    /// zero: stripes other than the first begin at least one stripe (≥ `window` bytes) after `start`,
    /// so priming them reads only hashed bytes.
    func firstCut(from start: Int, to end: Int, mask: UInt64, fingerprint: inout UInt64) -> Int? {
        var round = start
        while end - round >= 4 * GearScan.stripe {
            // A constant stripe length here lets the compiler address all four stripes from one pointer.
            if let cut = firstCut(inRoundAt: round, stripe: GearScan.stripe, mask: mask, fingerprint: &fingerprint) { return cut }
            round += 4 * GearScan.stripe
        }
        let stripe = (end - round) / 4
        if stripe >= GearScan.shortestStripe {
            if let cut = firstCut(inRoundAt: round, stripe: stripe, mask: mask, fingerprint: &fingerprint) { return cut }
            round += 4 * stripe
        }
        return serialCut(from: round, to: end, mask: mask, fingerprint: &fingerprint)
    }

    /// One round: four stripes of `stripe` bytes from `round`, side by side. Stripe k covers
    /// round + k·stripe ..< round + (k+1)·stripe; stripe 0 goes on from the running fingerprint, the
    /// others are primed from the bytes before them. Without a cut, `fingerprint` leaves as the last
    /// stripe's.
    @inline(__always)
    private func firstCut(inRoundAt round: Int, stripe: Int, mask: UInt64, fingerprint: inout UInt64) -> Int? {
        var f0 = fingerprint
        var f1 = primed(at: round + stripe)
        var f2 = primed(at: round + 2 * stripe)
        var f3 = primed(at: round + 3 * stripe)
        let p0 = bytes + round, p1 = p0 + stripe, p2 = p1 + stripe, p3 = p2 + stripe
        var step = 0
        while step < stripe {
            f0 = (f0 &<< 1) &+ gear[Int(p0[step])]
            f1 = (f1 &<< 1) &+ gear[Int(p1[step])]
            f2 = (f2 &<< 1) &+ gear[Int(p2[step])]
            f3 = (f3 &<< 1) &+ gear[Int(p3[step])]
            step &+= 1
            if f0 & mask == 0 || f1 & mask == 0 || f2 & mask == 0 || f3 & mask == 0 {
                // Rare: some stripe has a cut. The earliest cut is in the lowest stripe that has
                // one, so finish the lower stripes byte by byte before believing a higher one.
                if f0 & mask == 0 { return round + step }
                if let cut = serialCut(from: round + step, to: round + stripe, mask: mask, fingerprint: &f0) { return cut }
                if f1 & mask == 0 { return round + stripe + step }
                if let cut = serialCut(from: round + stripe + step, to: round + 2 * stripe, mask: mask, fingerprint: &f1) { return cut }
                if f2 & mask == 0 { return round + 2 * stripe + step }
                if let cut = serialCut(from: round + 2 * stripe + step, to: round + 3 * stripe, mask: mask, fingerprint: &f2) { return cut }
                return round + 3 * stripe + step
            }
        }
        fingerprint = f3
        return nil
    }

    /// The byte-by-byte scan: the definition the striped scan must agree with.
    func serialCut(from start: Int, to end: Int, mask: UInt64, fingerprint: inout UInt64) -> Int? {
        var index = start
        while index < end {
            fingerprint = (fingerprint &<< 1) &+ gear[Int(bytes[index])]
            index &+= 1
            if fingerprint & mask == 0 { return index }
        }
        return nil
    }

    /// The fingerprint after the byte at `position - 1`, rebuilt from the `window` bytes before `position`.
    private func primed(at position: Int) -> UInt64 {
        var fingerprint: UInt64 = 0
        var index = position - GearScan.window
        while index < position {
            fingerprint = (fingerprint &<< 1) &+ gear[Int(bytes[index])]
            index &+= 1
        }
        return fingerprint
    }
}
