import Synchronization

/// What a restore could not reproduce as recorded (an attribute the target refused, a device node
/// without privilege), one line each, collected from the planning and the writer thread; any of
/// them makes the restore partial. Thread-safe.
final class RestoreWarnings: Sendable {
    private let lines = Mutex<[String]>([])

    func add(_ line: String) { lines.withLock { $0.append(line) } }

    /// Each failure of `failures`, under the entry it concerns.
    func add(_ failures: [ExtendedAttributes.Failure], path display: String) {
        guard !failures.isEmpty else { return }
        lines.withLock { lines in lines += failures.map { "\(display): \($0)" } }
    }

    var all: [String] { lines.withLock { $0 } }
}
