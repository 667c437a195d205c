/// Maps pack names to storage keys and back: pack `NAME` is the object `packs/ab/NAME.pack`,
/// where `ab` is the name's first two characters (a directory level that keeps local directories
/// small; an object store takes the key as it is).
public enum PackKey {
    /// The prefix every pack's key starts with.
    public static let prefix = "packs/"

    /// The key of pack `name`.
    public static func key(for name: String) -> String { "packs/\(name.prefix(2))/\(name).pack" }

    /// The pack name a key holds, or nil for a key that is no pack's (another object under
    /// `packs/`, a hidden file, an upload's leftover).
    public static func name(of key: String) -> String? {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "packs", parts[1].count == 2 else { return nil }
        let file = parts[2]
        guard file.hasSuffix(".pack"), !file.hasPrefix("."), file.count > 5 else { return nil }
        return String(file.dropLast(5))
    }
}
