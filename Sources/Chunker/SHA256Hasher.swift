import COpenSSL

/// SHA-256 through OpenSSL's libcrypto (which uses the CPU's SHA extensions where present).
///
/// One hasher owns one digest context and reuses it for every block, so hashing a block allocates
/// nothing. A hasher is not thread-safe: give each worker its own.
public final class SHA256Hasher {
    private let context: OpaquePointer
    private let algorithm: OpaquePointer

    /// Creates a hasher. Traps only if libcrypto cannot provide SHA-256, which means a broken install.
    public init() {
        guard let algorithm = EVP_MD_fetch(nil, "SHA256", nil), let context = EVP_MD_CTX_new() else {
            fatalError("libcrypto provides no SHA-256; check the OpenSSL installation")
        }
        self.algorithm = algorithm
        self.context = context
        reset()
    }

    deinit {
        EVP_MD_CTX_free(context)
        EVP_MD_free(algorithm)
    }

    /// Starts a new incremental digest, discarding any bytes fed since the last `finalize()`.
    public func reset() {
        let ok = EVP_DigestInit_ex(context, algorithm, nil)
        precondition(ok == 1, "EVP_DigestInit_ex failed")
    }

    /// Feeds bytes to the incremental digest.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let ok = EVP_DigestUpdate(context, base, bytes.count)
        precondition(ok == 1, "EVP_DigestUpdate failed")
    }

    /// Ends the incremental digest, returns it, and leaves the hasher ready for the next one.
    public func finalize() -> BlockID {
        var digest: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        let id = withUnsafeMutableBytes(of: &digest) { buffer -> BlockID in
            var length: UInt32 = 0
            let ok = EVP_DigestFinal_ex(context, buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), &length)
            precondition(ok == 1 && length == 32, "EVP_DigestFinal_ex failed")
            return BlockID(digest: UnsafeRawBufferPointer(buffer))
        }
        reset()
        return id
    }

    /// The SHA-256 of `bytes`, in one call. Any incremental digest in progress is discarded.
    public func hash(_ bytes: UnsafeRawBufferPointer) -> BlockID {
        reset()
        update(bytes)
        return finalize()
    }

    /// The SHA-256 of a byte array, for callers off the hot path.
    public static func hash(_ bytes: [UInt8]) -> BlockID {
        let hasher = SHA256Hasher()
        return bytes.withUnsafeBytes { hasher.hash($0) }
    }
}
