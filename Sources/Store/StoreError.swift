#if canImport(Glibc)
import Glibc
#endif

/// Errors of the Store module: each says what failed and on which path, block or pack.
public enum StoreError: Error, CustomStringConvertible, Equatable {
    /// A system call failed on a path.
    case io(path: String, operation: String, errno: Int32)
    /// The catalog (SQLite) refused or failed.
    case catalog(String)
    /// Stored data is damaged or does not match its hash.
    case corrupt(String)
    /// The vault's configuration or layout is not usable.
    case invalidVault(String)
    /// Another process holds the vault's lock.
    case locked(String)
    /// The user asked for something that does not exist or cannot be done.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .io(let path, let operation, let code):
            "\(operation) \(path): \(String(cString: strerror(code)))"
        case .catalog(let message): "catalog: \(message)"
        case .corrupt(let message): "damaged data: \(message)"
        case .invalidVault(let message): message
        case .locked(let message): message
        case .invalidArgument(let message): message
        }
    }

    /// An I/O error from the current `errno`.
    static func system(_ operation: String, _ path: String) -> StoreError {
        .io(path: path, operation: operation, errno: errno)
    }
}
