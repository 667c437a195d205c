import Chunker

/// A block without its bytes: what a chunking must reproduce exactly, and what golden fixtures store.
struct BlockRecord: Codable, Hashable, Sendable, CustomStringConvertible {
    var offset: UInt64
    var length: Int
    /// Lower-case hex of the block's SHA-256.
    var id: String

    init(offset: UInt64, length: Int, id: String) {
        self.offset = offset
        self.length = length
        self.id = id
    }

    init(_ block: Block) {
        self.init(offset: block.offset, length: block.length, id: block.id.hex)
    }

    var description: String { "@\(offset)+\(length) \(id.prefix(12))…" }
}
