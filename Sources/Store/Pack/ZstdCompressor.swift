import CZstd
#if canImport(Glibc)
import Glibc
#endif

/// zstd compression of single blocks and shared frames with a reused context (no allocation per
/// block), optionally with a dictionary. Not thread-safe: one per worker.
public final class ZstdCompressor {
    private let context: OpaquePointer
    public let level: Int32
    /// Kept alive for as long as the context refers to its prepared form.
    public let dictionary: ZstdDictionary?
    /// Whether the context is set for a large input (see `compress`).
    private var largeInputParameters = false
    /// Gives the context's memory; freed after it.
    let memory = WorkspaceMemory()

    public init(level: Int32 = 3) {
        context = memory.createContext()
        self.level = level
        dictionary = nil
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        ZstdCompressor.setFrameParameters(context)
    }

    /// A compressor whose every frame uses `dictionary` and names it in its header. Nil when zstd
    /// cannot prepare the dictionary (out of memory).
    public init?(level: Int32, dictionary: ZstdDictionary) {
        guard let prepared = dictionary.prepared(level: level) else { return nil }
        context = memory.createContext()
        self.level = level
        self.dictionary = dictionary
        ZstdCompressor.setFrameParameters(context)
        ZSTD_CCtx_setParameter(context, ZSTD_c_dictIDFlag, 1)
        ZSTD_CCtx_refCDict(context, prepared)
        if ZstdDictionary.experimentalInterfaceMatches {
            // Blocks of 16 KiB and more would otherwise copy the dictionary's tables (1 MiB for a
            // 256 KiB dictionary) into the context for each frame: measured on the documentation
            // corpus's small files, attaching is 25% faster for the same size.
            ZSTD_CCtx_setParameter(context, ZSTD_c_experimentalParam4, Int32(ZSTD_dictForceAttach.rawValue))
        }
    }

    private static func setFrameParameters(_ context: OpaquePointer) {
        // The block's hash already protects it; a frame checksum would cost time for nothing.
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 0)
        ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 1)
    }

    deinit { ZSTD_freeCCtx(context) }   // before `memory` goes

    /// The buffer size that always suffices for `count` input bytes.
    public static func bound(_ count: Int) -> Int { ZSTD_compressBound(count) }

    /// Compresses `source` into `destination`; returns the compressed length, or nil if it did not
    /// fit (callers that pass `bound(source.count)` bytes always get a length).
    ///
    /// At level 3, an input over 256 KiB (a shared frame) is compressed with zstd's fast strategy, a
    /// hash table of 2^16 entries (256 KiB) and matches of 5 bytes or more, instead of level 3's
    /// double-fast strategy with tables of 2^17 and 2^16 entries (768 KiB), which beside a 2 MiB
    /// frame and its output no longer stay in a core's cache. In the backup (interleaved medians of
    /// 5 to 7), this takes about 6% off the CPU time of the binaries' and the big file's initial
    /// backups, against double-fast with 2^16/2^15 tables (chosen in 84e2e48), for a vault 1.4–1.6%
    /// larger (binaries 175.3 → 177.7 MB, big file 262.7 → 267.0 MB, docs tree +0.2%). Other
    /// settings measured worse: a 2^17 fast table was slower than either; double-fast with 2^15/2^14
    /// tables compressed slower for the same size; level 2 (fast, 6-byte matches) is the fastest but
    /// made the binaries 182.4 MB (restic: 181.4). Smaller inputs keep zstd's own parameters, which
    /// it already scales down for them, and other levels are zstd's.
    public func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int? {
        if level == 3 && dictionary == nil {
            let large = source.count > 256 << 10
            if large != largeInputParameters {
                largeInputParameters = large
                ZSTD_CCtx_setParameter(context, ZSTD_c_strategy, large ? Int32(ZSTD_fast.rawValue) : 0)
                ZSTD_CCtx_setParameter(context, ZSTD_c_hashLog, large ? 16 : 0)
                ZSTD_CCtx_setParameter(context, ZSTD_c_minMatch, large ? 5 : 0)
            }
        }
        let result = ZSTD_compress2(context, destination.baseAddress, destination.count,
                                    source.baseAddress, source.count)
        return ZSTD_isError(result) != 0 ? nil : result
    }
}

