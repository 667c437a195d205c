import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Picks the samples a zstd dictionary is trained from, out of a directory about to be backed up:
/// small compressible regular files, found by random descents from the root (at each level one
/// entry at random, until a file or a dead end). The samples so come from all over the tree: the
/// backup's walk goes depth first in name order, and its first small files are all from one corner
/// (the documentation corpus starts with 130 MB of C headers). Measured on that corpus, a 256 KiB
/// dictionary trained from the first 2 MiB of small files in walk order saves 3.0 MB on the
/// corpus's small files, one trained from 2 MiB found by random descents 3.6 MB, from 4 MiB 3.8 MB
/// (8 MiB: 4.3 MB, but 7,000 descents and 0.15 s of training).
///
/// Entries the backup excludes are never read; symlinks are not followed; files are opened as the
/// backup opens them (beneath the root through real directories only, no blocking on a FIFO swapped in). Anything that cannot be
/// read is passed over silently: the backup itself reports it.
struct DictionarySampler {
    /// Samples wanted. The search and the training run before any file is stored, so they are time
    /// every first backup waits: on the documentation corpus 4 MiB takes 0.13 s to find and 0.07 s to
    /// train against 0.30 s and 0.12 s for 8 MiB, and the vault after the first backup is 0.17 MB
    /// (0.15%) larger; 2 MiB would save another 0.1 s for 0.36 MB more.
    static let budget = 4 << 20
    /// Fewer samples than this (once the descents are spent) train no dictionary.
    static let minimum = 1 << 20
    /// Only files this small are samples: the blocks a dictionary helps are whole small files.
    static let fileLimit = 64 << 10
    /// Bounds on the search, for trees with few small files or a cold cache: a vault whose tree
    /// never yields a dictionary pays this at each backup, so a run of fruitless descents (a
    /// quarter of the corpus's descents find a sample) ends it early.
    static let maximumDescents = 20_000
    static let maximumFruitlessDescents = 500
    static let maximumSeconds = 2.0

    let root: [UInt8]
    /// The root, open: directories and files are opened beneath it (`FileSystem.openBeneath`).
    let rootDescriptor: Int32
    let options: BackupOptions

    struct Samples {
        /// The samples one after another.
        var bytes: [UInt8] = []
        var sizes: [Int] = []
    }

