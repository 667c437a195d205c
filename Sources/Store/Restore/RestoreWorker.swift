import Chunker
#if canImport(Glibc)
import Glibc
#endif

/// Runs restore jobs on one thread: reads the blocks a job needs in pack order, neighbouring blocks
/// in one call, decodes and verifies each straight into the plaintext of its file, then writes each
/// file with as few calls as its holes allow. Buffers are reused from job to job. Not thread-safe:
/// one per thread.
final class RestoreWorker {
    /// Blocks closer than this in a pack are read in one call, the bytes between them included.
    static let readGap = 256 << 10
    /// One read takes at most this much (unless a single block is larger).
    static let readLimit = 4 << 20
    /// The unit of holes: aligned runs of this many zero bytes are not written.
    static let pageSize = 4096

    private let reader: PackReader
    private let decoder = BlockDecoder()
    private var plain = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
    private var stored = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    /// Blocks verified before to be all zeros: met again, they are neither read nor decoded.
    private var zeroBlocks = Set<BlockID>()
    // Per-job scratch, kept for its capacity.
    private var starts: [Int] = []
    private var owners: [Int] = []
    private var pieceStarts: [Int] = []
    private var toRead: [Int] = []
    private var copies: [(to: Int, from: Int)] = []
    private var firstUse: [BlockID: Int] = [:]

    init(storage: any PackStorage) { reader = PackReader(storage: storage) }

    deinit {
        plain.deallocate()
        stored.deallocate()
    }

    /// Restores the job's pieces. Every piece is finished (written or failed) when it returns; the
    /// error names the file that failed.
    func run(_ job: RestoreJob) throws(StoreError) {
        do throws(StoreError) {
            try decodeBlocks(of: job)
        } catch {
            job.cancel()
            throw error
        }
        for (index, piece) in job.pieces.enumerated() {
            let start = pieceStarts[index]
            let count = job.blocks[piece.blocks].reduce(0) { $0 + $1.entry.rawLength }
            let bytes = UnsafeRawBufferPointer(rebasing: plain[start..<start + count])
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
        }
    }

    /// Fills `plain` with the job's blocks, one after another, each read, decoded and verified once.
    private func decodeBlocks(of job: RestoreJob) throws(StoreError) {
        RestoreWorker.grow(&plain, to: job.rawBytes, alignment: 4096)
        starts.removeAll(keepingCapacity: true)
        owners.removeAll(keepingCapacity: true)
        pieceStarts.removeAll(keepingCapacity: true)
        toRead.removeAll(keepingCapacity: true)
        copies.removeAll(keepingCapacity: true)
        firstUse.removeAll(keepingCapacity: true)
        var position = 0
        for (pieceIndex, piece) in job.pieces.enumerated() {
            pieceStarts.append(position)
            for index in piece.blocks {
                starts.append(position)
                owners.append(pieceIndex)
                let entry = job.blocks[index].entry
                if zeroBlocks.contains(entry.id) {
                    (plain.baseAddress! + position).initializeMemory(as: UInt8.self, repeating: 0, count: entry.rawLength)
                } else if let first = firstUse[entry.id] {
                    copies.append((index, first))
                } else {
                    firstUse[entry.id] = index
                    toRead.append(index)
                }
                position += entry.rawLength
            }
        }
        let blocks = job.blocks
        toRead.sort { blocks[$0].pack != blocks[$1].pack ? blocks[$0].pack < blocks[$1].pack : blocks[$0].entry.offset < blocks[$1].entry.offset }
        var next = 0
        while next < toRead.count {
            let first = blocks[toRead[next]]
            var end = first.entry.offset + first.entry.storedLength
            var last = next
            while last + 1 < toRead.count {
                let candidate = blocks[toRead[last + 1]]
                guard candidate.pack == first.pack, candidate.entry.offset >= end, candidate.entry.offset - end <= RestoreWorker.readGap,
                      candidate.entry.offset + candidate.entry.storedLength - first.entry.offset <= RestoreWorker.readLimit else { break }
                end = candidate.entry.offset + candidate.entry.storedLength
                last += 1
            }
            try readAndDecode(toRead[next...last], of: job, from: first.pack, at: first.entry.offset, through: end)
            next = last + 1
        }
        for (to, from) in copies {
            (plain.baseAddress! + starts[to]).copyMemory(from: plain.baseAddress! + starts[from], byteCount: blocks[to].entry.rawLength)
        }
    }

    /// Reads the bytes `offset..<end` of `pack` in one call and decodes the listed blocks out of them.
    private func readAndDecode(_ indices: ArraySlice<Int>, of job: RestoreJob, from pack: String, at offset: Int, through end: Int) throws(StoreError) {
        RestoreWorker.grow(&stored, to: end - offset, alignment: 16)
        do {
            try reader.readBytes(of: pack, at: offset, into: UnsafeMutableRawBufferPointer(rebasing: stored[0..<end - offset]))
        } catch {
            throw RestoreWorker.naming(job.pieces[owners[indices.first!]].file, error)
        }
        for index in indices {
            let entry = job.blocks[index].entry
            let source = UnsafeRawBufferPointer(rebasing: stored[(entry.offset - offset)..<(entry.offset - offset + entry.storedLength)])
            let target = UnsafeMutableRawBufferPointer(rebasing: plain[starts[index]..<starts[index] + entry.rawLength])
            do {
                try decoder.decode(source, encoding: entry.encoding, id: entry.id, into: target)
            } catch {
                throw RestoreWorker.naming(job.pieces[owners[index]].file, PackReader.failure(error, of: entry, in: pack))
            }
            if RestoreWorker.isZero(UnsafeRawBufferPointer(target)) { zeroBlocks.insert(entry.id) }
        }
    }

    /// `error` as a failure to restore `file`.
    private static func naming(_ file: RestoringFile, _ error: StoreError) -> StoreError {
        if case .corrupt(let message) = error { return .corrupt("\(file.display): \(message)") }
        return .corrupt("\(file.display): \(error)")
    }

    /// Writes `bytes` at `offset`, leaving out whole aligned pages of zeros (they stay holes; the
    /// file's size is set when it is complete). Returns where the last written byte ends, 0 if none.
    private func write(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32, at offset: Int64, display: String) throws(StoreError) -> Int64 {
        let page = RestoreWorker.pageSize
        var writtenEnd: Int64 = 0
        var runStart: Int?
        var position = 0
        while position < bytes.count {
            let unitEnd = min(bytes.count, position + page - Int((offset + Int64(position)) % Int64(page)))
            let isHole = unitEnd - position == page && RestoreWorker.isZero(UnsafeRawBufferPointer(rebasing: bytes[position..<unitEnd]))
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

    private static func grow(_ buffer: inout UnsafeMutableRawBufferPointer, to count: Int, alignment: Int) {
        guard buffer.count < count else { return }
        buffer.deallocate()
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: alignment)
    }
}
