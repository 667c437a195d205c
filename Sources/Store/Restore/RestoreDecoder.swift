import Chunker
#if canImport(Glibc)
import Glibc
#endif

/// Turns restore jobs into plaintext on one thread: reads the blocks a job needs in pack order,
/// neighbouring blocks in one call (the blocks of a shared frame, which sort together, decode it
/// once), and decodes and verifies each straight into its place in the
/// job's buffer (its files one after another), ready for the `RestoreWriter`. Scratch space is
/// reused from job to job. Not thread-safe: one per thread.
final class RestoreDecoder {
    /// Blocks closer than this in a pack are read in one call, the bytes between them included.
    static let readGap = 256 << 10
    /// One read takes at most this much (unless a single block is larger).
    static let readLimit = 4 << 20
    private let reader: PackReader
    private let decoder: BlockDecoder
    private let damage: RestoreDamage
    /// The buffer of the job being decoded.
    private var plain = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private var stored = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    /// Blocks verified before to be all zeros: met again, they are neither read nor decoded.
    private var zeroBlocks = Set<BlockID>()
    // Per-job scratch, kept for its capacity.
    private var starts: [Int] = []
    private var owners: [Int] = []
    private var toRead: [Int] = []
    private var copies: [(to: Int, from: Int)] = []
    private var firstUse: [BlockID: Int] = [:]
    private var frameBlocks: [Int] = []

    /// Blocks whose bytes are damaged are recorded in `damage` (the restore has them stored again).
    init(storage: any BlobStorage, dictionaries: DictionarySet, damage: RestoreDamage) {
        reader = PackReader(storage: storage, dictionaries: dictionaries)
        decoder = BlockDecoder(dictionaries: dictionaries)
        self.damage = damage
    }

    deinit { stored.deallocate() }

    /// Fills `buffer` with the plaintext of the job's blocks, one after another, each read, decoded
    /// and verified once. The error names the file whose block failed.
    func decode(_ job: RestoreJob, into buffer: RestoreBuffer) throws(StoreError) {
        buffer.reserve(job.rawBytes)
        plain = buffer.bytes
        defer { plain = UnsafeMutableRawBufferPointer(start: nil, count: 0) }
        try decodeBlocks(of: job)
    }

    private func decodeBlocks(of job: RestoreJob) throws(StoreError) {
        starts.removeAll(keepingCapacity: true)
        owners.removeAll(keepingCapacity: true)
        toRead.removeAll(keepingCapacity: true)
        copies.removeAll(keepingCapacity: true)
        firstUse.removeAll(keepingCapacity: true)
        var position = 0
        for (pieceIndex, piece) in job.pieces.enumerated() {
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
                let previous = blocks[toRead[last]]
                if candidate.pack == previous.pack && candidate.entry.offset == previous.entry.offset {   // the same shared frame
                    last += 1
                    continue
                }
                guard candidate.pack == first.pack, candidate.entry.offset >= end, candidate.entry.offset - end <= RestoreDecoder.readGap,
                      candidate.entry.offset + candidate.entry.storedLength - first.entry.offset <= RestoreDecoder.readLimit else { break }
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
        RestoreDecoder.grow(&stored, to: end - offset)
        do {
            try reader.readBytes(of: pack, at: offset, into: UnsafeMutableRawBufferPointer(rebasing: stored[0..<end - offset]))
        } catch {
            throw RestoreDecoder.naming(job.pieces[owners[indices.first!]].file, error)
        }
        var position = indices.startIndex
        while position < indices.endIndex {
            if let frameEnd = try decodeWholeFrame(at: position, of: indices, in: job, pack: pack, readAt: offset) {
                position = frameEnd
                continue
            }
            let index = indices[position]
            position += 1
            let entry = job.blocks[index].entry
            let source = UnsafeRawBufferPointer(rebasing: stored[(entry.offset - offset)..<(entry.offset - offset + entry.storedLength)])
            let target = UnsafeMutableRawBufferPointer(rebasing: plain[starts[index]..<starts[index] + entry.rawLength])
            do {
                try decoder.decode(source, encoding: entry.encoding, id: entry.id, into: target,
                                   skip: entry.skip, key: FrameKey(pack: pack, offset: entry.offset))
            } catch {
                damage.record(error, [entry.id], in: pack)
                throw RestoreDecoder.naming(job.pieces[owners[index]].file, PackReader.failure(error, of: entry, in: pack))
            }
            if RestoreWriter.isZero(UnsafeRawBufferPointer(target)) { zeroBlocks.insert(entry.id) }
        }
    }

    /// When the blocks at `position` are the whole of one shared frame, in order and one after
    /// another in the job's buffer (a large file's frame, restored whole: the usual case), decodes
    /// the frame straight into place, verifies each block, and returns where the next blocks start;
    /// nil otherwise (the blocks are then decoded one by one, through the decoder's frame buffer).
    private func decodeWholeFrame(at position: Int, of indices: ArraySlice<Int>, in job: RestoreJob,
                                  pack: String, readAt offset: Int) throws(StoreError) -> Int? {
        let first = job.blocks[indices[position]].entry
        guard first.encoding == .zstdShared else { return nil }
        var end = position
        while end < indices.endIndex && job.blocks[indices[end]].entry.offset == first.offset { end += 1 }
        guard end - position > 1 else { return nil }
        frameBlocks.removeAll(keepingCapacity: true)
        frameBlocks.append(contentsOf: indices[position..<end])
        frameBlocks.sort { job.blocks[$0].entry.skip < job.blocks[$1].entry.skip }
        var skip = 0
        for index in frameBlocks {
            let entry = job.blocks[index].entry
            guard entry.encoding == .zstdShared, entry.skip == skip, starts[index] == starts[frameBlocks[0]] + skip else { return nil }
            skip += entry.rawLength
        }
        let source = UnsafeRawBufferPointer(rebasing: stored[(first.offset - offset)..<(first.offset - offset + first.storedLength)])
        // The frame must hold exactly these blocks: any other size falls back to the general path.
        guard ZstdDecompressor.declaredSize(source) == skip else { return nil }
        let target = UnsafeMutableRawBufferPointer(rebasing: plain[starts[frameBlocks[0]]..<starts[frameBlocks[0]] + skip])
        do {
            try decoder.decodeWholeFrame(source, into: target)
        } catch {
            // A frame that does not decode loses every block in it.
            damage.record(error, frameBlocks.map { job.blocks[$0].entry.id }, in: pack)
            throw RestoreDecoder.naming(job.pieces[owners[frameBlocks[0]]].file, PackReader.failure(error, of: first, in: pack))
        }
        for index in frameBlocks {
            let entry = job.blocks[index].entry
            let block = UnsafeRawBufferPointer(rebasing: plain[starts[index]..<starts[index] + entry.rawLength])
            do {
                try decoder.verify(block, id: entry.id)
            } catch {
                damage.record(error, [entry.id], in: pack)
                throw RestoreDecoder.naming(job.pieces[owners[index]].file, PackReader.failure(error, of: entry, in: pack))
            }
            if RestoreWriter.isZero(block) { zeroBlocks.insert(entry.id) }
        }
        return end
    }

    /// `error` as a failure to restore `file`.
    private static func naming(_ file: RestoringFile, _ error: StoreError) -> StoreError {
        if case .corrupt(let message) = error { return .corrupt("\(file.display): \(message)") }
        return .corrupt("\(file.display): \(error)")
    }

    private static func grow(_ buffer: inout UnsafeMutableRawBufferPointer, to count: Int) {
        guard buffer.count < count else { return }
        buffer.deallocate()
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
    }
}
