import Chunker

/// Appends little-endian integers, LEB128 varints and length-prefixed byte strings.
package struct ByteWriter {
    package var bytes: [UInt8] = []

    package init() {}

    package mutating func append(_ byte: UInt8) { bytes.append(byte) }
    package mutating func append(contentsOf other: [UInt8]) { bytes.append(contentsOf: other) }
    package mutating func append(_ id: BlockID) {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: 32))
        bytes.withUnsafeMutableBytes { id.copyBytes(to: UnsafeMutableRawBufferPointer(rebasing: $0[start...])) }
    }
    package mutating func appendUInt32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    package mutating func appendUInt64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    package mutating func appendVarint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }
    package mutating func appendSigned(_ value: Int64) { appendVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63))) }
    package mutating func appendBytes(_ value: [UInt8]) {
        appendVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }
    package mutating func appendString(_ value: String) { appendBytes(Array(value.utf8)) }
}

/// Reads what `ByteWriter` wrote; every read is bounds-checked and throws `StoreError.corrupt`.
package struct ByteReader {
    let bytes: [UInt8]
    private(set) var position = 0

    package init(_ bytes: [UInt8]) { self.bytes = bytes }

    package var isAtEnd: Bool { position >= bytes.count }

    private mutating func take(_ count: Int) throws(StoreError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count - position else { throw .corrupt("record ends early") }
        defer { position += count }
        return bytes[position..<position + count]
    }

    package mutating func uint8() throws(StoreError) -> UInt8 { try take(1).first! }
    package mutating func uint32() throws(StoreError) -> UInt32 {
        try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }
    package mutating func uint64() throws(StoreError) -> UInt64 {
        try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }
    package mutating func blockID() throws(StoreError) -> BlockID { BlockID(bytes: try take(32))! }
    package mutating func varint() throws(StoreError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try uint8()
            guard shift < 64 else { throw .corrupt("varint too long") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }
    /// A varint that counts or indexes something, as an `Int` of at most `limit`; throws
    /// `.corrupt` beyond it, so no later conversion or allocation can trap on a forged value.
    package mutating func count(limit: Int) throws(StoreError) -> Int {
        let value = try varint()
        guard value <= UInt64(max(limit, 0)) else { throw .corrupt("a count of \(value) where at most \(limit) fits") }
        return Int(value)
    }
    /// The number of elements that follow, each taking at least `minimumSize` bytes: at most
    /// `limit` and never more than the bytes left could hold.
    package mutating func elementCount(limit: Int = Int(Int32.max), minimumSize: Int = 1) throws(StoreError) -> Int {
        let count = try count(limit: limit)
        guard count <= (bytes.count - position) / max(minimumSize, 1) else {
            throw .corrupt("a count of \(count) elements in \(bytes.count - position) bytes")
        }
        return count
    }
    package mutating func signed() throws(StoreError) -> Int64 {
        let raw = try varint()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }
    package mutating func byteString(limit: Int = 1 << 26) throws(StoreError) -> [UInt8] {
        let count = try varint()
        guard count <= UInt64(limit) else { throw .corrupt("byte string of \(count) bytes exceeds limit") }
        return Array(try take(Int(count)))
    }
    package mutating func string() throws(StoreError) -> String { String(decoding: try byteString(), as: UTF8.self) }
}
