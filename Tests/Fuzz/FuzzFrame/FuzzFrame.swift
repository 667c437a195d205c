import Replication

/// libFuzzer target: the frame reassembler. The first input byte sets how the rest is cut into
/// appends (as a stream arrives in pieces); every frame handed out must re-encode to exactly the
/// bytes it was cut from, and a refused length must stay refused.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = Array(UnsafeRawBufferPointer(start: start, count: count))
    guard let first = input.first else { return 0 }
    let stream = Array(input.dropFirst())
    let piece = Int(first) + 1
    var decoder = FrameDecoder()
    var consumed = 0
    var offset = 0
    while offset < stream.count {
        let end = min(stream.count, offset + piece)
        decoder.append(stream[offset..<end])
        offset = end
        do {
            while let (type, payload) = try decoder.next() {
                let encoded = Frame.encode(type: type, payload: payload)
                precondition(Array(stream[consumed..<consumed + encoded.count]) == encoded, "a frame does not match the bytes it came from")
                consumed += encoded.count
            }
        } catch {
            return 0
        }
    }
    return 0
}
