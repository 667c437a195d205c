import CZstd
import Synchronization

/// A zstd dictionary, as `ZDICT_*` trains it: its bytes, its ID (which every frame compressed with
/// it carries in its header), a prepared decompression dictionary (`ZSTD_DDict`) made once, and a
/// prepared compression dictionary (`ZSTD_CDict`) made once, on first use, for the level asked.
/// Both are read-only after creation, which zstd documents as safe to share between threads.
public final class ZstdDictionary: @unchecked Sendable {
    // @unchecked: `decompression` never changes after init; `compression` is guarded by its Mutex,
    // and the CDict it holds is only read once made.
    public let id: UInt32
    public let bytes: [UInt8]
    let decompression: OpaquePointer
    private let compression = Mutex<(level: Int32, dictionary: OpaquePointer)?>(nil)

    /// No dictionary this build trains or accepts is larger (a peer's claim beyond it is refused).
    public static let maximumSize = 1 << 20

    /// Prepares `bytes`; throws `.corrupt` unless they are a zstd dictionary (with its magic number
    /// and a non-zero ID) of at most `maximumSize` bytes.
    public init(bytes: [UInt8]) throws(StoreError) {
        guard bytes.count <= ZstdDictionary.maximumSize else {
            throw .corrupt("a zstd dictionary of \(bytes.count) bytes is larger than any this build makes")
        }
        let id = bytes.withUnsafeBytes { ZDICT_getDictID($0.baseAddress, $0.count) }
        guard id != 0 else { throw .corrupt("the bytes recorded as a zstd dictionary are not one") }
        guard let prepared = bytes.withUnsafeBytes({ ZSTD_createDDict($0.baseAddress, $0.count) }) else {
            throw .corrupt("zstd cannot load dictionary \(id)")
        }
        self.id = id
        self.bytes = bytes
        decompression = prepared
    }

    deinit {
        ZSTD_freeDDict(decompression)
        if let made = compression.withLock({ $0 }) { ZSTD_freeCDict(made.dictionary) }
    }

    /// The prepared compression dictionary for `level`, made on the first call (a vault compresses
    /// at one level, so one is ever made). Nil when zstd cannot make it (out of memory).
    func prepared(level: Int32) -> OpaquePointer? {
        compression.withLock { made in
            if let made, made.level == level { return made.dictionary }
            guard made == nil else { return nil }
            guard let dictionary = bytes.withUnsafeBytes({ ZSTD_createCDict($0.baseAddress, $0.count, level) }) else { return nil }
            made = (level, dictionary)
            return dictionary
        }
    }

    /// The dictionary ID in a zstd frame's header; 0 when the frame names none (or is not a frame).
    public static func id(ofFrame frame: UnsafeRawBufferPointer) -> UInt32 {
        ZSTD_getDictID_fromFrame(frame.baseAddress, frame.count)
    }

    /// Whether the zstd library running is of the series (major.minor) this build was compiled
    /// against: only then are its experimental parameters (dictionary training with fixed
    /// parameters, attaching a dictionary instead of copying it) used, as their layout may change
    /// between series.
    static let experimentalInterfaceMatches: Bool = ZSTD_versionNumber() / 100 == UInt32(ZSTD_VERSION_MAJOR * 100 + ZSTD_VERSION_MINOR)
}
