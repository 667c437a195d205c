import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEndTests {
    /// `push` to receive-only replicas, by path and over a real sshd on 127.0.0.1: replicas mirror the
    /// master exactly (its sequence numbers, snapshots and versions), later pushes move only new
    /// blocks, kill -9 of either side leaves a consistent replica that the next push completes, and
    /// refusals and bad peers fail with one clear line.
    @Suite("Replication")
    struct ReplicationEndToEndTests {}
}

/// One element of `push --json`.
struct PushReport: Decodable {
    var peer: String
    var blocksSent: Int
    var bytesSent: Int64
    var bytesReceived: Int64
    var seconds: Double
}

/// A master vault (with a copy of the tree each snapshot was taken of), its replicas, and an sshd
/// when a replica is reached over SSH.
final class ReplicationSetup {
    let master: LifecycleVault
    private(set) var ssh: SSHServer?

    init(_ label: String, ssh withSSH: Bool) throws {
        master = try LifecycleVault(label)
        if withSSH { ssh = try SSHServer.start(in: master.scratch.child("ssh")) }
    }

    var scratch: ScratchDirectory { master.scratch }

    /// `init --receive-only` at `scratch/name`.
    func makeReplica(_ name: String) throws -> TestVault {
        let replica = TestVault(path: scratch.child(name))
        try replica.expectSuccess(replica.run("init", ["--receive-only"]))
        return replica
    }

    /// How push names a replica: its path, or its ssh:// URL through this setup's sshd.
    func peer(_ replica: TestVault, overSSH: Bool) throws -> String {
        guard overSSH else { return replica.path }
        guard let ssh else { throw TestFailure("no sshd in this setup") }
        return ssh.url(replica.path)
    }

    /// `push --repo MASTER --to PEER… [--ssh-command …] --remote-command BINARY --json`.
    func pushArguments(to peers: [String], master vault: TestVault? = nil) -> [String] {
        var arguments = ["push", "--repo", (vault ?? master.vault).path]
        for peer in peers { arguments += ["--to", peer] }
        if let ssh { arguments += ["--ssh-command", ssh.sshCommand] }
        return arguments + ["--remote-command", Blockvault.executable, "--json"]
    }

    func push(to peers: [String], master vault: TestVault? = nil, timeout: Double = 120) throws -> CommandResult {
        try Blockvault.run(pushArguments(to: peers, master: vault), timeout: timeout)
    }

    /// A push that must succeed, with one report per peer in order.
    func expectPush(to peers: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> [PushReport] {
        let result = try push(to: peers)
        try #require(result.succeeded, "\(result)", sourceLocation: sourceLocation)
        let reports = try result.decode([PushReport].self)
        try #require(reports.map(\.peer) == peers, "one report per peer, in order: \(result)", sourceLocation: sourceLocation)
        return reports
    }

    /// Asserts that `replica` mirrors the master: byte-identical `snapshots --json` and `versions
    /// PATH --json` (the master's sequence numbers), the same counts in `stats`, every snapshot taken
    /// restores exactly from the replica, and `check --read-data` is clean.
    func expectMirror(_ replica: TestVault, paths: [String], _ context: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let wanted = try master.vault.expectSuccess(master.vault.run("snapshots", ["--json"])).output
        let listed = try replica.run("snapshots", ["--json"])
        #expect(listed.succeeded && listed.output == wanted, "\(context): snapshots differ from the master's:\n\(wanted)\nreplica: \(listed)",
                sourceLocation: sourceLocation)
        for path in paths {
            let history = try master.vault.expectSuccess(master.vault.run("versions", ["--json", path])).output
            let copy = try replica.run("versions", ["--json", path])
            #expect(copy.succeeded && copy.output == history, "\(context): versions of \(path) differ:\n\(history)\nreplica: \(copy)",
                    sourceLocation: sourceLocation)
        }
        let (masterStats, replicaStats) = (try master.vault.stats(), try replica.stats())
        #expect(replicaStats.snapshots == masterStats.snapshots && replicaStats.versions == masterStats.versions
                    && replicaStats.blocks == masterStats.blocks && replicaStats.logicalBytes == masterStats.logicalBytes
                    && replicaStats.uniqueBytes == masterStats.uniqueBytes,
                "\(context): stats differ: master \(masterStats), replica \(replicaStats)", sourceLocation: sourceLocation)
        try master.expectSnapshotsRestore(nil, "\(context): from \(replica.path)", in: replica, sourceLocation: sourceLocation)
        let check = try replica.run("check", ["--read-data"])
        #expect(check.succeeded, "\(context): check --read-data of \(replica.path): \(check)", sourceLocation: sourceLocation)
    }

    /// Asserts that an interrupted replica is consistent: it lists a prefix of the master's snapshots
    /// (the same JSON for each), every one of them restores exactly, and `check --read-data` passes.
    func expectConsistent(_ replica: TestVault, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let wanted = try master.vault.expectSuccess(master.vault.run("snapshots", ["--json"])).decode([JSONValue].self)
        let listed = try replica.run("snapshots", ["--json"])
        #expect(listed.succeeded, "\(context): \(listed)", sourceLocation: sourceLocation)
        guard listed.succeeded else { return }
        let have = try listed.decode([JSONValue].self)
        #expect(have == Array(wanted.prefix(have.count)), "\(context): the replica lists snapshots the master does not have as such: \(listed)",
                sourceLocation: sourceLocation)
        let taken = master.taken.filter { snapshot in
            have.contains { if case .object(let fields) = $0 { fields["id"] == .string(snapshot.id) } else { false } }
        }
        #expect(taken.count == have.count, "\(context): listed snapshots that the test never took: \(listed)", sourceLocation: sourceLocation)
        try master.expectSnapshotsRestore(taken, "\(context): from \(replica.path)", in: replica, sourceLocation: sourceLocation)
        let check = try replica.run("check", ["--read-data"])
        #expect(check.succeeded, "\(context): check --read-data of \(replica.path): \(check)", sourceLocation: sourceLocation)
    }

    /// The `blockvault serve` processes writing into `replica` (started by push, or by sshd).
    static func serveProcesses(_ replica: TestVault) -> [pid_t] {
        ProcessTable.processes(withArguments: ["serve", "--stdio", "--repo", replica.path])
    }
}

