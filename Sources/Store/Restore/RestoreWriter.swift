#if canImport(Glibc)
import Glibc
#endif

/// The plaintext of one decoded job, handed from a decoder thread to the writer thread and back
/// through queues.
final class RestoreBuffer: @unchecked Sendable {
    // @unchecked: only the thread that took the buffer from a queue touches it, until it queues it on.
    private(set) var bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: RestoreWriter.pageSize)

    deinit { bytes.deallocate() }

    /// Makes room for `count` bytes (the contents are not kept).
    func reserve(_ count: Int) {
        guard bytes.count < count else { return }
        bytes.deallocate()
        bytes = .allocate(byteCount: count, alignment: RestoreWriter.pageSize)
    }
}

/// Writes decoded jobs into the target: for each piece, its file's temporary file (created by the
/// first piece), then one `pwrite` per run of data, aligned pages of zeros left as holes; the last
/// piece of a file completes it (`RestoringFile`). One thread does all of this, so that file
/// creation and renames never contend for a directory's lock; decoding runs on the other cores.
enum RestoreWriter {
    /// The unit of holes: aligned runs of this many zero bytes are not written.
    static let pageSize = 4096

    /// Writes the job's pieces out of `plain` (its blocks one after another, as a `RestoreDecoder`
    /// leaves them). Every piece is finished (written or failed) when it returns; the error names
    /// the file that failed. Returns how many of the pieces end their file (the piece holding its
    /// last byte, or the one piece of an empty file), so that each file written counts once.
    @discardableResult
    static func write(_ job: RestoreJob, from plain: UnsafeRawBufferPointer) throws(StoreError) -> Int {
        var start = 0
        var ends = 0
        for (index, piece) in job.pieces.enumerated() {
            let count = job.blocks[piece.blocks].reduce(0) { $0 + $1.entry.rawLength }
            let bytes = UnsafeRawBufferPointer(rebasing: plain[start..<start + count])
            start += count
            var writtenEnd: Int64 = 0
            do throws(StoreError) {
                let descriptor = try piece.file.descriptor()
                writtenEnd = try write(bytes, to: descriptor, at: piece.fileOffset, display: piece.file.display)
            } catch {
                try? piece.file.finishPiece(writtenEnd: 0, failed: true)
                RestoreJob(pieces: Array(job.pieces[(index + 1)...])).cancel()
                throw error
            }
            do throws(StoreError) {
                try piece.file.finishPiece(writtenEnd: writtenEnd, failed: false)
            } catch {
                RestoreJob(pieces: Array(job.pieces[(index + 1)...])).cancel()
                throw error
            }
            if piece.fileOffset + Int64(count) == piece.file.entry.size { ends += 1 }
        }
        return ends
    }

    /// Writes `bytes` at `offset`, leaving out whole aligned pages of zeros (they stay holes; the
    /// file's size is set when it is complete). Returns where the last written byte ends, 0 if none.
    private static func write(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32, at offset: Int64, display: String) throws(StoreError) -> Int64 {
        var writtenEnd: Int64 = 0
        var runStart: Int?
        var position = 0
        while position < bytes.count {
            let unitEnd = min(bytes.count, position + pageSize - Int((offset + Int64(position)) % Int64(pageSize)))
            let isHole = unitEnd - position == pageSize && isZero(UnsafeRawBufferPointer(rebasing: bytes[position..<unitEnd]))
            if isHole, let start = runStart {
                try FileSystem.pwriteAll(descriptor, UnsafeRawBufferPointer(rebasing: bytes[start..<position]), offset: offset + Int64(start), path: display)
                writtenEnd = offset + Int64(position)
                runStart = nil
            } else if !isHole && runStart == nil {
                runStart = position
            }
            position = unitEnd
        }
        if let start = runStart {
            try FileSystem.pwriteAll(descriptor, UnsafeRawBufferPointer(rebasing: bytes[start...]), offset: offset + Int64(start), path: display)
            writtenEnd = offset + Int64(bytes.count)
        }
        return writtenEnd
    }

    /// Whether every byte is zero; fast to say no for most data, which has a non-zero byte early.
    static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let words = bytes.count / 8
        var index = 0
        while index < words {
            let stop = min(words, index + 8)
            var any: UInt64 = 0
            while index < stop {
                any |= base.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)
                index += 1
            }
            if any != 0 { return false }
        }
        for offset in (words * 8)..<bytes.count where bytes[offset] != 0 { return false }
        return true
    }
}
