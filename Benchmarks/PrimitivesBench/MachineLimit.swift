// The machine's limit for a backup: how fast this machine can SHA-256 and zstd-compress (level 3,
// the vault's level) every block of a set of files as the vault stores them, on a given number of
// threads: a file's consecutive blocks of 64 KiB and more share one frame until it holds 2 MiB
// (`PackFormat.frameTarget`), smaller blocks are compressed alone. The bytes are read into memory
// and cut into blocks (FastCDC, the vault's parameters, each file on its own) before the clock
// starts, so neither disk, chunking nor the vault's own work (verifying each frame, packs, catalog)
// counts.
import Chunker
import Dispatch
import Foundation
import Store
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Every regular file under `path` (or `path` itself), sorted; symlinks are not followed.
func regularFiles(under path: String) -> [String] {
    var status = stat()
    guard lstat(path, &status) == 0 else { return [] }
    if (status.st_mode & S_IFMT) == S_IFREG { return [path] }
    guard (status.st_mode & S_IFMT) == S_IFDIR,
          let enumerator = FileManager.default.enumerator(atPath: path) else { return [] }
    var found: [String] = []
    while let relative = enumerator.nextObject() as? String {
        let full = path + "/" + relative
        if lstat(full, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG { found.append(full) }
    }
    return found.sorted()
}

/// The bytes of many files in one buffer, the blocks the vault would cut them into, and the units
/// it would compress: one block, or the consecutive blocks of one shared frame.
/// The buffer is written once, before any thread reads it, and never freed (the process ends).
struct LoadedBlocks: @unchecked Sendable {  // read-only after `load`, shared by the worker threads
    let bytes: UnsafeRawBufferPointer
    let blocks: [Range<Int>]
    /// Ranges of `blocks`, each compressed as one frame.
    let units: [Range<Int>]
    let fileCount: Int

    static func load(_ paths: [String]) -> LoadedBlocks {
        let files = paths.flatMap(regularFiles(under:))
        let sizes = files.map(fileSize)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(sizes.reduce(0, +), 1), alignment: 64)
        let reader = BlockReader(parameters: .fastCDC)
        var blocks: [Range<Int>] = []
        var units: [Range<Int>] = []
        var start = 0
        for (file, size) in zip(files, sizes) {
            read(file, into: UnsafeMutableRawBufferPointer(rebasing: buffer[start..<start + size]))
            var frameStart: Int?   // the open frame's first block
            var frameBytes = 0
            func closeFrame() {
                if let first = frameStart { units.append(first..<blocks.count) }
                frameStart = nil
                frameBytes = 0
            }
            reader.forEachBlock(in: UnsafeRawBufferPointer(rebasing: buffer[start..<start + size])) { block in
                let offset = start + Int(block.offset)
                if block.length < PackFormat.frameMinimumBlock {
                    closeFrame()
                    units.append(blocks.count..<blocks.count + 1)
                    blocks.append(offset..<offset + block.length)
                    return
                }
                if frameStart == nil { frameStart = blocks.count }
                blocks.append(offset..<offset + block.length)
                frameBytes += block.length
                if frameBytes >= PackFormat.frameTarget { closeFrame() }
            }
            closeFrame()
            start += size
        }
        return LoadedBlocks(bytes: UnsafeRawBufferPointer(rebasing: buffer[0..<start]), blocks: blocks,
                            units: units, fileCount: files.count)
    }

    /// Hashes every block of every `threads`-th unit starting at `first`, and compresses the unit;
    /// returns the compressed size.
    func hashAndCompress(first: Int, every threads: Int) -> Int {
        let hasher = SHA256Hasher()
        let compressor = ZstdCompressor(level: 3)
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: ZstdCompressor.bound(PackFormat.frameTarget + (1 << 20)),
                                                            alignment: 16)
        defer { output.deallocate() }
        var compressed = 0
        var sink: UInt64 = 0
        for index in stride(from: first, to: units.count, by: threads) {
            let unit = units[index]
            for block in unit { sink &+= hasher.hash(UnsafeRawBufferPointer(rebasing: bytes[blocks[block]])).prefix64 }
            let plain = UnsafeRawBufferPointer(rebasing: bytes[blocks[unit.first!].lowerBound..<blocks[unit.last!].upperBound])
            compressed += min(compressor.compress(plain, into: output) ?? plain.count, plain.count)
        }
        return sink == 42 ? compressed + 1 : compressed
    }
}

/// Runs `body(0)` … `body(count - 1)` each on its own thread (not a pool, which may run them one
/// after another) and returns their results in order.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Int) -> [Int] {
    let results = Mutex([Int](repeating: 0, count: count))
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        Thread.detachNewThread {
            let result = body(index)
            results.withLock { $0[index] = result }
            group.leave()
        }
    }
    group.wait()
    return results.withLock { $0 }
}

/// Prints one line of `key=value` pairs: bytes, files, blocks, frames, threads, the best MB/s of
/// three runs of SHA-256 + zstd over every block on `threads` threads, and the compression ratio.
func machineLimit(paths: [String], threads: Int) {
    let loaded = LoadedBlocks.load(paths)
    let total = loaded.bytes.count
    var compressed = 0
    // The best of three runs: a limit is what the machine can do, and a machine shared with other
    // work only ever makes a run slower.
    let rate = (0..<3).map { _ in
        measure(total, repetitions: 1) {
            compressed = onThreads(threads) { loaded.hashAndCompress(first: $0, every: threads) }.reduce(0, +)
        }
    }.max()!
    print("bytes=\(total) files=\(loaded.fileCount) blocks=\(loaded.blocks.count) frames=\(loaded.units.count) threads=\(threads) mbs=\(fixed2(rate)) ratio=\(fixed2(Double(total) / Double(max(compressed, 1))))")
}