/// Small text and binary files, a symlink, an empty directory, a hard link and names that are not
/// UTF-8 or hold a newline: the names and kinds a replica must carry byte for byte.
private func writeOddEntries(in source: String) throws {
    try Files.makeDirectory(source + "/odd")
    try Files.write(Array((source + "/odd/caf").utf8) + [0xE9, 0x2E, 0x74, 0x78, 0x74], Array("latin-1 name\n".utf8))
    try Files.write(source + "/odd/line\nbreak.txt", text: "a newline in the name\n")
    try Files.write(source + "/odd/linked.bin", DeterministicData.bytes(count: 70_000, seed: 8101))
    try Files.hardLink(source + "/odd/linked-again.bin", to: source + "/odd/linked.bin")
    try Files.write(source + "/odd/private.txt", text: "mode 0600\n", mode: 0o600)
}

/// How many sealed packs (`packs/ab/NAME.pack`) a vault holds, recorded in its catalog or not.
private func sealedPacks(_ vault: TestVault) throws -> Int {
    try Tree.entries(of: vault.path + "/packs").filter { $0.value.type == .file && $0.key.suffix(5).elementsEqual(".pack".utf8) }.count
}

/// The paths whose histories the tests compare between master and replicas (`docs/note-2.txt` is
/// deleted in the third snapshot of `writeHistoryWithEdits`).
private let historyPaths = ["docs/note-1.txt", "docs/note-2.txt", "docs/added.txt", "data/big.bin", "data/target.bin", "link", "empty",
                            "odd/linked.bin"]

extension EndToEndTests.ReplicationEndToEndTests {
    @Test("one push to a path replica and an SSH replica: identical snapshots and versions, every snapshot restores, check --read-data clean")
    func pushToPathAndSSHReplicas() throws {
        let setup = try ReplicationSetup("repl-mirror", ssh: true)
        defer { setup.scratch.remove() }
        try writeOddEntries(in: setup.master.source)
        try setup.master.writeHistoryWithEdits()
        let local = try setup.makeReplica("replica-local")
        let remote = try setup.makeReplica("replica-ssh")
        let peers = [local.path, try setup.peer(remote, overSSH: true)]

        let reports = try setup.expectPush(to: peers)
        let blocks = try setup.master.vault.stats().blocks
        for report in reports {
            #expect(Int64(report.blocksSent) == blocks, "a fresh replica receives every block of the master once (\(blocks)): \(report)")
            #expect(report.bytesSent > 0 && report.bytesReceived > 0 && report.seconds >= 0, "\(report)")
        }
        try setup.expectMirror(local, paths: historyPaths, "path replica")
        try setup.expectMirror(remote, paths: historyPaths, "SSH replica")
    }

