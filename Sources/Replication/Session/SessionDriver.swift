/// A protocol session: messages in, messages out.
public protocol ReplicationSession {
    func start() -> [Message]
    mutating func handle(_ message: Message) throws -> [Message]
    var isFinished: Bool { get }
}

extension SenderSession: ReplicationSession {
    public var isFinished: Bool { state == .finished }
}

extension ReceiverSession: ReplicationSession {
    public var isFinished: Bool { state == .finished }
}

/// Runs a session over a connection until it finishes. A failure on this side is sent to the peer
/// as a close with the reason before it is thrown.
public enum SessionDriver {
    public static func run<Session: ReplicationSession>(_ session: inout Session, over connection: Connection) throws {
        for message in session.start() { try connection.send(message) }
        while !session.isFinished {
            let incoming = try connection.receive()
            let replies: [Message]
            do { replies = try session.handle(incoming) } catch {
                if case .close = incoming {} else { try? connection.send(.close(reason: "\(error)")) }
                throw error
            }
            for reply in replies { try connection.send(reply) }
        }
    }
}
