/// What names a peer may send. A path inside a folder is relative, `/`-separated, with no empty,
/// `.` or `..` component, no NUL byte, and components of at most 255 bytes; a folder is an
/// absolute path with the same rules for its components. Anything else is refused before use.
public enum PathRules {
    public static func checkRelative(_ path: [UInt8]) throws(ReplicationError) {
        guard !path.isEmpty else { throw .protocolViolation("an empty path") }
        guard path.first != UInt8(ascii: "/") else { throw .protocolViolation("absolute path \(display(path)) where a relative one belongs") }
        try checkComponents(path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false), path: path)
    }

    public static func checkFolder(_ path: [UInt8]) throws(ReplicationError) {
        guard path.first == UInt8(ascii: "/") else { throw .protocolViolation("folder \(display(path)) is not absolute") }
        if path == [UInt8(ascii: "/")] { return }
        try checkComponents(path.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false), path: path)
    }

    private static func checkComponents(_ components: [ArraySlice<UInt8>], path: [UInt8]) throws(ReplicationError) {
        for component in components {
            guard !component.isEmpty else { throw .protocolViolation("path \(display(path)) has an empty component") }
            guard component.count <= 255 else { throw .protocolViolation("path \(display(path)) has a component over 255 bytes") }
            guard !component.contains(0) else { throw .protocolViolation("path \(display(path)) contains a NUL byte") }
            guard component != [UInt8(ascii: ".")] && component != [UInt8(ascii: "."), UInt8(ascii: ".")] else {
                throw .protocolViolation("path \(display(path)) has a '.' or '..' component")
            }
        }
    }

    static func display(_ path: [UInt8]) -> String {
        String(decoding: path.prefix(200).map { $0 == 0 ? UInt8(ascii: "?") : $0 }, as: UTF8.self)
    }
}
