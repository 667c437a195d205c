import Store

/// libFuzzer target: the pack footer parser, given the input as a whole pack file. Besides never
/// trapping, every entry it accepts must lie inside the file before the footer (its contract).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let file = Array(UnsafeRawBufferPointer(start: start, count: count))
    let parsed = try? PackFormat.parseFooter(fileSize: file.count, name: "fuzz") { (offset, length) throws(StoreError) -> [UInt8] in
        guard offset >= 0, length >= 0, offset <= file.count - length else { throw .corrupt("read outside the file") }
        return Array(file[offset..<offset + length])
    }
    if let (_, entries) = parsed {
        for entry in entries {
            precondition(entry.offset >= PackFormat.header.count && entry.storedLength >= 0 && entry.rawLength >= 0
                         && entry.offset + entry.storedLength <= file.count - PackFormat.trailerSize,
                         "footer entry outside the pack accepted")
        }
    }
    return 0
}
