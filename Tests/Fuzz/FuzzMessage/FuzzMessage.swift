import Replication

/// libFuzzer target: `Message.decode`, the validation of everything a peer sends. The first input
/// byte is the frame type, the rest its payload. A refusal is fine; a trap or crash is the bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = Array(UnsafeRawBufferPointer(start: start, count: count))
    guard let type = input.first else { return 0 }
    _ = try? Message.decode(type: type, payload: Array(input.dropFirst()))
    return 0
}
