/// A Syncthing-style version vector: sorted (short device id, counter) pairs.
public struct VersionVector: Sendable, Hashable, CustomStringConvertible {
    public struct Counter: Sendable, Hashable {
        public var device: UInt64
        public var value: UInt64
    }

    public private(set) var counters: [Counter]

    public init(counters: [Counter] = []) {
        self.counters = counters.sorted { $0.device < $1.device }
    }

    /// The result of comparing two vectors.
    public enum Ordering: Sendable { case equal, greater, lesser, concurrent }

    /// This vector after `device` records a change at `nowSeconds`: its counter becomes
    /// max(counter + 1, now), so counters also order changes in time across devices.
    public func updated(by device: UInt64, nowSeconds: UInt64) -> VersionVector {
        var copy = self
        if let index = copy.counters.firstIndex(where: { $0.device == device }) {
            copy.counters[index].value = max(copy.counters[index].value + 1, nowSeconds)
        } else {
            copy.counters.append(Counter(device: device, value: nowSeconds))
            copy.counters.sort { $0.device < $1.device }
        }
        return copy
    }

    public func counter(for device: UInt64) -> UInt64 {
        counters.first { $0.device == device }?.value ?? 0
    }

    public func compare(_ other: VersionVector) -> Ordering {
        var greater = false
        var lesser = false
        for device in Set(counters.map(\.device) + other.counters.map(\.device)) {
            let mine = counter(for: device)
            let theirs = other.counter(for: device)
            if mine > theirs { greater = true }
            if mine < theirs { lesser = true }
        }
        switch (greater, lesser) {
        case (false, false): return .equal
        case (true, false): return .greater
        case (false, true): return .lesser
        case (true, true): return .concurrent
        }
    }

    /// 16 bytes a counter, device then value, big-endian: the catalog's and metadata's encoding.
    public var encoded: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(counters.count * 16)
        for counter in counters {
            withUnsafeBytes(of: counter.device.bigEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: counter.value.bigEndian) { bytes.append(contentsOf: $0) }
        }
        return bytes
    }

    public init(encoded bytes: [UInt8]) throws(StoreError) {
        guard bytes.count % 16 == 0 else { throw .corrupt("version vector of \(bytes.count) bytes") }
        var counters: [Counter] = []
        var index = 0
        while index < bytes.count {
            let device = bytes[index..<index + 8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let value = bytes[index + 8..<index + 16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            counters.append(Counter(device: device, value: value))
            index += 16
        }
        self.init(counters: counters)
    }

    /// `DEVICE:COUNTER,…` with devices as 16 hex digits.
    public var description: String {
        counters.map { counter in
            let hex = String(counter.device, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex + ":\(counter.value)"
        }.joined(separator: ",")
    }
}
