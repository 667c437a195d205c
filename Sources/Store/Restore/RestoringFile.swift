import Chunker
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One regular file on its way into the target: written under its temporary name by one or more
/// pieces (a small file is one piece; a large one is cut into pieces that workers write in
/// parallel), then given its recorded metadata and renamed into place by whichever piece finishes
/// last. If any piece fails, the last one removes the temporary file instead, so a failed or killed
/// restore never leaves wrong bytes under a final name. Thread-safe.
final class RestoringFile: Sendable {
    let entry: FileVersion
    let destination: [UInt8]
    let temporary: [UInt8]
    private let warnings: RestoreWarnings

    private struct State {
        var descriptor: Int32 = -1
        var unfinishedPieces: Int
        var failed = false
        /// The end of the last byte written; below the size, the file ends in a hole.
        var writtenEnd: Int64 = 0
    }
    private let state: Mutex<State>

    init(entry: FileVersion, destination: [UInt8], pieces: Int, warnings: RestoreWarnings) {
        self.entry = entry
        self.warnings = warnings
        self.destination = destination
        temporary = RestoringFile.temporaryPath(for: destination)
        state = Mutex(State(unfinishedPieces: pieces))
    }

    var display: String { FileSystem.display(destination) }

    /// `.blockvault.<name>.tmp` beside `path`; for a name too long to take the additions (the
    /// limit is 255 bytes), `.blockvault.<first 16 hex digits of its SHA-256>.tmp`.
    static func temporaryPath(for path: [UInt8]) -> [UInt8] {
        let slash = path.lastIndex(of: UInt8(ascii: "/"))!
        let name = Array(path[(slash + 1)...])
        let middle = name.count + 16 <= 255 ? name : Array(SHA256Hasher.hash(name).hex.prefix(16).utf8)
        return Array(path[...slash]) + Array(".blockvault.".utf8) + middle + Array(".tmp".utf8)
    }

    /// The temporary file, created empty by the first piece that asks. A leftover of an earlier,
    /// interrupted restore is replaced; a symlink in its place is never followed.
    func descriptor() throws(StoreError) -> Int32 {
        try state.withLock { state throws(StoreError) -> Int32 in
            if state.descriptor >= 0 { return state.descriptor }
            let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
            var opened = FileSystem.withCString(temporary) { open($0, flags, 0o600) }
            if opened < 0 && errno == EEXIST {
                FileSystem.withCString(temporary) { _ = unlink($0) }
                opened = FileSystem.withCString(temporary) { open($0, flags, 0o600) }
            }
            guard opened >= 0 else { throw .system("cannot create", FileSystem.display(temporary)) }
            state.descriptor = opened
            return opened
        }
    }

    /// Records that one piece is done (`writtenEnd`: where its last written byte ends, 0 if it wrote
    /// none). The last piece sets the size, owner, mode and times and renames the file into place;
    /// if any piece failed, it removes the temporary file. Throws only for the last piece.
    func finishPiece(writtenEnd: Int64, failed: Bool) throws(StoreError) {
        try state.withLock { state throws(StoreError) in
            state.unfinishedPieces -= 1
            state.failed = state.failed || failed
            state.writtenEnd = max(state.writtenEnd, writtenEnd)
            guard state.unfinishedPieces == 0 else { return }
            if state.failed {
                discard(state.descriptor)
                return
            }
            try complete(state.descriptor, writtenEnd: state.writtenEnd)
        }
    }

    private func discard(_ descriptor: Int32) {
        guard descriptor >= 0 else { return }
        close(descriptor)
        FileSystem.withCString(temporary) { _ = unlink($0) }
    }

    /// Gives the written file its recorded size and metadata, closes it and renames it into place;
    /// on failure nothing is left under either name.
    private func complete(_ descriptor: Int32, writtenEnd: Int64) throws(StoreError) {
        let display = self.display
        do throws(StoreError) {
            guard writtenEnd >= entry.size || ftruncate(descriptor, off_t(entry.size)) == 0 else {
                throw .system("cannot set size of", display)
            }
            _ = fchown(descriptor, entry.uid, entry.gid)
            // Attributes while the file is still writable to its owner (user.* needs that); ACLs
            // after the mode, which would otherwise replace their mask; the times last.
            warnings.add(entry.xattrs.write(fd: descriptor, acls: false), path: display)
            guard fchmod(descriptor, mode_t(entry.mode)) == 0 else { throw .system("cannot set mode of", display) }
            warnings.add(entry.xattrs.write(fd: descriptor, acls: true), path: display)
            var times = [Restorer.timeSpec(entry.modificationTime), Restorer.timeSpec(entry.modificationTime)]
            futimens(descriptor, &times)
        } catch {
            discard(descriptor)
            throw error
        }
        close(descriptor)
        let renamed = FileSystem.withCString(temporary) { from in FileSystem.withCString(destination) { rename(from, $0) } }
        guard renamed == 0 else {
            let code = errno
            FileSystem.withCString(temporary) { _ = unlink($0) }
            throw .io(path: display, operation: "cannot rename into place", errno: code)
        }
    }
}
