import Store

/// Replication between vaults (need/have exchange over SSH or a local path) is not built yet; see
/// the replication issue. This module deliberately exports nothing that could pretend to work.
public enum Replication {
    /// The protocol version this build will speak once replication lands.
    public static let plannedProtocolVersion = 1
}
