import Foundation

/// The threads that write a restore's files and the bounded queue that feeds them: the planning
/// thread (the only one that touches the catalog) adds files in path order, grouped into jobs;
/// `workers` threads read, verify and write them. After the first failure, jobs still queued are
/// cancelled (their temporary files removed) and `add` stops the planning.
final class RestorePipeline {
    /// Thrown by `add` once the restore has failed; `finish` then throws the failure itself.
    struct Stopped: Error {}

    private let failure = RestoreFailure()
    private let queue: BoundedQueue<RestoreJob>
    private let group = DispatchGroup()
    private var builder = RestoreJobBuilder()

    init(storage: any PackStorage, workers: Int) {
        queue = BoundedQueue(capacity: 2 * workers)
        for _ in 0..<workers {
            group.enter()
            let (queue, failure, group) = (self.queue, self.failure, self.group)
            let thread = Thread {
                defer { group.leave() }
                let worker = RestoreWorker(storage: storage)
                while let job = queue.pop() {
                    if failure.hasFailed {
                        job.cancel()
                        continue
                    }
                    do { try worker.run(job) } catch { failure.record(error, sequence: job.sequence) }
                }
            }
            thread.stackSize = 1 << 22
            thread.start()
        }
    }

    /// Adds a file with the locations of its blocks (their plaintext must add up to its size).
    /// Throws `Stopped` when the restore has failed.
    func add(_ entry: FileVersion, destination: [UInt8], locations: [BlockLocation]) throws {
        let pieces = RestoreJobBuilder.pieces(of: locations)
        let file = RestoringFile(entry: entry, destination: destination, pieces: pieces.count)
        let ready = builder.add(file, locations: locations, pieces: pieces)
        for (index, job) in ready.enumerated() {
            guard !failure.hasFailed, queue.push(job) else {
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

    /// Hands over the last job, waits for the workers, and throws the restore's first failure.
    func finish() throws {
        if let job = builder.flush(), failure.hasFailed || !queue.push(job) { job.cancel() }
        queue.close()
        group.wait()
        if let error = failure.error { throw error }
    }
}
