/// What forget asks the catalog and changes in it: every path's history, and the deletions of
/// forgotten snapshots and versions.
extension Catalog {
    /// Calls `body` once per path (name) with its folder and the sequences of all its versions,
    /// ascending; paths come in name-row order, from one ordered pass over the versions.
    public func forEachPathHistory(_ body: (_ name: Int64, _ folder: Int64, _ sequences: [Int64]) throws -> Void) throws {
        let rows = try database.prepare("""
            SELECT v.sequence, v.name, n.folder FROM versions v JOIN names n ON n.id = v.name ORDER BY v.name, v.sequence
            """)
        var current: (name: Int64, folder: Int64, sequences: [Int64])? = nil
        while try rows.step() {
            let sequence = rows.int64(0)
            let name = rows.int64(1)
            if current?.name == name {
                current!.sequences.append(sequence)
            } else {
                if let finished = current { try body(finished.name, finished.folder, finished.sequences) }
                current = (name, rows.int64(2), [sequence])
            }
        }
        if let finished = current { try body(finished.name, finished.folder, finished.sequences) }
    }

    /// How many file versions the catalog records.
    public func versionCount() throws(StoreError) -> Int {
        Int(try database.scalar("SELECT count(*) FROM versions") ?? 0)
    }

    /// Forgets the snapshots `snapshots` (remembering their ids, so that a push from the master
    /// does not list them again without their versions) and the versions with `sequences`. Call
    /// inside the transaction that records the forget record's pack. Idempotent.
    public func forget(snapshots: [String], versions sequences: [Int64]) throws(StoreError) {
        let deleteSnapshot = try database.prepare("DELETE FROM snapshots WHERE snapshot_id = ?")
        for id in snapshots { try deleteSnapshot.run([.text(id)]) }
        try recordForgottenSnapshots(snapshots)
        let deleteVersion = try database.prepare("DELETE FROM versions WHERE sequence = ?")
        for sequence in sequences { try deleteVersion.run([.integer(sequence)]) }
    }
}
