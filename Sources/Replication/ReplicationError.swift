/// Errors of the Replication module: what the peer did wrong or what failed, in one line.
public enum ReplicationError: Error, CustomStringConvertible, Equatable {
    /// The peer sent something malformed, oversized, unexpected or false.
    case protocolViolation(String)
    /// The peer reported an error and closed.
    case peerFailed(String)
    /// The transport failed or closed early.
    case transport(String)

    public var description: String {
        switch self {
        case .protocolViolation(let why): "peer protocol violation: \(why)"
        case .peerFailed(let why): "peer failed: \(why)"
        case .transport(let why): "connection: \(why)"
        }
    }
}
