/// A duplex byte stream: the one thing the protocol runs over (pipes, an SSH session, memory).
public protocol ByteStream: AnyObject {
    /// Up to `maximum` bytes; empty at end of stream.
    func read(maximum: Int) throws(ReplicationError) -> ArraySlice<UInt8>
    func write(_ bytes: [UInt8]) throws(ReplicationError)
}
