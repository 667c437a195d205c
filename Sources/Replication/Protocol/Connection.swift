/// Messages over a byte stream: each message sent goes out as one frame; frames received are
/// reassembled and decoded (and so checked) one message at a time. One session drives it at a time.
public final class Connection {
    public let stream: any ByteStream
    private var decoder = FrameDecoder()

    public init(stream: any ByteStream) { self.stream = stream }

    public func send(_ message: Message) throws(ReplicationError) { try stream.write(message.encoded()) }

    /// The next message; throws when the stream ends first.
    public func receive() throws(ReplicationError) -> Message {
        while true {
            if let (type, payload) = try decoder.next() { return try Message.decode(type: type, payload: payload) }
            let bytes = try stream.read(maximum: 1 << 20)
            guard !bytes.isEmpty else { throw .transport("the peer closed the connection") }
            decoder.append(bytes)
        }
    }
}
