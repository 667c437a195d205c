/// A protocol session as a pure state machine: events in, actions out, no I/O.
public protocol ReplicationSession {
    associatedtype Event
    associatedtype Action
    /// The actions to take first (this side's hello).
    func start() -> [Action]
    /// Takes one event and returns what to do next, in order.
    mutating func handle(_ event: Event) -> [Action]
    var isFinished: Bool { get }
    /// The event of a message received from the peer.
    static func received(_ message: Message) -> Event
}

extension SenderSession: ReplicationSession {
    public static func received(_ message: Message) -> Event { .received(message) }
}

extension ReceiverSession: ReplicationSession {
    public static func received(_ message: Message) -> Event { .received(message) }
}

/// What performing one action comes to, for the driver's loop.
public enum SessionStep<Event> {
    /// A message for the peer.
    case send(Message)
    /// The answer to feed back to the session.
    case answer(Event)
    case finish
    case fail(ReplicationError)
}

/// Runs a session: performs its actions with `perform` (the side's vault: `SenderDriver`,
/// `ReceiverDriver`), feeds the answers back, and sends its messages. Every action is performed,
/// in order, before the next message is taken, as the sessions' contract asks. A failure on this
/// side (an action that throws) is sent to the peer as a close with the reason before it is
/// thrown; a failure the session reports has already told the peer when it should hear it.
@dynamicMemberLookup
public final class SessionDriver<Session: ReplicationSession> {
    public private(set) var session: Session
    private let perform: (Session.Action) throws -> SessionStep<Session.Event>
    /// Called on the driver's thread with the session after every event it takes (a message, or
    /// the answer to a read), e.g. to publish its counters to a progress display. Set before `run`.
    public var observer: ((Session) -> Void)?

    public init(_ session: Session, perform: @escaping (Session.Action) throws -> SessionStep<Session.Event>) {
        self.session = session
        self.perform = perform
    }

    /// The session's state and counters (`blocksSent`, `snapshotsAdded`, …), read through.
    public subscript<Value>(dynamicMember keyPath: KeyPath<Session, Value>) -> Value { session[keyPath: keyPath] }

    public var isFinished: Bool { session.isFinished }

    /// Runs the session over `connection` until it finishes; throws why it failed.
    public func run(over connection: Connection) throws {
        let send = { (message: Message) throws in try Self.send(message, over: connection) }
        try process(session.start(), send: send)
        while !session.isFinished {
            let message = try connection.receive()
            let actions = session.handle(Session.received(message))
            observer?(session)
            try process(actions, send: send)
        }
    }

    /// Sends a message. A peer that refused something closes right after saying why, so a write
    /// can fail on its closed stream: its reason, still waiting to be read, is the error then.
    private static func send(_ message: Message, over connection: Connection) throws {
        do { try connection.send(message) } catch {
            while let next = try? connection.receive() {
                if case .close(let reason) = next, !reason.isEmpty { throw ReplicationError.peerFailed(reason) }
            }
            throw error
        }
    }

    /// The messages to send first.
    public func start() throws -> [Message] {
        var messages: [Message] = []
        try process(session.start()) { messages.append($0) }
        return messages
    }

    /// Feeds one message from the peer and returns the messages to send back, after performing
    /// every action it leads to. Throws the failure instead (its close, if any, is not returned).
    public func handle(_ message: Message) throws -> [Message] {
        var messages: [Message] = []
        let actions = session.handle(Session.received(message))
        observer?(session)
        try process(actions) { messages.append($0) }
        return messages
    }

    private func process(_ actions: [Session.Action], send: (Message) throws -> Void) throws {
        var queue = actions[...]
        while let action = queue.popFirst() {
            let step: SessionStep<Session.Event>
            do { step = try perform(action) } catch {
                try? send(.close(reason: "\(error)"))
                throw error
            }
            switch step {
            case .send(let message): try send(message)
            case .answer(let event):
                queue += session.handle(event)
                observer?(session)
            case .finish: break
            case .fail(let error): throw error
            }
        }
    }
}
