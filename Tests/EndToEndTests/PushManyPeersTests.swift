import Foundation
import Testing

/// One element of `push --json` when some peers fail: a failed one carries "error" instead of counts.
struct PushOutcome: Decodable {
    var peer: String
    var blocksSent: Int?
    var error: String?
}

extension EndToEndTests.ReplicationEndToEndTests {
    @Test("push to several peers tries every one, reports each (text and --json, with an error per failed peer) and exits 1 if any failed")
    func pushTriesEveryPeer() throws {
        let setup = try ReplicationSetup("repl-many", ssh: false)
        defer { setup.scratch.remove() }
        try setup.master.writeBaseTree()
        try setup.master.backup()
        let missing = setup.scratch.child("no-such-vault")
        let first = try setup.makeReplica("replica-1")
        let ordinary = try TestVault.create(at: setup.scratch.child("ordinary"))
        let second = try setup.makeReplica("replica-2")
        let peers = [missing, first.path, ordinary.path, second.path]

        let result = try setup.push(to: peers)
        #expect(result.status == 1 && !result.signaled, "\(result)")
        let reports = try result.decode([PushOutcome].self)
        #expect(reports.map(\.peer) == peers, "one entry per peer, in order: \(result)")
        #expect(reports.map { $0.error != nil } == [true, false, true, false], "\(result)")
        #expect(reports[1].blocksSent ?? 0 > 0 && reports[3].blocksSent ?? 0 > 0, "\(result)")
        #expect(reports[2].error?.contains("receive-only") == true, "\(result)")
        let own = result.errorLines.filter { $0.hasPrefix("blockvault: push") }
        #expect(own.count == 2 && own[0].contains(missing) && own[1].contains(ordinary.path), "one line per failed peer: \(result)")
        for replica in [first, second] {
            #expect(try replica.snapshots().map(\.id) == setup.master.vault.snapshots().map(\.id), "\(replica.path) received everything")
        }

        let text = try Blockvault.run(["push", "--repo", setup.master.vault.path, "--to", missing, "--to", first.path], timeout: 60)
        #expect(text.status == 1 && !text.signaled, "\(text)")
        #expect(text.output.contains("pushed to \(first.path)"), "the peer that worked is reported: \(text)")
        // The far side's own lines (its summary, its error) share stderr; push's line is the last of push's.
        let pushLines = text.errorLines.filter { $0.hasPrefix("blockvault: push") }
        #expect(pushLines.count == 1 && pushLines[0].hasPrefix("blockvault: push to \(missing) failed"), "\(text)")
    }
}
