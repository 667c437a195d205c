/// Errors of the Replication module: what the peer did wrong or what failed, in one line.
public enum ReplicationError: Error, CustomStringConvertible, Equatable {
    /// The peer sent something malformed, oversized, unexpected or false.
    case protocolViolation(String)
    /// The peer reported an error and closed.
    case peerFailed(String)
    /// The transport failed or closed early.
    case transport(String)
    /// The replica's history of its master and the master's own differ; the text says what to do.
    case diverged(String)

    public var description: String {
        switch self {
        case .protocolViolation(let why): "peer protocol violation: \(why)"
        case .peerFailed(let why): "peer failed: \(why)"
        case .transport(let why): "connection: \(why)"
        case .diverged(let why): why
        }
    }
}
