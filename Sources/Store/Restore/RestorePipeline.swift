import Foundation

/// The threads that restore files and the bounded queues between them: the planning thread (the
/// only one that touches the catalog) adds files in path order, grouped into jobs; `decoders`
/// threads read and verify each job's blocks into one of a few reused buffers; one writer thread
/// writes them into the target and hands the buffers back. After the first failure, jobs still
/// queued are cancelled (their temporary files removed) and `add` stops the planning.
final class RestorePipeline {
    /// Thrown by `add` once the restore has failed; `finish` then throws the failure itself.
    struct Stopped: Error {}

    private let failure = RestoreFailure()
    /// The damaged copies of blocks the decoders met (see `Restorer`, which has them stored again).
    let damage = RestoreDamage()
    private let jobs: BoundedQueue<RestoreJob>
    private let decoded: BoundedQueue<(RestoreJob, RestoreBuffer)>
    private let decoding = DispatchGroup()
    private let writing = DispatchGroup()
    private var builder = RestoreJobBuilder()
    private let warnings: RestoreWarnings

    /// What the files could not be given as recorded goes to `warnings`; each file written (once
    /// its last piece is) and the bytes of each job count in `progress`.
    init(storage: any BlobStorage, dictionaries: DictionarySet, decoders: Int, warnings: RestoreWarnings,
         progress: OperationProgress = OperationProgress()) {
        self.warnings = warnings
        jobs = BoundedQueue(capacity: 2 * decoders)
        decoded = BoundedQueue(capacity: decoders + 1)
        // Buffers: one per decoder at work, plus two so the writer never waits for a decoder to start.
        let buffers = BoundedQueue<RestoreBuffer>(capacity: decoders + 2)
        for _ in 0..<decoders + 2 { buffers.push(RestoreBuffer()) }
        let (jobs, decoded, failure, damage) = (self.jobs, self.decoded, self.failure, self.damage)
        for _ in 0..<decoders {
            RestorePipeline.start(decoding) {
                let decoder = RestoreDecoder(storage: storage, dictionaries: dictionaries, damage: damage)
                while let job = jobs.pop() {
                    guard !failure.hasFailed, let buffer = buffers.pop() else {
                        job.cancel()
                        continue
                    }
                    do {
                        try decoder.decode(job, into: buffer)
                        if decoded.push((job, buffer)) { continue }
                        job.cancel()
                    } catch {
                        failure.record(error, sequence: job.sequence)
                        job.cancel()
                    }
                    buffers.push(buffer)
                }
            }
        }
        RestorePipeline.start(writing) {
            while let (job, buffer) = decoded.pop() {
                if failure.hasFailed {
                    job.cancel()
                } else {
                    do {
                        let files = try RestoreWriter.write(job, from: UnsafeRawBufferPointer(buffer.bytes))
                        progress.add(items: Int64(files), bytes: Int64(job.rawBytes))
                    } catch { failure.record(error, sequence: job.sequence) }
                }
                buffers.push(buffer)
            }
        }
    }

    private static func start(_ group: DispatchGroup, _ body: @escaping @Sendable () -> Void) {
        group.enter()
        let thread = Thread {
            defer { group.leave() }
            body()
        }
        thread.stackSize = 1 << 22
        thread.start()
    }

    /// Adds a file with the locations of its blocks (their plaintext must add up to its size).
    /// Throws `Stopped` when the restore has failed.
    func add(_ entry: FileVersion, destination: [UInt8], locations: [BlockLocation]) throws {
        let pieces = RestoreJobBuilder.pieces(of: locations)
        let file = RestoringFile(entry: entry, destination: destination, pieces: pieces.count, warnings: warnings)
        let ready = builder.add(file, locations: locations, pieces: pieces)
        for (index, job) in ready.enumerated() {
            guard !failure.hasFailed, jobs.push(job) else {
                ready[index...].forEach { $0.cancel() }
                throw Stopped()
            }
        }
    }

    /// Records a failure of the planning; the files it had not handed to a worker are not written.
    func fail(_ error: any Error) {
        builder.cancel()
        if !(error is Stopped) { failure.record(error, sequence: builder.sequence) }
    }

    /// Hands over the last job, waits for the decoders and the writer, and throws the restore's
    /// first failure.
    func finish() throws {
        if let job = builder.flush(), failure.hasFailed || !jobs.push(job) { job.cancel() }
        jobs.close()
        decoding.wait()
        decoded.close()
        writing.wait()
        if let error = failure.error { throw error }
    }
}
