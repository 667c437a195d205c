#if canImport(Glibc)
import Glibc
#endif

/// An upload of `LocalBlobStorage`: streamed to a temporary file beside its final name through one
/// staging buffer, so that writing a 16 MiB pack holds 1 MiB of memory, not 16. Each piece written
/// is checksummed from memory as it goes; `commit` syncs the file, reads every piece back and
/// compares checksums, checks the size, then renames it into place and syncs the directory.
final class LocalBlobUpload: BlobUpload, @unchecked Sendable {
    // @unchecked: an upload has one owner at a time (a `PackWriter`'s lock, then the sealing thread).
    static let pieceSize = 1 << 20

    private let temporary: String
    private let final: String
    private var descriptor: Int32
    private let staging: UnsafeMutableRawBufferPointer
    private var staged = 0
    private(set) var size = 0
    /// Bytes handed to the file so far (`size` less what is staged).
    private var written = 0
    /// The checksum of each piece written, in file order; every piece but the last is `pieceSize`
    /// long or ends where a direct write of a large block ended, so lengths are kept too.
    private var pieces: [(length: Int, checksum: UInt64)] = []
    private var finished = false

    /// Runs after the rename, before the directory sync (the storage drops what it cached of `final`).
    private let onCommit: () -> Void

    init(temporary: String, final: String, onCommit: @escaping () -> Void = {}) throws(StoreError) {
        descriptor = open(temporary, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o444)
        guard descriptor >= 0 else { throw .system("cannot create", temporary) }
        self.temporary = temporary
        self.final = final
        self.onCommit = onCommit
        staging = .allocate(byteCount: LocalBlobUpload.pieceSize, alignment: 4096)
    }

    deinit {
        abort()
        staging.deallocate()
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws(StoreError) {
        precondition(!finished, "append to a finished upload")
        var rest = bytes
        while !rest.isEmpty {
            if staged == 0 && rest.count >= staging.count {
                // A large block goes straight from the caller's memory, a piece at a time.
                try writePiece(UnsafeRawBufferPointer(rebasing: rest[rest.startIndex..<(rest.startIndex + staging.count)]))
                rest = UnsafeRawBufferPointer(rebasing: rest[(rest.startIndex + staging.count)...])
                continue
            }
            let count = min(staging.count - staged, rest.count)
            (staging.baseAddress! + staged).copyMemory(from: rest.baseAddress!, byteCount: count)
            staged += count
            rest = UnsafeRawBufferPointer(rebasing: rest[(rest.startIndex + count)...])
            if staged == staging.count { try flushStaging() }
        }
        size += bytes.count
    }

    private func flushStaging() throws(StoreError) {
        guard staged > 0 else { return }
        try writePiece(UnsafeRawBufferPointer(rebasing: staging[0..<staged]))
        staged = 0
    }

    /// Linux's sync_file_range(2), which Glibc's Swift overlay does not export; nil elsewhere.
    private typealias SyncFileRange = @convention(c) (Int32, Int64, Int64, UInt32) -> Int32
    private static let startWriteback: SyncFileRange? = dlsym(nil, "sync_file_range").map { unsafeBitCast($0, to: SyncFileRange.self) }
    private static let syncFileRangeWrite: UInt32 = 2   // SYNC_FILE_RANGE_WRITE

    private func writePiece(_ piece: UnsafeRawBufferPointer) throws(StoreError) {
        try FileSystem.writeAll(descriptor, piece, path: temporary)
        // Start writing the piece to disk now, without waiting: `commit`'s fsync then finds most of
        // the pack written already. A 16 MiB pack synced only at the end kept its sealing thread
        // (a compressor) waiting about 0.15 s. Advice only: a failure here is caught by the fsync.
        _ = LocalBlobUpload.startWriteback?(descriptor, Int64(written), Int64(piece.count), LocalBlobUpload.syncFileRangeWrite)
        written += piece.count
        pieces.append((piece.count, ReadBackChecksum.of(piece)))
    }

    func commit() throws(StoreError) {
        precondition(!finished, "commit of a finished upload")
        do throws(StoreError) {
            try flushStaging()
            try FileSystem.fsyncOrThrow(descriptor, path: temporary)
            try verify()
            close(descriptor)
            descriptor = -1
            guard rename(temporary, final) == 0 else { throw .system("cannot rename into", final) }
        } catch {
            abort()
            throw error
        }
        finished = true
        onCommit()
        try FileSystem.fsyncDirectory(FileSystem.parent(of: final))
    }

    /// Reads the synced file back, piece by piece into the (now empty) staging buffer, and compares
    /// each piece's checksum with the one taken from memory when it was written.
    private func verify() throws(StoreError) {
        var offset = 0
        for piece in pieces {
            let target = UnsafeMutableRawBufferPointer(rebasing: staging[0..<piece.length])
            try FileSystem.preadAll(descriptor, target, offset: Int64(offset), path: temporary)
            guard ReadBackChecksum.of(UnsafeRawBufferPointer(target)) == piece.checksum else {
                throw .corrupt("\(temporary) reads back differently from what was written")
            }
            offset += piece.length
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0, Int(status.st_size) == size, offset == size else {
            throw .corrupt("\(temporary) has the wrong size after writing")
        }
    }

    func abort() {
        guard !finished else { return }
        finished = true
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
        unlink(temporary)
    }
}