    @Test("a push after a one-block edit sends only the new block; a push with nothing new sends none")
    func secondPushSendsOnlyNewBlocks() throws {
        let setup = try ReplicationSetup("repl-incremental", ssh: true)
        defer { setup.scratch.remove() }
        try writeOddEntries(in: setup.master.source)
        try setup.master.writeHistoryWithEdits()
        let local = try setup.makeReplica("replica-local")
        let remote = try setup.makeReplica("replica-ssh")
        let peers = [local.path, try setup.peer(remote, overSSH: true)]
        let first = try setup.expectPush(to: peers)

        // data/target.bin is one 48 KiB block: 100 changed bytes make one new block.
        let before = try setup.master.vault.stats()
        try Files.overwrite(setup.master.source + "/data/target.bin", at: 20_000, with: DeterministicData.bytes(count: 100, seed: 8201))
        let backup = try setup.master.backup()
        let after = try setup.master.vault.stats()
        let newBlocks = after.blocks - before.blocks
        #expect(newBlocks == 1, "a one-block file edited in place adds one block: \(before.blocks) → \(after.blocks)")

        let second = try setup.expectPush(to: peers)
        for (report, initial) in zip(second, first) {
            #expect(Int64(report.blocksSent) == newBlocks && report.blocksSent <= 2, "only the new blocks move: \(report) (master: +\(newBlocks))")
            #expect(report.bytesSent <= backup.bytesAdded + 32 << 10, "about the new block's bytes: \(report), backup added \(backup.bytesAdded)")
            #expect(report.bytesSent * 10 < initial.bytesSent, "far less than the first push: \(report) after \(initial)")
        }
        try setup.expectMirror(local, paths: historyPaths, "path replica after the edit")
        try setup.expectMirror(remote, paths: historyPaths, "SSH replica after the edit")

        let third = try setup.expectPush(to: peers)
        for report in third {
            #expect(report.blocksSent == 0 && report.bytesSent < 16 << 10, "nothing new, nothing sent: \(report)")
        }
    }

    /// Which process a kill -9 hits, and how the replica is reached.
    enum Interruption: String, CaseIterable, CustomTestStringConvertible {
        case pushToPath = "push (path replica)"
        case pushOverSSH = "push (SSH replica)"
        case serveOfPath = "serve (path replica)"
        case serveOverSSH = "serve (SSH replica)"

        var killsServe: Bool { self == .serveOfPath || self == .serveOverSSH }
        var overSSH: Bool { self == .pushOverSSH || self == .serveOverSSH }
        var testDescription: String { rawValue }
    }

