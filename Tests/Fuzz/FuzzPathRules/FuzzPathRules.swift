import Replication

/// libFuzzer target: the names a peer may send. Whatever `PathRules` accepts is checked here again,
/// independently: no escape (`..`), no `.`, no empty component, no NUL, no component over 255 bytes,
/// relative paths not absolute and folders absolute.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let path = Array(UnsafeRawBufferPointer(start: start, count: count))
    let slash = UInt8(ascii: "/")
    func sound(_ components: [ArraySlice<UInt8>]) -> Bool {
        components.allSatisfy { component in
            !component.isEmpty && component.count <= 255 && !component.contains(0)
                && Array(component) != [46] && Array(component) != [46, 46]
        }
    }
    if (try? PathRules.checkRelative(path)) != nil {
        precondition(path.first != slash && sound(path.split(separator: slash, omittingEmptySubsequences: false)),
                     "relative path accepted that could escape")
    }
    if (try? PathRules.checkFolder(path)) != nil {
        precondition(path.first == slash, "folder accepted that is not absolute")
        if path != [slash] {
            precondition(sound(path.dropFirst().split(separator: slash, omittingEmptySubsequences: false)), "folder accepted that could escape")
        }
    }
    return 0
}
