/// Where a version received from a peer came from: the device that numbered it and the sequence
/// number that device gave it. A version made here has none (`FileVersion.origin` is nil).
///
/// A vault numbers every version it records itself (its local sequence); the origin keeps the
/// sender's numbering beside it, so that "what have I recorded from device D" is answered in D's
/// numbers, whichever peers a vault later takes versions from.
public struct VersionOrigin: Sendable, Hashable {
    /// The full id (hex) of the device that numbered the version.
    public var device: String
    /// That device's sequence number of the version.
    public var sequence: Int64

    public init(device: String, sequence: Int64) {
        self.device = device
        self.sequence = sequence
    }

    /// The short id (the first 16 hex digits as a number) that version vectors and the catalog's
    /// devices table name `device` by, as `VaultConfiguration.shortDeviceID` derives it.
    static func shortID(of device: String) -> UInt64 { UInt64(device.prefix(16), radix: 16) ?? 0 }
}
