/// The catalog's side of device ids. Version vectors and `modified_by` name a device, in memory, on
/// the wire and in metadata records, by its 8-byte short id; inside the catalog they name it by its
/// row in `devices`, a small integer (one byte in a record instead of eight). This converts between
/// the two and encodes version vectors compactly: LEB128 varints of (device row, counter) pairs.
///
/// Rows are never deleted or renumbered, so what it caches stays true, with one exception: a row
/// inserted by a transaction that rolls back. `Catalog.transaction` calls `forgetAll()` then.
struct DeviceTable {
    private var rowsByShortID: [UInt64: Int64] = [:]
    /// Indexed by row id (rows are small, dense integers).
    private var shortIDsByRow: [UInt64?] = []

    mutating func forgetAll() {
        rowsByShortID.removeAll()
        shortIDsByRow.removeAll()
    }

    /// The row of the device with `shortID`, inserted (known only by its short id) when new.
    mutating func row(for shortID: UInt64, in database: Database) throws(StoreError) -> Int64 {
        if let row = rowsByShortID[shortID] { return row }
        let key = SQLValue.integer(Int64(bitPattern: shortID))
        try database.prepare("INSERT INTO devices(short_id) VALUES(?) ON CONFLICT(short_id) DO NOTHING").run([key])
        guard let row = try database.scalar("SELECT id FROM devices WHERE short_id = ?", [key]) else {
            throw .catalog("device \(shortID) vanished from the devices table")
        }
        remember(row: row, shortID: shortID)
        return row
    }

    /// The short id of the device in `row`.
    mutating func shortID(ofRow row: Int64, in database: Database) throws(StoreError) -> UInt64 {
        if row >= 0, row < shortIDsByRow.count, let known = shortIDsByRow[Int(row)] { return known }
        guard let value = try database.scalar("SELECT short_id FROM devices WHERE id = ?", [.integer(row)]) else {
            throw .corrupt("the catalog names device row \(row), which its devices table lacks; run 'blockvault repair --apply'")
        }
        let shortID = UInt64(bitPattern: value)
        remember(row: row, shortID: shortID)
        return shortID
    }

    private mutating func remember(row: Int64, shortID: UInt64) {
        rowsByShortID[shortID] = row
        guard row >= 0, row < 1 << 20 else { return }   // a sane table; anything else is only looked up
        if row >= shortIDsByRow.count { shortIDsByRow += repeatElement(nil, count: Int(row) + 1 - shortIDsByRow.count) }
        shortIDsByRow[Int(row)] = shortID
    }

    /// The catalog's encoding of `vector`; devices not yet in the table are added.
    mutating func encode(_ vector: VersionVector, in database: Database) throws(StoreError) -> [UInt8] {
        var writer = ByteWriter()
        for counter in vector.counters {
            writer.appendVarint(UInt64(try row(for: counter.device, in: database)))
            writer.appendVarint(counter.value)
        }
        return writer.bytes
    }

    /// Decodes what `encode` wrote.
    mutating func decode(_ bytes: UnsafeRawBufferPointer, in database: Database) throws(StoreError) -> VersionVector {
        var counters = try DeviceTable.rowCounters(bytes)
        for index in counters.indices {
            counters[index].device = try shortID(ofRow: Int64(bitPattern: counters[index].device), in: database)
        }
        return VersionVector(counters: counters)
    }

    /// The (device row, counter) pairs of an encoded vector, the rows in `device`.
    static func rowCounters(_ bytes: UnsafeRawBufferPointer) throws(StoreError) -> [VersionVector.Counter] {
        var counters: [VersionVector.Counter] = []
        var position = 0
        func varint() throws(StoreError) -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                guard shift < 64 else { break }
                result |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return result }
                shift += 7
            }
            throw .corrupt("a version vector in the catalog is malformed")
        }
        while position < bytes.count {
            let row = try varint()
            counters.append(VersionVector.Counter(device: row, value: try varint()))
        }
        return counters
    }
}