    @Test("kill -9 at random moments of a 128 MiB push: the replica stays consistent and the next push completes, sending less",
          arguments: Interruption.allCases)
    func killedPushLeavesConsistentReplica(_ interruption: Interruption) throws {
        let setup = try ReplicationSetup("repl-kill", ssh: interruption.overSSH)
        defer { setup.scratch.remove() }
        let master = setup.master
        let file = 8 << 20
        try Files.makeDirectory(master.source + "/bulk")
        try Files.write(master.source + "/notes.txt", text: DeterministicData.text(lines: 200, seed: 8300))
        for index in 0..<8 {
            try Files.write(master.source + "/bulk/part-\(index).bin", DeterministicData.bytes(count: file, seed: 8301 + UInt64(index)))
        }
        try master.backup()
        let replica = try setup.makeReplica("replica")
        let peer = try setup.peer(replica, overSSH: interruption.overSSH)
        _ = try setup.expectPush(to: [peer])

        // A second snapshot with 64 MiB more and an edited file: what the killed pushes carry.
        for index in 8..<16 {
            try Files.write(master.source + "/bulk/part-\(index).bin", DeterministicData.bytes(count: file, seed: 8301 + UInt64(index)))
        }
        try Files.overwrite(master.source + "/bulk/part-0.bin", at: 1 << 20, with: DeterministicData.bytes(count: 64 << 10, seed: 8399))
        try Files.append(master.source + "/notes.txt", Array("edited\n".utf8))
        try master.backup()

        // What an uninterrupted push of that increment sends and how long it takes, into a copy.
        let calibration = TestVault(path: setup.scratch.child("calibration"))
        try Files.copyTree(replica.path, to: calibration.path)
        let timed = try setup.push(to: [try setup.peer(calibration, overSSH: interruption.overSSH)])
        try #require(timed.succeeded, "\(timed)")
        let full = try timed.decode([PushReport].self)[0]
        try Files.removeTree(calibration.path)

        var random = UInt64(Clock.seconds() * 1e6)
        let seed = random
        let rounds = 3
        var killed = 0
        var progress: [String] = []
        for round in 0..<rounds {
            // The first round dies in the middle half of the transfer's first third. Later rounds
            // resume from what earlier ones sealed, so a time taken from the whole transfer could
            // outlast them: each dies at a short random moment after the replica seals a new pack,
            // which also leaves the resumed push something to skip.
            let tied = round > 0
            let share = Double(DeterministicData.next(&random) % 1000) / 1000
            let delay = timed.seconds * (tied ? 0.08 * share : (0.25 + 0.5 * share) / Double(rounds))
            let packsBefore = try sealedPacks(replica)
            let when = tied ? "\(String(format: "%.3f", delay)) s after a new pack" : "after \(String(format: "%.3f", delay)) s"
            let context = "\(interruption.rawValue), round \(round) (seed \(seed)): kill \(when), of a typical \(String(format: "%.3f", timed.seconds)) s"
            let running = try Blockvault.start(setup.pushArguments(to: [peer]))
            var start = Clock.seconds()
            let serve = interruption.killsServe ? ProcessTable.waitFor(timeout: 10) { ReplicationSetup.serveProcesses(replica) } : []
            #expect(serve.count <= 1, "\(context): more than one serve for the replica: \(serve)")
            if tied {
                let deadline = Clock.seconds() + 3 * timed.seconds + 5
                while try sealedPacks(replica) == packsBefore && Clock.seconds() < deadline { usleep(5_000) }
                start = Clock.seconds()
            }
            let remaining = start + delay - Clock.seconds()
            if remaining > 0 { usleep(UInt32(remaining * 1_000_000)) }
            if interruption.killsServe { for pid in serve { kill(pid, SIGKILL) } } else { running.killHard() }
            let result = running.wait(timeout: 60)
            #expect(!result.timedOut, "\(context): \(result)")
            if interruption.killsServe {
                // The push outlives its peer and says so in one line of its own.
                let ownLines = result.errorLines.filter { !$0.hasPrefix("blockvault serve:") }
                #expect(result.succeeded || (!result.signaled && result.status == 1 && ownLines.last?.hasPrefix("blockvault: push to") == true),
                        "\(context): \(result)")
            } else {
                #expect(result.succeeded || (result.signaled && result.status == SIGKILL), "\(context): \(result)")
            }
            if !result.succeeded { killed += 1 }
            // The far side notices the end of its input and exits, releasing the replica's lock.
            let gone = ProcessTable.waitUntilGone(timeout: 15) { ReplicationSetup.serveProcesses(replica) }
            #expect(gone, "\(context): blockvault serve still runs 15 s after its push ended")
            if !gone { for pid in ReplicationSetup.serveProcesses(replica) { kill(pid, SIGKILL) } }
            try setup.expectConsistent(replica, context)
            progress.append("round \(round): \(result.succeeded ? "finished" : "killed") after \(String(format: "%.2f", result.seconds)) s, \(try sealedPacks(replica)) packs")
        }
        #expect(killed >= 2, "most rounds should have been interrupted: \(killed) of \(rounds)")

