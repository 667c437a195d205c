import CSQLite
import Chunker
#if canImport(Glibc)
import Glibc
#endif

/// A thin, synchronous SQLite connection with cached prepared statements.
///
/// Not thread-safe: one connection belongs to one thread at a time (callers that share one guard it
/// with a lock). Every error carries SQLite's message and the failing SQL.
public final class Database {
    private var handle: OpaquePointer?
    private var statements: [String: Statement] = [:]
    public let path: String

    /// Opens (creating when `create`) the database at `path`, foreign keys off (the catalog checks
    /// its own invariants), with a busy timeout so short contention waits instead of failing.
    ///
    /// `readOnly` opens it without write access (SQLITE_OPEN_READONLY), for a vault on a read-only
    /// mount or a full disk. SQLite then still wants to create the WAL's shared-memory file
    /// (`-shm`); when it cannot, and no write-ahead log holds changes, the file is opened as
    /// immutable (the database file alone is then the whole catalog). A WAL with changes that
    /// cannot be read that way is an error that says what to do.
    public init(path: String, create: Bool = true, readOnly: Bool = false) throws(StoreError) {
        self.path = path
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        flags |= readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        if create && !readOnly { flags |= SQLITE_OPEN_CREATE }
        handle = try Database.open(path, flags: flags)
        sqlite3_busy_timeout(handle, 10_000)
        guard readOnly else { return }
        // A read-only connection opens the WAL (and its -shm) only at its first read.
        do {
            _ = try scalar("SELECT count(*) FROM sqlite_master")
            return
        } catch {
            // Only what write access would have cleared (creating or mapping the -shm) is retried.
            let code = handle.map { sqlite3_extended_errcode($0) } ?? SQLITE_CANTOPEN
            // SQLITE_IOERR_SHMOPEN, _SHMSIZE, _SHMLOCK, _SHMMAP; not a read error of the file itself.
            let shm = code & 0xFF == SQLITE_IOERR && (18...21).contains(code >> 8)
            guard code & 0xFF == SQLITE_CANTOPEN || code & 0xFF == SQLITE_READONLY || shm else {
                close()
                throw error
            }
        }
        let reason = lastMessage
        close()
        var status = stat()
        if stat(path + "-wal", &status) == 0 && status.st_size > 0 {
            throw .catalog("cannot read \(path) without write access: its write-ahead log (\(path)-wal) holds changes that only a writable vault directory lets SQLite read (\(reason)); free some space or make the vault writable, then run the command again")
        }
        handle = try Database.open(Database.immutableURI(path), flags: SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE)
        sqlite3_busy_timeout(handle, 10_000)
    }

    private static func open(_ name: String, flags: Int32) throws(StoreError) -> OpaquePointer? {
        var connection: OpaquePointer?
        let code = sqlite3_open_v2(name, &connection, flags, nil)
        guard code == SQLITE_OK else {
            let message = connection.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            let ioError = connection.flatMap { Database.ioError($0, path: name) }
            sqlite3_close_v2(connection)
            throw .catalog(ioError ?? "cannot open \(name): \(message)")
        }
        return connection
    }

