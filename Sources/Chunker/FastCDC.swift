/// FastCDC content-defined chunking (Xia et al., USENIX ATC 2016): a Gear rolling hash
/// `fp = (fp << 1) + gear[byte]`, no hashing below the minimum size, and normalized chunking: a mask
/// with two more one-bits than log2(normal) before the normal size, two fewer after it, which pulls
/// block sizes towards the normal size. Masks use the top bits of `fp`, the bits that depend on the
/// most recent 64 bytes, so a cut depends only on a small window of content.
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
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var fingerprint: UInt64 = 0
        var index = minimumSize
        if let cut = FastCDC.scan(base, from: &index, to: min(normalSize, available), mask: smallMask, fingerprint: &fingerprint) {
            return cut
        }
        let maximumEnd = min(maximumBlockSize, available)
        return FastCDC.scan(base, from: &index, to: maximumEnd, mask: largeMask, fingerprint: &fingerprint) ?? maximumEnd
    }

    /// Rolls the Gear hash over `base[index..<end]` and returns the length of the block ending at the
    /// first position whose fingerprint has no bit of `mask` set, or nil (then `index == end`).
    ///
    /// Two bytes a step: `fp2 = 4·fp + (2·g0 + g1)` equals `2·(2·fp + g0) + g1`, but its dependency on
    /// the previous fingerprint is one shift-and-add instead of two, which halves the critical path.
    /// Both intermediate fingerprints are still tested, so cut points are exactly those of the
    /// one-byte recurrence (the golden vectors pin this).
    @inline(__always)
    static func scan(_ base: UnsafePointer<UInt8>, from index: inout Int, to end: Int, mask: UInt64,
                     fingerprint: inout UInt64) -> Int? {
        let gear = GearTable.entries
        var position = index
        var hash = fingerprint
        while position + 1 < end {
            let first = gear[Int(base[position])]
            let second = gear[Int(base[position + 1])]
            let single = (hash &<< 1) &+ first
            hash = (hash &<< 2) &+ ((first &<< 1) &+ second)
            if single & mask == 0 { index = position + 1; return position + 1 }
            if hash & mask == 0 { index = position + 2; return position + 2 }
            position &+= 2
        }
        if position < end {
            hash = (hash &<< 1) &+ gear[Int(base[position])]
            position += 1
            if hash & mask == 0 { index = position; return position }
        }
        index = position
        fingerprint = hash
        return nil
    }
}