        let resumed = try setup.expectPush(to: [peer])[0]
        #expect(resumed.bytesSent < full.bytesSent,
                "a resumed push sends less than an uninterrupted one: \(resumed.bytesSent) vs \(full.bytesSent) (seed \(seed); \(progress.joined(separator: "; ")))")
        #expect(resumed.blocksSent < full.blocksSent, "\(resumed) vs \(full)")
        try setup.expectMirror(replica, paths: ["notes.txt", "bulk/part-0.bin", "bulk/part-15.bin"], "\(interruption.rawValue), after the resumed push")
    }

    @Test("refusals: a push into a vault that is not receive-only, a backup into a replica, a second master")
    func refusals() throws {
        let setup = try ReplicationSetup("repl-refuse", ssh: false)
        defer { setup.scratch.remove() }
        try setup.master.writeBaseTree()
        try setup.master.backup()

        // An ordinary vault with a snapshot of its own.
        let ordinary = try TestVault.create(at: setup.scratch.child("ordinary"))
        let elsewhere = setup.scratch.child("elsewhere")
        try Files.makeDirectory(elsewhere)
        try Files.write(elsewhere + "/own.txt", text: "the ordinary vault's own file\n")
        _ = try ordinary.backup(elsewhere)
        let ordinarySnapshots = try ordinary.expectSuccess(ordinary.run("snapshots", ["--json"])).output
        let refused = try setup.push(to: [ordinary.path])
        #expect(refused.status == 1 && !refused.signaled, "\(refused)")
        #expect(refused.errorLines.allSatisfy { $0.hasPrefix("blockvault") }, "every line comes from blockvault: \(refused)")
        #expect(refused.errorLines.filter { $0.hasPrefix("blockvault: push") }.count == 1, "push says once that it failed: \(refused)")
        #expect(refused.errorLines.last?.hasPrefix("blockvault: push to \(ordinary.path) failed") == true
                    && refused.errorLines.last?.contains("receive-only") == true,
                "the push's own line names the peer and why (not receive-only): \(refused)")
        #expect(try ordinary.run("snapshots", ["--json"]).output == ordinarySnapshots, "the ordinary vault is unchanged")

        // A replica takes the master's history and refuses local backups.
        let replica = try setup.makeReplica("replica")
        _ = try setup.expectPush(to: [replica.path])
        let replicaSnapshots = try replica.expectSuccess(replica.run("snapshots", ["--json"])).output
        let backup = try replica.run("backup", ["--json", setup.master.source])
        #expect(backup.status == 1 && backup.errorLines.count == 1 && backup.errorLines[0].hasPrefix("blockvault: ")
                    && backup.errorLines[0].contains("receive-only"), "\(backup)")
        #expect(try replica.run("snapshots", ["--json"]).output == replicaSnapshots, "the refused backup recorded nothing")

        // A second master is refused: sequence numbers belong to the first.
        let second = try TestVault.create(at: setup.scratch.child("second-master"))
        _ = try second.backup(elsewhere)
        let other = try setup.push(to: [replica.path], master: second)
        #expect(other.status == 1 && !other.signaled, "\(other)")
        #expect(other.errorLines.last?.hasPrefix("blockvault: push to \(replica.path) failed") == true
                    && other.errorLines.last?.contains("follows device") == true, "\(other)")
        #expect(other.errorLines.filter { $0.hasPrefix("blockvault: push") }.count == 1, "\(other)")
        #expect(try replica.run("snapshots", ["--json"]).output == replicaSnapshots, "the replica still holds only the first master's history")
        let again = try setup.expectPush(to: [replica.path])[0]
        #expect(again.blocksSent == 0, "the first master still pushes to it: \(again)")
        try setup.expectMirror(replica, paths: ["docs/note-1.txt", "data/big.bin"], "after the refused second master")
    }

    @Test("bad peers: a peer spec push cannot use fails with one line", arguments: [
        ["--to", "ssh://host"], ["--to", ""], ["--to", "ssh:///srv/replica"], ["--to", "ssh://host:99999/srv/replica"],
        ["--to", "ssh://127.0.0.1/srv/replica", "--ssh-command", "/nonexistent/ssh -o BatchMode=yes"],
    ])
    func badPeerSpecs(_ arguments: [String]) throws {
        let scratch = try ScratchDirectory("repl-badpeer")
        defer { scratch.remove() }
        let master = try TestVault.create(at: scratch.child("master"))
        let result = try Blockvault.run(["push", "--repo", master.path] + arguments, timeout: 30)
        #expect(!result.timedOut && !result.signaled && result.status != 0, "\(result)")
        #expect(result.errorLines.count == 1 && result.errorLines.first?.hasPrefix("blockvault: ") == true,
                "one line starting with 'blockvault:': \(result)")
    }

    @Test("an SSH port nothing listens on: push fails in bounded time with one line of its own")
    func unreachableSSHPort() throws {
        let scratch = try ScratchDirectory("repl-unreachable")
        defer { scratch.remove() }
        let master = try TestVault.create(at: scratch.child("master"))
        try #require(access(SSHServer.client, X_OK) == 0, "\(SSHServer.client) is missing: apt-get install openssh-client (`make test` installs it)")
        let command = "\(SSHServer.client) -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR -o ConnectTimeout=5"
        let port = try SSHServer.freeLoopbackPort()
        let peer = "ssh://root@127.0.0.1:\(port)\(scratch.child("replica"))"
        let result = try Blockvault.run(["push", "--repo", master.path, "--to", peer, "--ssh-command", command], timeout: 30)
        #expect(!result.timedOut && !result.signaled && result.status != 0, "\(result)")
        let own = result.errorLines.filter { $0.hasPrefix("blockvault") }
        #expect(own.count == 1 && own[0].hasPrefix("blockvault: push to \(peer) failed") && result.errorLines.last == own.first,
                "one line of push's own, last, naming the peer (ssh's own diagnostics may precede it): \(result)")
    }
}
