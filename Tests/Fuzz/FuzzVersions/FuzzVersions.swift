import Store

/// libFuzzer target: `MetadataRecord.decodeVersions`, which reads versions records from metadata
/// packs (repair) and from a peer's index batches. Malformed input must throw, never trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = Array(UnsafeRawBufferPointer(start: start, count: count))
    _ = try? MetadataRecord.decodeVersions(input)
    return 0
}
