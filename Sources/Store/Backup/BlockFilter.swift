import Chunker

/// A Bloom filter of block IDs that grows as blocks are added: "maybe" or "certainly not", in about
/// 1.5 to 3 bytes a block where a `Set<BlockID>` takes 64 or more. It grows by layers, each twice the
/// capacity of the one before and filled to its capacity only, so each layer answers "maybe" wrongly
/// for about 0.3% of blocks (12 bits and 8 probes a block) however many blocks arrive. The probes
/// come from the ID itself (a SHA-256 digest is uniform already): nothing is hashed.
struct BlockFilter {
    static let bitsPerBlock = 12
    static let probes: UInt64 = 8
    static let firstCapacity = 1 << 16

    private struct Layer {
        private var words: [UInt64]
        let capacity: Int
        private(set) var count = 0
        private let bitCount: UInt64

        init(capacity: Int) {
            self.capacity = capacity
            words = Array(repeating: 0, count: capacity * BlockFilter.bitsPerBlock / 64)
            bitCount = UInt64(words.count * 64)
        }

        /// `hash` mapped onto 0..<count by a multiply and a shift (uniform hashes stay uniform).
        @inline(__always) private static func position(_ hash: UInt64, in count: UInt64) -> UInt64 {
            hash.multipliedFullWidth(by: count).high
        }

        mutating func insert(_ id: BlockID) {
            let first = id.prefix64, step = id.suffix64 | 1
            for probe in 0..<BlockFilter.probes {
                let bit = Layer.position(first &+ probe &* step, in: bitCount)
                words[Int(bit >> 6)] |= 1 << (bit & 63)
            }
            count += 1
        }

        func mayContain(_ id: BlockID) -> Bool {
            let first = id.prefix64, step = id.suffix64 | 1
            for probe in 0..<BlockFilter.probes {
                let bit = Layer.position(first &+ probe &* step, in: bitCount)
                if words[Int(bit >> 6)] & (1 << (bit & 63)) == 0 { return false }
            }
            return true
        }
    }

    private var layers: [Layer] = []

    /// Blocks inserted so far.
    var count: Int { layers.reduce(0) { $0 + $1.count } }

    mutating func insert(_ id: BlockID) {
        if layers.isEmpty || layers[layers.count - 1].count >= layers[layers.count - 1].capacity {
            layers.append(Layer(capacity: layers.last.map { 2 * $0.capacity } ?? BlockFilter.firstCapacity))
        }
        layers[layers.count - 1].insert(id)
    }

    /// False when `id` was certainly never inserted; true when it was, or (rarely) when it was not.
    func mayContain(_ id: BlockID) -> Bool {
        layers.contains { $0.mayContain(id) }
    }
}
