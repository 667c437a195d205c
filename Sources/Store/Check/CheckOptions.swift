/// What `check` examines beyond the structure.
public struct CheckOptions: Sendable {
    /// Decompress and re-hash every block of the selected packs.
    public var readData = false
    /// Which packs `readData` reads (all when nil).
    public var subset: CheckSubset? = nil
    /// Threads that read and verify packs; defaults to the number of cores.
    public var workers = 0

    public init() {}
}

/// A part of the packs, so a large vault can be read a piece at a time.
public enum CheckSubset: Sendable, Equatable {
    /// About this percentage of the packs, chosen at random.
    case percent(Double)
    /// Part `n` of `t` (1-based): the packs whose position in name order is n-1 modulo t, so that
    /// running 1/t … t/t reads every pack exactly once.
    case part(Int, of: Int)

    /// Parses `P%` or `n/t`.
    public static func parse(_ text: String) throws(StoreError) -> CheckSubset {
        if text.hasSuffix("%"), let value = Double(text.dropLast()), value > 0, value <= 100 { return .percent(value) }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 2, let n = Int(parts[0]), let t = Int(parts[1]), t >= 1, n >= 1, n <= t { return .part(n, of: t) }
        throw .invalidArgument("cannot read subset '\(text)'; use a percentage such as 10% or a part such as 2/5")
    }

    func select(_ names: [String]) -> [String] {
        let sorted = names.sorted()
        switch self {
        case .percent(let value):
            let count = max(1, Int((Double(sorted.count) * value / 100).rounded(.up)))
            return Array(sorted.shuffled().prefix(count)).sorted()
        case .part(let n, let t):
            return sorted.enumerated().filter { $0.offset % t == n - 1 }.map(\.element)
        }
    }
}

/// What `check` found.
public struct CheckReport: Sendable {
    /// Each problem in one line: what is wrong, with which pack and block, and which file versions it breaks.
    public var problems: [String] = []
    /// Things that are not damage (garbage left by an interrupted writer, for example).
    public var notes: [String] = []
    public var packsChecked = 0
    public var packsRead = 0
    public var blocksRead = 0
    public var bytesRead: Int64 = 0
    public var seconds: Double = 0
}