    /// `file:PATH?immutable=1`, the path percent-encoded where a URI needs it.
    static func immutableURI(_ path: String) -> String {
        let plain = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/".utf8)
        var uri = "file:"
        for byte in path.utf8 {
            if plain.contains(byte) { uri.append(Character(UnicodeScalar(byte))) } else {
                uri += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return uri + "?immutable=1"
    }

    /// Keeps SQLite from checkpointing the write-ahead log into the database when this connection
    /// closes: for a WAL that does not belong to the database, which must stay as it is.
    public func disableCheckpointOnClose() {
        if let handle { _ = blockvault_sqlite_no_checkpoint_on_close(handle) }
    }

    deinit { close() }

    /// Whether the connection cannot write (opened read-only, or the file is not writable).
    public var isReadOnly: Bool { handle.map { sqlite3_db_readonly($0, "main") == 1 } ?? true }

    /// Finalizes every statement and closes the connection. Idempotent.
    public func close() {
        statements.values.forEach { $0.finalize() }
        statements.removeAll()
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String) throws(StoreError) {
        var message: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &message)
        if code != SQLITE_OK {
            sqlite3_free(message)
            throw failure(sql)
        }
    }

    /// A prepared statement for `sql`, cached for the life of the connection and reset for reuse.
    public func prepare(_ sql: String) throws(StoreError) -> Statement {
        if let cached = statements[sql] {
            cached.reset()
            return cached
        }
        var raw: OpaquePointer?
        let code = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
        guard code == SQLITE_OK, let raw else { throw failure(sql) }
        let statement = Statement(raw: raw, database: self, sql: sql)
        statements[sql] = statement
        return statement
    }

    /// Runs `body` inside one transaction: committed if it returns, rolled back if it throws.
    /// `immediate` takes the write lock at the start, so a writer never fails half-way on contention.
    public func transaction<T>(immediate: Bool = true, _ body: () throws -> T) throws -> T {
        try execute(immediate ? "BEGIN IMMEDIATE" : "BEGIN")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// The rowid of the last insert on this connection.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Rows changed by the last statement.
    public var changes: Int { Int(sqlite3_changes(handle)) }

    var lastMessage: String { handle.map { String(cString: sqlite3_errmsg($0)) } ?? "closed database" }

    /// The error for a failed statement: damage to the file gets a message that says what to do.
    func failure(_ sql: String) -> StoreError {
        guard let handle else { return .catalog("\(lastMessage) (in: \(Database.oneLine(sql, 200)))") }
        let code = sqlite3_errcode(handle) & 0xFF
        // SQLite reports some read errors (EIO) as damage: the system's errno tells them apart.
        if let ioError = Database.ioError(handle, path: path) { return .catalog(ioError + " (in: \(Database.oneLine(sql, 120)))") }
        if code == SQLITE_CORRUPT || code == SQLITE_NOTADB {
            return .corrupt("\(path) is damaged (\(lastMessage)); run 'blockvault repair --apply' to rebuild it from the packs")
        }
        return .catalog("\(lastMessage) (in: \(Database.oneLine(sql, 200)))")
    }

    /// The start of a statement on one line (an error is one line, and statements span several).
    static func oneLine(_ sql: String, _ length: Int) -> String {
        String(sql.split(whereSeparator: \.isWhitespace).joined(separator: " ").prefix(length))
    }

    /// "cannot read PATH: …; check the disk" when a read of the database file has failed on this
    /// connection (SQLite reports some of those as damage, as integrity_check does), else nil.
    public func diskError() -> String? {
        guard let handle else { return nil }
        var last: Int32 = 0
        guard sqlite3_file_control(handle, "main", SQLITE_FCNTL_LAST_ERRNO, &last) == SQLITE_OK, last != 0 else { return nil }
        return "cannot read \(path): \(String(cString: strerror(last))); check the disk"
    }

    /// Whether `error` is one of the disk's (see `ioError`), not damage to the catalog.
    public static func isDiskError(_ error: any Error) -> Bool {
        if case .catalog(let message) = error as? StoreError { return message.contains("; check the disk") }
        return false
    }

    /// "cannot read PATH: Input/output error; check the disk" when the last error on `connection`
    /// was the disk's (an I/O error, or damage SQLite inferred from one), nil otherwise: repair
    /// would not help with it.
    static func ioError(_ connection: OpaquePointer, path: String) -> String? {
        let code = sqlite3_errcode(connection) & 0xFF
        var systemErrno = sqlite3_system_errno(connection)
        if systemErrno == 0 && (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) {
            // A failed read of a page comes back as "malformed"; the file remembers the errno.
            var last: Int32 = 0
            if sqlite3_file_control(connection, "main", SQLITE_FCNTL_LAST_ERRNO, &last) == SQLITE_OK { systemErrno = last }
        }
        guard code == SQLITE_IOERR || ((code == SQLITE_CORRUPT || code == SQLITE_NOTADB) && systemErrno != 0) else { return nil }
        let reason = systemErrno != 0 ? String(cString: strerror(systemErrno)) : String(cString: sqlite3_errmsg(connection))
        let extended = sqlite3_extended_errcode(connection)
        let writing = (3...6).contains(extended >> 8) && code == SQLITE_IOERR   // _WRITE, _FSYNC, _DIR_FSYNC, _TRUNCATE
        return "cannot \(writing ? "write" : "read") \(path): \(reason); check the disk"
    }

    /// The single integer a query returns (nil when it returns no row or NULL).
    public func scalar(_ sql: String, _ bindings: [SQLValue] = []) throws(StoreError) -> Int64? {
        let statement = try prepare(sql)
        // A statement left on a row keeps its read transaction open, which makes a later
        // BEGIN IMMEDIATE fail at once with SQLITE_BUSY once another connection has written.
        defer { statement.reset() }
        try statement.bind(bindings)
        guard try statement.step() else { return nil }
        return statement.isNull(0) ? nil : statement.int64(0)
    }
}

/// A value to bind to a statement parameter.
public enum SQLValue {
    case integer(Int64)
    case blob([UInt8])
    case text(String)
    case null
}

/// A prepared statement; reused through `Database.prepare`, never shared between threads.
public final class Statement {
    private let raw: OpaquePointer
    private unowned let database: Database
    let sql: String

    init(raw: OpaquePointer, database: Database, sql: String) {
        self.raw = raw
        self.database = database
        self.sql = sql
    }

    func finalize() { sqlite3_finalize(raw) }

    func reset() {
        sqlite3_reset(raw)
        sqlite3_clear_bindings(raw)
    }

    public func bind(_ values: [SQLValue]) throws(StoreError) {
        for (index, value) in values.enumerated() {
            switch value {
            case .integer(let number): try bind(number, at: index + 1)
            case .blob(let bytes): try bind(bytes, at: index + 1)
            case .text(let text): try bind(text, at: index + 1)
            case .null: try check(sqlite3_bind_null(raw, Int32(index + 1)))
            }
        }
    }

    public func bind(_ value: Int64, at index: Int) throws(StoreError) {
        try check(sqlite3_bind_int64(raw, Int32(index), value))
    }

    public func bind(_ value: Int, at index: Int) throws(StoreError) { try bind(Int64(value), at: index) }

    public func bind(_ bytes: [UInt8], at index: Int) throws(StoreError) {
        let code = bytes.withUnsafeBytes { buffer in
            // SQLite reads a NULL pointer as NULL; an empty name must stay an empty blob.
            sqlite3_bind_blob64(raw, Int32(index), buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1),
                                sqlite3_uint64(buffer.count), blockvault_sqlite_transient())
        }
        try check(code)
    }

    public func bind(_ bytes: UnsafeRawBufferPointer, at index: Int) throws(StoreError) {
        try check(sqlite3_bind_blob64(raw, Int32(index), bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1),
                                      sqlite3_uint64(bytes.count), blockvault_sqlite_transient()))
    }

