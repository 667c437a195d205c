import Chunker
import Foundation
import Synchronization

/// Compresses and stores new large blocks on threads of its own, so that one large file keeps every
/// core busy: the worker reading the file only chunks and hashes, and hands its new blocks over,
/// copied into one of a few recycled buffers (a full queue makes the worker wait: memory stays
/// bounded). A file's consecutive new blocks share a buffer until their plaintext reaches
/// `PackFormat.frameTarget`, and a buffer of several blocks is stored as one zstd frame: larger
/// frames compress smaller and faster than one per block (see `frameTarget`). Small blocks, which
/// come from small files that the workers already spread over the cores, are cheaper to compress
/// where they are read (see `BackupWorker`).
final class CompressionStage: Sendable {
    /// Blocks' bytes on their way to a compressor, one after another; grown to the largest frame it
    /// has carried.
    final class Buffer: @unchecked Sendable {
        // @unchecked: a buffer belongs to exactly one party at a time (the pool, a worker filling
        // it, the queue, or one compressor).
        fileprivate var memory = UnsafeMutableRawBufferPointer.allocate(byteCount: 0, alignment: 16)
        fileprivate var length = 0
        fileprivate var blocks: [(id: BlockID, rawLength: Int)] = []

        fileprivate func append(id: BlockID, bytes: UnsafeRawBufferPointer) {
            if memory.count < length + bytes.count {
                let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: max(length + bytes.count, PackFormat.frameTarget + bytes.count),
                                                                   alignment: 16)
                if length > 0 { grown.baseAddress!.copyMemory(from: memory.baseAddress!, byteCount: length) }
                memory.deallocate()
                memory = grown
            }
            if let base = bytes.baseAddress, bytes.count > 0 { (memory.baseAddress! + length).copyMemory(from: base, byteCount: bytes.count) }
            length += bytes.count
            blocks.append((id, bytes.count))
        }

        fileprivate func empty() {
            length = 0
            blocks.removeAll(keepingCapacity: true)
        }

        deinit { memory.deallocate() }
    }

    /// The buffers not in use, last returned first out: a backup that keeps only a few busy (one
    /// large file) touches only those few, and the others never grow.
    private final class Pool: Sendable {
        private let buffers: Mutex<[Buffer]>
        private let available: DispatchSemaphore

        init(count: Int) {
            buffers = Mutex((0..<count).map { _ in Buffer() })
            // Created at 0 and raised: libdispatch kills the process (SIGILL) when a semaphore is
            // freed below the value it was created with, which a failed backup's pool may be (a
            // worker that failed keeps the buffer it was filling).
            available = DispatchSemaphore(value: 0)
            for _ in 0..<count { available.signal() }
        }

        func take() -> Buffer {
            available.wait()
            return buffers.withLock { $0.removeLast() }
        }

        func give(_ buffer: Buffer) {
            buffers.withLock { $0.append(buffer) }
            available.signal()
        }
    }

    private let jobs: BoundedQueue<Buffer>
    private let spare: Pool
    private let failure = Mutex<StoreError?>(nil)
    private let group = DispatchGroup()

    /// Starts `threads` compressors writing to `packs`, fed by `workers` workers.
    init(threads: Int, workers: Int, level: Int32, dictionary: ZstdDictionary?, packs: PackWriter, progress: BackupProgress) {
        // One buffer filling per worker, and a queue's worth: a worker that needs a buffer holds
        // none, so at least one is always in the queue, in a compressor, or spare.
        let count = workers + 2 * threads + 1
        // A frame waiting for each compressor is enough to keep them busy; more would only hold memory.
        jobs = BoundedQueue(capacity: threads)
        spare = Pool(count: count)
        for _ in 0..<threads {
            group.enter()
            let thread = Thread { [self] in
                Thread.current.name = "bv-compressor"   // shows in /proc/PID/task/*/comm, for profiling
                ThreadPriority.lowerCurrentThread()
                defer { group.leave() }
                let encoder = BlockEncoder(level: level, dictionary: dictionary)
                while let job = jobs.pop() {
                    defer {
                        job.empty()
                        spare.give(job)
                    }
                    if failure.withLock({ $0 != nil }) { continue }
                    do throws(StoreError) {
                        let plain = UnsafeRawBufferPointer(rebasing: job.memory[0..<job.length])
                        progress.bytesAdded.add(Int64(try encoder.store(plain, blocks: job.blocks, in: packs)), ordering: .relaxed)
                    } catch {
                        failure.withLock { if $0 == nil { $0 = error } }
                    }
                }
            }
            thread.stackSize = 1 << 22
            thread.start()
        }
    }

    /// Gathers one worker's new blocks into frames; not thread-safe: one per worker.
    final class Frames {
        private let stage: CompressionStage
        private var filling: Buffer?

        fileprivate init(stage: CompressionStage) { self.stage = stage }

        /// Adds a new block of the file being read (copied); hands the frame over once it is full.
        /// Waits while every buffer is in use. Throws the first failure of an earlier frame, which
        /// ends the backup.
        func add(id: BlockID, bytes: UnsafeRawBufferPointer) throws(StoreError) {
            if let error = stage.failure.withLock({ $0 }) { throw error }
            if filling == nil { filling = stage.spare.take() }
            filling!.append(id: id, bytes: bytes)
            if filling!.length >= PackFormat.frameTarget { try finish() }
        }

        /// Hands over the frame being filled, if any: to be called when the file's blocks end (also
        /// when its reading failed: every block added was claimed, and must be stored).
        func finish() throws(StoreError) {
            guard let buffer = filling else { return }
            filling = nil
            stage.jobs.push(buffer)
        }
    }

    /// A frame gatherer for one worker.
    func frames() -> Frames { Frames(stage: self) }

    /// Waits until every handed-over block is in a pack (sealed or open), then reports the first failure.
    /// Every worker's `Frames` must be finished first.
    func finish() throws(StoreError) {
        jobs.close()
        group.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }
}
