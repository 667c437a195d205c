import Chunker
import Synchronization

/// One unit of work for a restore worker: pieces of files, whose blocks it reads (neighbouring
/// blocks of a pack in one call), verifies and writes. Small files share a job; a large file is
/// cut into pieces of its own, so that two workers can write it at once.
struct RestoreJob: Sendable {
    struct Piece: Sendable {
        let file: RestoringFile
        /// Where in the file the piece's first block goes.
        let fileOffset: Int64
        /// The piece's blocks, a range of the job's `blocks`, in file order.
        let blocks: Range<Int>
    }

    var pieces: [Piece] = []
    /// Every piece's blocks, piece after piece.
    var blocks: [BlockLocation] = []
    /// The sum of the blocks' plaintext sizes.
    var rawBytes = 0
    /// The job's place in the restore's order: of several failures, the earliest is reported.
    var sequence = 0

    /// Ends every piece as failed (nothing of it is written; a file none of whose pieces succeeded
    /// leaves no temporary file behind).
    func cancel() {
        for piece in pieces { try? piece.file.finishPiece(writtenEnd: 0, failed: true) }
    }
}

/// Collects files into jobs, in the order the restore meets them (which is the order a backup
/// stored them, so a job's blocks usually sit side by side in one pack).
struct RestoreJobBuilder {
    /// The plaintext a job holds at most (unless a single block is larger).
    static let jobBytes = 4 << 20
    /// The files a job holds at most.
    static let jobFiles = 256

    private var open = RestoreJob()
    private var nextSequence = 0

    /// The ranges of `locations` that become separate pieces: about `jobBytes` of plaintext each,
    /// never cut inside a shared frame (two pieces would decode it twice).
    static func pieces(of locations: [BlockLocation]) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        var start = 0
        var bytes = 0
        for (index, location) in locations.enumerated() {
            let sameFrame = index > 0 && location.entry.isShared && locations[index - 1].pack == location.pack
                && locations[index - 1].entry.offset == location.entry.offset
            if bytes > 0 && bytes + location.entry.rawLength > jobBytes && !sameFrame {
                pieces.append(start..<index)
                start = index
                bytes = 0
            }
            bytes += location.entry.rawLength
        }
        pieces.append(start..<locations.count)
        return pieces
    }

    /// Adds a file whose blocks were cut into `pieces` (as `pieces(of:)` does); returns the jobs
    /// that are complete, in order.
    mutating func add(_ file: RestoringFile, locations: [BlockLocation], pieces: [Range<Int>]) -> [RestoreJob] {
        var ready: [RestoreJob] = []
        let size = locations.reduce(0) { $0 + $1.entry.rawLength }
        if pieces.count > 1 || open.rawBytes + size > RestoreJobBuilder.jobBytes || open.pieces.count >= RestoreJobBuilder.jobFiles {
            if let job = flush() { ready.append(job) }
        }
        guard pieces.count > 1 else {
            append(file, fileOffset: 0, locations[...], to: &open)
            return ready
        }
        var fileOffset: Int64 = 0
        for range in pieces {
            var job = RestoreJob()
            append(file, fileOffset: fileOffset, locations[range], to: &job)
            fileOffset += Int64(job.rawBytes)
            ready.append(numbered(job))
        }
        return ready
    }

    /// The job still collecting files, if it has any.
    mutating func flush() -> RestoreJob? {
        guard !open.pieces.isEmpty else { return nil }
        defer { open = RestoreJob() }
        return numbered(open)
    }

    /// Ends the files of the job still collecting (the restore stops before it runs).
    mutating func cancel() {
        open.cancel()
        open = RestoreJob()
    }

    private func append(_ file: RestoringFile, fileOffset: Int64, _ locations: ArraySlice<BlockLocation>, to job: inout RestoreJob) {
        let first = job.blocks.count
        job.blocks.append(contentsOf: locations)
        job.pieces.append(RestoreJob.Piece(file: file, fileOffset: fileOffset, blocks: first..<job.blocks.count))
        job.rawBytes += locations.reduce(0) { $0 + $1.entry.rawLength }
    }

    private mutating func numbered(_ job: RestoreJob) -> RestoreJob {
        var job = job
        job.sequence = nextSequence
        nextSequence += 1
        return job
    }

    /// The sequence number the next job will get (a failure while planning reports this place).
    var sequence: Int { nextSequence }
}

/// The first failure of a restore (by job order), shared by the planner and the workers.
/// The copies of blocks (block, pack) that a restore's decoders found damaged: bytes that do not
/// decode, or do not match their hash (not unreadable packs or missing dictionaries).
final class RestoreDamage: Sendable {
    private let found = Mutex<[(id: BlockID, pack: String)]>([])

    var copies: [(id: BlockID, pack: String)] { found.withLock { $0 } }

    /// Records the copies of `ids` in `pack` when `failure` says their bytes are damaged.
    func record(_ failure: BlockDecodingFailure, _ ids: [BlockID], in pack: String) {
        if case .missingDictionary = failure { return }
        found.withLock { $0 += ids.map { ($0, pack) } }
    }
}

final class RestoreFailure: Sendable {
    private let first = Mutex<(sequence: Int, error: any Error)?>(nil)

    var hasFailed: Bool { first.withLock { $0 != nil } }

    var error: (any Error)? { first.withLock { $0?.error } }

    func record(_ error: any Error, sequence: Int) {
        first.withLock { current in
            if current == nil || sequence < current!.sequence { current = (sequence, error) }
        }
    }
}
