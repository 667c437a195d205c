extension Catalog {
    /// Records a version received from a peer (`version.origin` must be set) under this vault's own
    /// next sequence number, which is max(highest local + 1, the origin's sequence), and raises the
    /// highest sequence seen from the origin's device; returns the local sequence. Taking the
    /// origin's number when it is ahead keeps a replica that follows one master numbered exactly as
    /// its master (its `versions`, snapshots and restores answer with the master's numbers).
    /// Throws when that origin is recorded already (the unique index on the origin). Call inside
    /// `transaction`.
    @discardableResult
    public func insertReceivedVersion(_ version: FileVersion, nameID: Int64) throws(StoreError) -> Int64 {
        guard let origin = version.origin else {
            throw .invalidArgument("version of \(version.displayPath) was received without its origin")
        }
        var numbered = version
        numbered.sequence = max(try maximumSequence() + 1, origin.sequence)
        let sequence = try insertVersion(numbered, nameID: nameID, keepSequence: true)
        try database.prepare("""
            INSERT INTO seen_sequences(device, sequence) VALUES(?, ?)
            ON CONFLICT(device) DO UPDATE SET sequence = max(sequence, excluded.sequence)
            """).run([.integer(try devices.row(forDevice: origin.device, in: database)), .integer(origin.sequence)])
        return sequence
    }

    /// Whether a version with this origin is recorded.
    public func hasVersion(origin: VersionOrigin) throws(StoreError) -> Bool {
        guard let row = try existingDeviceRow(origin.device) else { return false }
        return try database.scalar("SELECT 1 FROM versions WHERE origin = ? AND origin_sequence = ?",
                                   [.integer(row), .integer(origin.sequence)]) != nil
    }

    /// The highest sequence of `device` (full id) that this vault has seen, in that device's
    /// numbering; 0 when it has recorded nothing from it.
    public func seenSequence(from device: String) throws(StoreError) -> Int64 {
        guard let row = try existingDeviceRow(device) else { return 0 }
        return try database.scalar("SELECT sequence FROM seen_sequences WHERE device = ?", [.integer(row)]) ?? 0
    }

    /// The local sequence that stands for `sequence` of `device`: the point in this vault's
    /// numbering after every version received from `device` up to `sequence`, before the next one
    /// recorded here. The identity for a replica numbered as its master. Used to record the
    /// master's snapshots, which name points of the master's numbering.
    public func localSequence(of sequence: Int64, from device: String) throws(StoreError) -> Int64 {
        var local: Int64 = 0
        var origin: Int64 = 0
        if let row = try existingDeviceRow(device) {
            let statement = try database.prepare("""
                SELECT sequence, origin_sequence FROM versions WHERE origin = ? AND origin_sequence <= ?
                ORDER BY origin_sequence DESC LIMIT 1
                """)
            try statement.bind([.integer(row), .integer(sequence)])
            if try statement.step() {
                local = statement.int64(0)
                origin = statement.int64(1)
                try statement.step()
            }
        }
        let next = try database.scalar("SELECT min(sequence) FROM versions WHERE sequence > ?", [.integer(local)])
        return min(local + (sequence - origin), (next ?? Int64.max) - 1)
    }

    /// Gives every version without an origin `device` as its origin, with its own sequence as the
    /// origin's: what a replica recorded before origins were kept (its master's numbers), or what a
    /// rebuild found in records that predate them. Raises the seen sequences to match. Idempotent.
    public func assignOrigin(toVersionsWithoutOne device: String) throws(StoreError) {
        try Catalog.assignOrigin(device, toVersionsWithout: database, devices: &devices)
    }

    /// Sets each device's seen sequence to at least the highest origin sequence recorded from it
    /// (after a rebuild, which inserts versions with their origins).
    public func raiseSeenSequences() throws(StoreError) { try Catalog.raiseSeenSequences(in: database) }

    /// Whether some version has no origin (one made here, or one received before origins were kept).
    public func hasVersionsWithoutOrigin() throws(StoreError) -> Bool {
        try database.scalar("SELECT 1 FROM versions WHERE origin IS NULL LIMIT 1") != nil
    }

    static func assignOrigin(_ device: String, toVersionsWithout database: Database, devices: inout DeviceTable) throws(StoreError) {
        let row = try devices.row(forDevice: device, in: database)
        try database.prepare("UPDATE versions SET origin = ?, origin_sequence = sequence WHERE origin IS NULL").run([.integer(row)])
        try raiseSeenSequences(in: database)
    }

    static func raiseSeenSequences(in database: Database) throws(StoreError) {
        try database.execute("""
            INSERT INTO seen_sequences(device, sequence)
                SELECT origin, max(origin_sequence) FROM versions WHERE origin IS NOT NULL GROUP BY origin
            ON CONFLICT(device) DO UPDATE SET sequence = max(sequence, excluded.sequence);
            """)
    }

    /// The devices row of `device` (full id), without adding one; nil when it has none.
    private func existingDeviceRow(_ device: String) throws(StoreError) -> Int64? {
        try database.scalar("SELECT id FROM devices WHERE short_id = ?", [.integer(Int64(bitPattern: VersionOrigin.shortID(of: device)))])
    }
}