/// The memory of one compression context, which keeps the last large block zstd freed and hands it
/// back for the next request it covers. zstd replaces a context's workspace whenever its inputs'
/// sizes call for a larger one, or for one a third the size 128 times running; a reader compressing
/// small files against the dictionary did so about 150 times in the docs tree's first backup, and
/// each new workspace (up to 0.9 MB, over the process's mmap threshold) was mapped afresh and
/// faulted in page by page as zstd cleared its tables. Kept, a workspace stays as large as the
/// largest the context needed: at most a few MB for a whole backup.
final class WorkspaceMemory {
    /// A block's capacity is stored in front of it.
    private static let header = 16
    /// Freed blocks smaller than this go straight back to malloc, and smaller requests never take
    /// the kept block (the context's own small allocations).
    private static let keepSize = 64 << 10
    private var spare: UnsafeMutableRawPointer?
    /// How often a kept block served a request (for tests).
    private(set) var reuses = 0

    /// A compression context whose allocations come from here (zstd's own allocator when the
    /// running library is of another series than the one compiled against: the interface is
    /// experimental).
    func createContext() -> OpaquePointer {
        let created: OpaquePointer?
        if ZstdDictionary.experimentalInterfaceMatches {
            let memory = ZSTD_customMem(
                customAlloc: { opaque, size in
                    Unmanaged<WorkspaceMemory>.fromOpaque(opaque!).takeUnretainedValue().allocate(size)
                },
                customFree: { opaque, address in
                    Unmanaged<WorkspaceMemory>.fromOpaque(opaque!).takeUnretainedValue().free(address)
                },
                opaque: Unmanaged.passUnretained(self).toOpaque())
            created = ZSTD_createCCtx_advanced(memory)
        } else {
            created = ZSTD_createCCtx()
        }
        guard let created else { fatalError("ZSTD_createCCtx failed: out of memory") }
        return created
    }

    private static func capacity(_ block: UnsafeMutableRawPointer) -> Int { block.load(as: Int.self) }

    private func allocate(_ size: Int) -> UnsafeMutableRawPointer? {
        if size >= WorkspaceMemory.keepSize, let block = spare, WorkspaceMemory.capacity(block) >= size {
            spare = nil
            reuses += 1
            return block + WorkspaceMemory.header
        }
        guard let block = malloc(size + WorkspaceMemory.header) else { return nil }
        block.storeBytes(of: size, as: Int.self)
        return block + WorkspaceMemory.header
    }

    private func free(_ address: UnsafeMutableRawPointer?) {
        guard let address else { return }
        let block = address - WorkspaceMemory.header
        let size = WorkspaceMemory.capacity(block)
        guard size >= WorkspaceMemory.keepSize else { return Glibc.free(block) }
        if let kept = spare {
            guard WorkspaceMemory.capacity(kept) < size else { return Glibc.free(block) }
            Glibc.free(kept)
        }
        spare = block
    }

    deinit {
        if let spare { Glibc.free(spare) }
    }
}

/// zstd decompression of single blocks, bounded by the block's declared size: a frame that would
/// expand beyond it is an error, never an allocation. Not thread-safe: one per worker.
public final class ZstdDecompressor {
    private let context: OpaquePointer

    public init() {
        guard let context = ZSTD_createDCtx() else { fatalError("ZSTD_createDCtx failed: out of memory") }
        self.context = context
    }

    deinit { ZSTD_freeDCtx(context) }

    /// The plaintext size a frame declares in its header; nil when it declares none or is damaged.
    public static func declaredSize(_ source: UnsafeRawBufferPointer) -> Int? {
        let declared = ZSTD_getFrameContentSize(source.baseAddress, source.count)
        guard declared != ZSTD_CONTENTSIZE_UNKNOWN, declared != ZSTD_CONTENTSIZE_ERROR, declared <= UInt64(Int.max) else { return nil }
        return Int(declared)
    }

    /// Decompresses one frame into exactly `destination.count` bytes. Returns false when the frame is
    /// damaged, declares another size, does not fill the destination exactly, or needs a dictionary
    /// other than `dictionary` (or one when none is given).
    public func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer,
                           dictionary: ZstdDictionary? = nil) -> Bool {
        let declared = ZSTD_getFrameContentSize(source.baseAddress, source.count)
        guard declared == UInt64(destination.count) else { return false }
        let result = if let dictionary {
            ZSTD_decompress_usingDDict(context, destination.baseAddress, destination.count,
                                       source.baseAddress, source.count, dictionary.decompression)
        } else {
            ZSTD_decompressDCtx(context, destination.baseAddress, destination.count, source.baseAddress, source.count)
        }
        return ZSTD_isError(result) == 0 && result == destination.count
    }
}
