/// The zstd dictionaries a vault's blocks may be compressed with, by dictionary ID, and those it
/// records but could not load (with the reason, for error messages). Shared by every reader of a
/// vault; a backup or a replica adds to it the dictionary it has just stored. Thread-safe.
public final class DictionarySet: Sendable {
    private struct State {
        var loaded: [UInt32: ZstdDictionary] = [:]
        var failures: [UInt32: String] = [:]
    }
    private let state = AdaptiveMutex(State())

    public init() {}

    /// Adds a dictionary (replacing a failure recorded under its ID).
    public func insert(_ dictionary: ZstdDictionary) {
        state.withLock {
            $0.loaded[dictionary.id] = dictionary
            $0.failures[dictionary.id] = nil
        }
    }

    /// Notes that the dictionary `id` is recorded but cannot be used, and why.
    public func recordFailure(id: UInt32, _ reason: String) {
        state.withLock { if $0.loaded[id] == nil { $0.failures[id] = reason } }
    }

    public func dictionary(id: UInt32) -> ZstdDictionary? { state.withLock { $0.loaded[id] } }

    /// Every dictionary loaded, by ascending ID.
    public var all: [ZstdDictionary] { state.withLock { $0.loaded.values.sorted { $0.id < $1.id } } }

    /// Recorded dictionaries that could not be loaded: (ID, reason), by ascending ID.
    public var failures: [(id: UInt32, reason: String)] {
        state.withLock { $0.failures.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
    }

    public var isEmpty: Bool { state.withLock { $0.loaded.isEmpty && $0.failures.isEmpty } }

    /// Why a block compressed with dictionary `id` cannot be read, as the end of a sentence.
    func whyMissing(_ id: UInt32) -> String {
        if let reason = state.withLock({ $0.failures[id] }) {
            return "zstd dictionary \(id), which cannot be loaded: \(reason)"
        }
        return "zstd dictionary \(id), which the vault does not have"
    }
}
