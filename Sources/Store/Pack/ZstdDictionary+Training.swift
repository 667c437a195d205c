import CZstd

extension ZstdDictionary {
    /// Trains a dictionary of at most `capacity` bytes from `samples` (concatenated; `sizes` gives
    /// each one's length, in order) for compression at `level`. Nil when zstd finds nothing worth a
    /// dictionary (too few samples, or samples too alike or too random).
    ///
    /// With fixed fastCover parameters (k 1000, d 8, f 18, accel 4) one pass trains a 256 KiB
    /// dictionary from 2 MiB of samples in about 0.03 s, where `ZDICT_trainFromBuffer` (which tries
    /// several k and measures each) takes about 0.25 s; on the small files of the documentation
    /// corpus both save as much. When the library is of another series than the headers, the stable
    /// `ZDICT_trainFromBuffer` is used instead.
    static func train(samples: UnsafeRawBufferPointer, sizes: [Int], capacity: Int, level: Int32) -> ZstdDictionary? {
        guard !sizes.isEmpty, samples.count == sizes.reduce(0, +) else { return nil }
        var output = [UInt8](repeating: 0, count: capacity)
        let length = output.withUnsafeMutableBytes { target in
            sizes.withUnsafeBufferPointer { sizes in
                if experimentalInterfaceMatches {
                    var parameters = ZDICT_fastCover_params_t()
                    parameters.k = 1000
                    parameters.d = 8
                    parameters.f = 18
                    parameters.accel = 10
                    parameters.zParams.compressionLevel = level
                    return ZDICT_trainFromBuffer_fastCover(target.baseAddress, target.count, samples.baseAddress,
                                                           sizes.baseAddress, UInt32(sizes.count), parameters)
                }
                return ZDICT_trainFromBuffer(target.baseAddress, target.count, samples.baseAddress, sizes.baseAddress, UInt32(sizes.count))
            }
        }
        guard ZDICT_isError(length) == 0 else { return nil }
        output.removeLast(output.count - length)
        return try? ZstdDictionary(bytes: output)
    }
}
