import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real OpenSSH server on 127.0.0.1 for one test: `/usr/sbin/sshd -D -e -f CONFIG` on a free
/// port, with its own host key, a client key pair and an authorized-keys file, all in `directory`
/// (nothing of the machine's ssh setup is read or changed, apart from creating `/run/sshd`, which
/// sshd needs for privilege separation). Stopped by `stop()` or when released.
///
/// `start` throws a `TestFailure` that says what to install when sshd or ssh-keygen is missing:
/// replication over SSH is a feature, so a machine without sshd fails its tests rather than
/// skipping them (`make test` installs openssh-server).
final class SSHServer {
    static let daemon = "/usr/sbin/sshd"
    static let keygen = "/usr/bin/ssh-keygen"
    static let client = "/usr/bin/ssh"

    /// Where the keys, configuration, pid file and log live.
    let directory: String
    let port: Int
    /// The user the client logs in as: whoever runs the tests (root in CI).
    let user: String
    /// The client's private key.
    let keyPath: String
    /// sshd's stderr (`-e`), for failure messages.
    let logPath: String
    /// sshd's process id while it runs (0 once stopped).
    private var pid: pid_t
    private var exited = false

    /// The `--ssh-command` for `blockvault push`: the test's key, no host-key prompts or records,
    /// never a password prompt, only errors on stderr. Split on spaces by push, so `directory` must
    /// not contain any (ScratchDirectory paths do not).
    var sshCommand: String {
        "\(Self.client) -i \(keyPath) -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR"
    }

    /// The same command as words, for running ssh directly.
    var sshArguments: [String] { sshCommand.split(separator: " ").map(String.init) }

    /// `ssh://user@127.0.0.1:PORT/absolute/path`.
    func url(_ absolutePath: String) -> String {
        precondition(absolutePath.hasPrefix("/"), "an ssh peer path must be absolute: \(absolutePath)")
        return "ssh://\(user)@127.0.0.1:\(port)\(absolutePath)"
    }

    /// The last lines of sshd's log.
    var logTail: String {
        let text = String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: logPath))) ?? Data(), as: UTF8.self)
        return text.split(separator: "\n").suffix(15).joined(separator: "\n")
    }

    private init(directory: String, port: Int, user: String, pid: pid_t) {
        self.directory = directory
        self.port = port
        self.user = user
        self.pid = pid
        keyPath = directory + "/client_key"
        logPath = directory + "/sshd.log"
    }

    /// Generates keys into `directory` (created if missing), starts sshd on a free loopback port
    /// and returns once the port accepts connections (at most `readyWithin` seconds per attempt).
    /// A port taken between choosing and binding it is retried with another.
    static func start(in directory: String, readyWithin: Double = 10) throws -> SSHServer {
        for tool in [daemon, keygen, client] where access(tool, X_OK) != 0 {
            throw TestFailure("\(tool) is missing: replication tests need OpenSSH (apt-get install openssh-server openssh-client; `make test` installs them)")
        }
        if !Files.exists(directory) { try Files.makeDirectory(directory, mode: 0o700) }
        // Privilege separation directory; sshd refuses to start without it (Debian creates it at boot).
        if !Files.exists("/run/sshd") {
            guard mkdir("/run/sshd", 0o755) == 0 || errno == EEXIST else {
                throw TestFailure("cannot create /run/sshd, which sshd needs: \(String(cString: strerror(errno))) (run the tests as root, or create it)")
            }
        }
        for key in ["host_key", "client_key"] where !Files.exists(directory + "/" + key) {
            _ = try Tool.output(keygen, ["-q", "-t", "ed25519", "-N", "", "-C", "blockvault-e2e", "-f", directory + "/" + key])
        }
        try Files.write(directory + "/authorized_keys", try Files.read(directory + "/client_key.pub"), mode: 0o600)
        let user = currentUserName()

        var failures: [String] = []
        for _ in 0..<5 {
            let port = try freeLoopbackPort()
            let config = directory + "/sshd_config"
            try Files.write(config, text: """
                ListenAddress 127.0.0.1
                Port \(port)
                HostKey \(directory)/host_key
                PidFile \(directory)/sshd.pid
                AuthorizedKeysFile \(directory)/authorized_keys
                PermitRootLogin prohibit-password
                PubkeyAuthentication yes
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                StrictModes no
                UsePAM no
                X11Forwarding no
                PrintMotd no
                LogLevel VERBOSE

                """)
            let pid = try spawn([daemon, "-D", "-e", "-f", config], log: directory + "/sshd.log")
            let server = SSHServer(directory: directory, port: port, user: user, pid: pid)
            let deadline = Clock.seconds() + readyWithin
            while Clock.seconds() < deadline && server.isRunning {
                if acceptsConnections(port: port) { return server }
                usleep(20_000)
            }
            let log = server.logTail
            server.stop()
            failures.append("port \(port): \(log.isEmpty ? "no output" : log)")
            // Only a lost race for the port is worth another attempt.
            guard log.contains("Address already in use") || log.contains("Cannot bind") else { break }
        }
        throw TestFailure("sshd did not start listening on 127.0.0.1 within \(readyWithin) s: \(failures.joined(separator: "\n---\n"))")
    }

    /// True until sshd has exited (reaping it if it has).
    var isRunning: Bool {
        guard pid > 0, !exited else { return false }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid || (result < 0 && errno == ECHILD) { exited = true }
        return !exited
    }

    /// Terminates sshd and waits for it (sessions already running finish on their own).
    func stop() {
        guard pid > 0 else { return }
        if isRunning {
            kill(pid, SIGTERM)
            let deadline = Clock.seconds() + 5
            while isRunning && Clock.seconds() < deadline { usleep(10_000) }
            if isRunning {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                _ = waitpid(pid, &status, 0)
            }
        }
        pid = 0
    }

    /// Starts `arguments` with stdin from /dev/null and stdout and stderr into `log` (sshd closes
    /// whatever else it inherits as it starts). Not through Foundation's `Process`: sshd closes every inherited
    /// descriptor at start-up, including the socket by which Process learns that its child ended,
    /// and Process then blocks its one monitoring thread in waitpid on sshd until sshd exits,
    /// so no other child's exit is noticed meanwhile (every later command would hang).
    private static func spawn(_ arguments: [String], log: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group, so a terminal's Ctrl-C reaches it only through stop().
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, arguments[0], &actions, &attributes, &argv, environ)
        guard result == 0 else { throw TestFailure("cannot start \(arguments[0]): \(String(cString: strerror(result)))") }
        return pid
    }

    deinit { stop() }

    // MARK: Sockets

    /// A port on 127.0.0.1 that nothing listens on right now (the kernel picks it; it may be
    /// taken again before it is used, which `start` retries).
    static func freeLoopbackPort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw TestFailure("socket: \(String(cString: strerror(errno)))") }
        defer { close(socket) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw TestFailure("bind 127.0.0.1:0: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        guard named == 0 else { throw TestFailure("getsockname: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// True when a TCP connection to 127.0.0.1:port succeeds.
    static func acceptsConnections(port: Int) -> Bool {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return false }
        defer { close(socket) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    private static func currentUserName() -> String {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return "root"
    }
}
