import Chunker
import Foundation
import Synchronization

/// Compresses and stores new large blocks on threads of its own, so that one large file keeps every
/// core busy: the worker reading the file only chunks and hashes, and hands each new block over,
/// copied into one of a few recycled buffers (a full queue makes the worker wait: memory stays
/// bounded). Small blocks, which come from small files that the workers already spread over the
/// cores, are cheaper to compress where they are read (see `BackupWorker`).
final class CompressionStage: Sendable {
    /// A block's bytes on their way to a compressor; grown to the largest block it has carried.
    private final class Buffer: @unchecked Sendable {
        // @unchecked: a buffer belongs to exactly one party at a time (the pool, the queue, or one thread).
        var memory = UnsafeMutableRawBufferPointer.allocate(byteCount: 0, alignment: 16)
        var length = 0
        var id: BlockID?

        func fill(id: BlockID, bytes: UnsafeRawBufferPointer) {
            if memory.count < bytes.count {
                memory.deallocate()
                memory = .allocate(byteCount: bytes.count, alignment: 16)
            }
            if let base = bytes.baseAddress, bytes.count > 0 { memory.baseAddress!.copyMemory(from: base, byteCount: bytes.count) }
            length = bytes.count
            self.id = id
        }

        deinit { memory.deallocate() }
    }

    private let jobs: BoundedQueue<Buffer>
    private let spare: BoundedQueue<Buffer>
    private let failure = Mutex<StoreError?>(nil)
    private let group = DispatchGroup()

    /// Starts `threads` compressors writing to `packs`.
    init(threads: Int, level: Int32, dictionary: ZstdDictionary?, packs: PackWriter, progress: BackupProgress) {
        let count = 2 * threads + 1
        jobs = BoundedQueue(capacity: count)
        spare = BoundedQueue(capacity: count)
        for _ in 0..<count { spare.push(Buffer()) }
        for _ in 0..<threads {
            group.enter()
            let thread = Thread { [self] in
                Thread.current.name = "bv-compressor"   // shows in /proc/PID/task/*/comm, for profiling
                ThreadPriority.lowerCurrentThread()
                defer { group.leave() }
                let encoder = BlockEncoder(level: level, dictionary: dictionary)
                while let job = jobs.pop() {
                    defer { spare.push(job) }
                    if failure.withLock({ $0 != nil }) { continue }
                    do throws(StoreError) {
                        let plain = UnsafeRawBufferPointer(rebasing: job.memory[0..<job.length])
                        let id = job.id!
                        let (stored, encoding) = try encoder.encode(plain, id: id)
                        try packs.append(id: id, stored: stored, rawLength: job.length, encoding: encoding)
                        progress.bytesAdded.add(Int64(stored.count), ordering: .relaxed)
                    } catch {
                        failure.withLock { if $0 == nil { $0 = error } }
                    }
                }
            }
            thread.stackSize = 1 << 22
            thread.start()
        }
    }

    /// Hands a new block over to be compressed and stored; waits while every buffer is in use.
    /// Throws the first failure of an earlier block, which ends the backup.
    func submit(id: BlockID, bytes: UnsafeRawBufferPointer) throws(StoreError) {
        if let error = failure.withLock({ $0 }) { throw error }
        guard let buffer = spare.pop() else { throw .catalog("the compression stage is closed") }
        buffer.fill(id: id, bytes: bytes)
        jobs.push(buffer)
    }

    /// Waits until every handed-over block is in a pack (sealed or open), then reports the first failure.
    func finish() throws(StoreError) {
        jobs.close()
        group.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }
}
