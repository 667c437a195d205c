import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The far side of a push: `blockvault serve --stdio` started locally for a path, or through the
/// system's ssh client for `ssh://[user@]host[:port]/path` (as borg and rsync do).
public final class PeerProcess {
    private let process = Process()
    private let toPeer = Pipe()
    private let fromPeer = Pipe()
    public let stream: FileDescriptorStream

    /// The command that serves `peer`. `sshCommand` is split on spaces (e.g. "ssh -i key -o
    /// StrictHostKeyChecking=no"); `remoteCommand` is the blockvault binary on the far side.
    public static func arguments(for peer: String, sshCommand: String = "ssh", remoteCommand: String = "blockvault") throws -> [String] {
        guard peer.hasPrefix("ssh://") else {
            guard !peer.isEmpty else { throw ReplicationError.transport("empty peer") }
            return [selfExecutable(), "serve", "--stdio", "--repo", peer]
        }
        let rest = peer.dropFirst("ssh://".count)
        guard let slash = rest.firstIndex(of: "/") else {
            throw ReplicationError.transport("\(peer) has no path; use ssh://[user@]host[:port]/path")
        }
        var host = String(rest[..<slash])
        let path = String(rest[slash...])
        var port: String?
        if let colon = host.lastIndex(of: ":"), !host.hasSuffix("]") {
            port = String(host[host.index(after: colon)...])
            host = String(host[..<colon])
            guard let number = Int(port!), number > 0, number < 65536 else { throw ReplicationError.transport("bad port in \(peer)") }
        }
        guard !host.isEmpty, !host.hasPrefix("-"), path.count > 1 else { throw ReplicationError.transport("cannot read \(peer); use ssh://[user@]host[:port]/path") }
        var arguments = sshCommand.split(separator: " ").map(String.init)
        guard !arguments.isEmpty else { throw ReplicationError.transport("empty --ssh-command") }
        if let port { arguments += ["-p", port] }
        arguments += [host, [remoteCommand, "serve", "--stdio", "--repo", path].map(shellQuoted).joined(separator: " ")]
        return arguments
    }

    static func shellQuoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    static func selfExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Starts the peer; its stderr is ours, so its one-line errors reach the user.
    public init(arguments: [String]) throws {
        if arguments[0].contains("/") && !FileManager.default.isExecutableFile(atPath: arguments[0]) {
            throw ReplicationError.transport("cannot run \(arguments[0]): not found or not executable")
        }
        process.executableURL = URL(fileURLWithPath: arguments[0].contains("/") ? arguments[0] : "/usr/bin/env")
        process.arguments = arguments[0].contains("/") ? Array(arguments.dropFirst()) : arguments
        process.standardInput = toPeer
        process.standardOutput = fromPeer
        do { try process.run() } catch {
            throw ReplicationError.transport("cannot start \(arguments[0]): \((error as NSError).localizedDescription)")
        }
        stream = FileDescriptorStream(input: fromPeer.fileHandleForReading.fileDescriptor,
                                      output: toPeer.fileHandleForWriting.fileDescriptor)
    }

    /// Closes our end and waits for the peer to exit; returns its exit status.
    public func finish() -> Int32 {
        try? toPeer.fileHandleForWriting.close()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