    public func bind(_ id: BlockID, at index: Int) throws(StoreError) {
        var digest: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        let code = withUnsafeMutableBytes(of: &digest) { buffer in
            id.copyBytes(to: buffer)
            return sqlite3_bind_blob64(raw, Int32(index), buffer.baseAddress, 32, blockvault_sqlite_transient())
        }
        try check(code)
    }

    /// Reads a 32-byte blob column as a block ID (nil when it is not 32 bytes).
    public func blockID(_ column: Int) -> BlockID? {
        withBlob(column) { $0.count == BlockID.byteCount ? BlockID(digest: $0) : nil }
    }

    public func bind(_ text: String, at index: Int) throws(StoreError) {
        try check(sqlite3_bind_text(raw, Int32(index), text, -1, blockvault_sqlite_transient()))
    }

    public func bindNull(at index: Int) throws(StoreError) { try check(sqlite3_bind_null(raw, Int32(index))) }

    /// Advances to the next row: true while there is one, false when done. Resets itself when done.
    @discardableResult
    public func step() throws(StoreError) -> Bool {
        let code = sqlite3_step(raw)
        if code == SQLITE_ROW { return true }
        sqlite3_reset(raw)
        if code == SQLITE_DONE { return false }
        throw database.failure(sql)
    }

    /// Runs a statement that returns no rows.
    public func run(_ values: [SQLValue] = []) throws(StoreError) {
        if !values.isEmpty { try bind(values) }
        try step()
    }

    public func int64(_ column: Int) -> Int64 { sqlite3_column_int64(raw, Int32(column)) }
    public func int(_ column: Int) -> Int { Int(sqlite3_column_int64(raw, Int32(column))) }
    public func isNull(_ column: Int) -> Bool { sqlite3_column_type(raw, Int32(column)) == SQLITE_NULL }

    public func blob(_ column: Int) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(raw, Int32(column)))
        guard count > 0, let base = sqlite3_column_blob(raw, Int32(column)) else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Lends the column's bytes without copying; valid only inside `body`.
    public func withBlob<R, Failure: Error>(_ column: Int, _ body: (UnsafeRawBufferPointer) throws(Failure) -> R) throws(Failure) -> R {
        let count = Int(sqlite3_column_bytes(raw, Int32(column)))
        let base = sqlite3_column_blob(raw, Int32(column))
        return try body(UnsafeRawBufferPointer(start: count > 0 ? base : nil, count: count))
    }

    public func text(_ column: Int) -> String {
        guard let cString = sqlite3_column_text(raw, Int32(column)) else { return "" }
        return String(cString: cString)
    }

    private func check(_ code: Int32) throws(StoreError) {
        guard code == SQLITE_OK else { throw .catalog("\(database.lastMessage) (binding in: \(sql.prefix(200)))") }
    }
}

private extension String {
    func leftPadded(to count: Int) -> String { String(repeating: "0", count: Swift.max(0, count - self.count)) + self }
}
