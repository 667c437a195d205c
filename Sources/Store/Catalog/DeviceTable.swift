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
    /// Full device ids (hex) of the rows that version origins name.
    private var deviceIDsByRow: [Int64: String] = [:]

    mutating func forgetAll() {
        rowsByShortID.removeAll()
        shortIDsByRow.removeAll()
        deviceIDsByRow.removeAll()
    }

    /// The row of the device whose full id (hex) is `deviceID`, inserted when new; a row known only
    /// by its short id gets the full id.
    mutating func row(forDevice deviceID: String, in database: Database) throws(StoreError) -> Int64 {
        let shortID = VersionOrigin.shortID(of: deviceID)
        if let row = rowsByShortID[shortID], deviceIDsByRow[row] == deviceID { return row }
        try database.prepare("""
            INSERT INTO devices(short_id, device_id) VALUES(?, ?)
            ON CONFLICT(short_id) DO UPDATE SET device_id = excluded.device_id WHERE device_id IS NULL
            """).run([.integer(Int64(bitPattern: shortID)), .blob(Array(deviceID.utf8))])
        let row = try row(for: shortID, in: database)
        deviceIDsByRow[row] = deviceID
        return row
    }

    /// The full id (hex) of the device in `row`; throws when the row has none.
    mutating func deviceID(ofRow row: Int64, in database: Database) throws(StoreError) -> String {
        if let known = deviceIDsByRow[row] { return known }
        let statement = try database.prepare("SELECT device_id FROM devices WHERE id = ?")
        try statement.bind([.integer(row)])
        guard try statement.step(), !statement.isNull(0) else {
            throw .corrupt("a version's origin names device row \(row), whose full id the devices table lacks; run 'blockvault repair --apply'")
        }
        let deviceID = String(decoding: statement.blob(0), as: UTF8.self)
        try statement.step()
        deviceIDsByRow[row] = deviceID
        return deviceID
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
