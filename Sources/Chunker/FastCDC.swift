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
        let gear = GearTable.entries
        var fingerprint: UInt64 = 0
        var index = minimumSize
        let normalEnd = min(normalSize, available)
        let smallMask = self.smallMask
        while index < normalEnd {
            fingerprint = (fingerprint &<< 1) &+ gear[Int(base[index])]
            index &+= 1
            if fingerprint & smallMask == 0 { return index }
        }
        let maximumEnd = min(maximumBlockSize, available)
        let largeMask = self.largeMask
        while index < maximumEnd {
            fingerprint = (fingerprint &<< 1) &+ gear[Int(base[index])]
            index &+= 1
            if fingerprint & largeMask == 0 { return index }
        }
        return maximumEnd
    }
}