    /// At least `minimum` bytes of samples, or nil when the tree has too few small compressible files.
    /// The descents run on one thread a core, each with its share of the budget, the descents and
    /// the fruitless run; they share the directory listings and the files taken. On two cores the
    /// dictionary phase of the 10^6-file tree's first backup went from 0.93 to 0.44 s (medians of 5),
    /// the documentation tree's from 0.15 to 0.13 s, for vaults of the same size.
    func collect() -> Samples? {
        let threads = max(1, min(4, ProcessInfo.processInfo.activeProcessorCount))
        let shared = Shared()
        let deadline = FileSystem.monotonicSeconds() + DictionarySampler.maximumSeconds
        let found = Mutex<[Samples]>([])
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            let samples = descend(budget: DictionarySampler.budget / threads, descents: DictionarySampler.maximumDescents / threads,
                                  fruitless: DictionarySampler.maximumFruitlessDescents / threads, deadline: deadline, shared: shared)
            found.withLock { $0.append(samples) }
        }
        var samples = Samples()
        samples.bytes.reserveCapacity(DictionarySampler.budget + threads * DictionarySampler.fileLimit)
        for part in found.withLock({ $0 }) {
            samples.bytes.append(contentsOf: part.bytes)
            samples.sizes.append(contentsOf: part.sizes)
        }
        return samples.bytes.count >= DictionarySampler.minimum ? samples : nil
    }

    /// What the descending threads share: directory listings (by path relative to the root, in the
    /// file system's order: a random pick needs no sorting) and the files taken as samples.
    private final class Shared: Sendable {
        let listings = Mutex<[[UInt8]: [[UInt8]]]>([:])
        let taken = Mutex<Set<[UInt8]>>([])

        func listing(_ directory: [UInt8], of sampler: DictionarySampler) -> [[UInt8]] {
            if let known = listings.withLock({ $0[directory] }) { return known }
            let names = sampler.list(directory)
            listings.withLock { $0[directory] = names }
            return names
        }
    }

    /// One thread's descents: samples until `budget` bytes, `descents` descents, `fruitless`
    /// descents in a row that found nothing, or the deadline.
    private func descend(budget: Int, descents: Int, fruitless: Int, deadline: Double, shared: Shared) -> Samples {
        var samples = Samples()
        samples.bytes.reserveCapacity(budget + DictionarySampler.fileLimit)
        let compressor = ZstdCompressor(level: 1)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: DictionarySampler.fileLimit, alignment: 16)
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: ZstdCompressor.bound(DictionarySampler.fileLimit), alignment: 16)
        defer {
            buffer.deallocate()
            output.deallocate()
        }
        var random = SystemRandomNumberGenerator()
        var lastFruitful = 0
        for descent in 0..<descents where samples.bytes.count < budget {
            if descent - lastFruitful > fruitless { break }
            if descent % 64 == 63 && FileSystem.monotonicSeconds() > deadline { break }
            var directory: [UInt8] = []
            for _ in 0..<256 {
                guard let name = shared.listing(directory, of: self).randomElement(using: &random) else { break }
                let path = directory.isEmpty ? name : directory + [UInt8(ascii: "/")] + name
                guard !options.excludes(path: path, name: name), let status = FileSystem.lstat(fullPath(path)) else { break }
                if status.st_mode & S_IFMT == S_IFDIR {
                    directory = path
                    continue
                }
                if status.st_mode & S_IFMT == S_IFREG, status.st_size >= 64, status.st_size <= DictionarySampler.fileLimit,
                   !DictionarySampler.isCompressedFormat(name), shared.taken.withLock({ $0.insert(path).inserted }),
                   let length = read(path, into: buffer), length >= 64 {
                    let plain = UnsafeRawBufferPointer(rebasing: buffer[0..<length])
                    if let compressed = compressor.compress(plain, into: output), compressed * 10 < length * 9 {
                        samples.bytes.append(contentsOf: plain)
                        samples.sizes.append(length)
                        lastFruitful = descent
                    }
                }
                break
            }
        }
        return samples
    }

    /// Names of formats that are compressed already (a quarter of the documentation corpus's small
    /// files are gzipped manual pages): passed over without reading them only to find they do not
    /// compress.
    static func isCompressedFormat(_ name: [UInt8]) -> Bool {
        guard let dot = name.lastIndex(of: UInt8(ascii: ".")) else { return false }
        let suffix = String(decoding: name[(dot + 1)...], as: UTF8.self).lowercased()
        return compressedSuffixes.contains(suffix)
    }

    private static let compressedSuffixes: Set<String> = [
        "gz", "tgz", "xz", "txz", "bz2", "zst", "lz4", "lzma", "br", "zip", "7z", "jar", "png", "jpg", "jpeg",
        "gif", "webp", "mp3", "mp4", "ogg", "pdf",
    ]

    private func fullPath(_ relative: [UInt8]) -> [UInt8] {
        relative.isEmpty ? root : root + [UInt8(ascii: "/")] + relative
    }

    /// The names in `directory` (relative to the root), unsorted; none when it cannot be listed.
    fileprivate func list(_ directory: [UInt8]) -> [[UInt8]] {
        // The root is opened afresh ("."): a listing moves the descriptor's position, and threads list at once.
        let descriptor = FileSystem.openBeneath(rootDescriptor, directory.isEmpty ? [UInt8(ascii: ".")] : directory,
                                                flags: O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return [] }
        defer { close(descriptor) }
        return (try? FileSystem.listDirectory(descriptor: descriptor, path: fullPath(directory), sorted: false)) ?? []
    }

    /// Up to `buffer.count` bytes from the start of a regular file (`relative` to the root); nil when
    /// it cannot be read.
    private func read(_ relative: [UInt8], into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        let flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC
        var opened = FileSystem.openBeneath(rootDescriptor, relative, flags: flags | BackupWorker.noAccessTime)
        if opened < 0 && errno == EPERM { opened = FileSystem.openBeneath(rootDescriptor, relative, flags: flags) }
        guard opened >= 0 else { return nil }
        defer { close(opened) }
        var status = stat()
        guard fstat(opened, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { return nil }
        var done = 0
        while done < buffer.count {
            let count = pread(opened, buffer.baseAddress! + done, buffer.count - done, off_t(done))
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { break }
            done += count
        }
        return done
    }
}
