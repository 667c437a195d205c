/// One fault a `FaultInjectingStorage` injects: which calls it hits, and what it does to them.
public struct StorageFault: Sendable {
    /// The calls of `BlobStorage` and `BlobUpload` a fault can hit.
    public enum Operation: String, Sendable, CaseIterable {
        case put, createIfAbsent, upload, append, commit, read, size, list, delete
    }

    /// What happens to a call hit.
    public enum Effect: Sendable {
        /// The call throws this error and does nothing.
        case error(StoreError)
        /// The call throws `StoreError.io` with this `errno`, naming the object's location and the
        /// call ("injected fault: cannot read"), and does nothing.
        case ioError(Int32)
        /// A read returns at most this many bytes fewer than asked (a backend's truncated range);
        /// other calls are not affected.
        case shortRead(by: Int)
        /// The call waits this many seconds, then runs.
        case latency(Double)
    }

    public var operations: Set<Operation>
    public var effect: Effect
    /// Calls matching the operations and `keys` that pass untouched before the fault starts.
    public var after: Int
    /// How many calls it hits once started (nil: every one after).
    public var times: Int?
    /// Which keys it hits (for `list`, the prefix); every key when nil.
    public var keys: (@Sendable (String) -> Bool)?

    public init(_ operations: Set<Operation>, _ effect: Effect, after: Int = 0, times: Int? = nil,
                keys: (@Sendable (String) -> Bool)? = nil) {
        self.operations = operations
        self.effect = effect
        self.after = after
        self.times = times
        self.keys = keys
    }

    /// An I/O error of the kind a failing disk or network gives (`EIO`).
    public static func ioError(_ operations: Set<Operation>, after: Int = 0, times: Int? = nil,
                               keys: (@Sendable (String) -> Bool)? = nil) -> StorageFault {
        StorageFault(operations, .ioError(5), after: after, times: times, keys: keys)
    }
}
