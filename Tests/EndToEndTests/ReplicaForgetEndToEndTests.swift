import Foundation
import Testing

extension EndToEndTests.ReplicationEndToEndTests {
    @Test("forget --keep-last 1 --prune on a replica: the next push brings no forgotten snapshot back, names each one, and what is listed restores exactly")
    func forgetOnTheReplicaStaysForgotten() throws {
        let setup = try ReplicationSetup("repl-forget", ssh: false)
        defer { setup.scratch.remove() }
        try setup.master.writeHistoryWithEdits()
        let replica = try setup.makeReplica("replica")
        _ = try setup.expectPush(to: [replica.path])
        #expect(try replica.snapshots().count == 3)

        let forget = try replica.run("forget", ["--keep-last", "1", "--prune"])
        #expect(forget.succeeded, "\(forget)")
        let kept = try replica.snapshots().map(\.id)
        #expect(kept == [setup.master.taken.last!.id])

        let again = try setup.push(to: [replica.path])
        #expect(again.succeeded, "\(again)")
        #expect(try replica.snapshots().map(\.id) == kept, "forgotten snapshots came back: \(again)")
        let skipped = again.errorLines.filter { $0.hasPrefix("blockvault serve: skipped snapshot") }
        for taken in setup.master.taken.dropLast() {
            #expect(skipped.contains { $0.contains(taken.id) && $0.contains("forgotten") }, "each forgotten snapshot is named: \(again)")
        }
        try setup.master.expectSnapshotsRestore([setup.master.taken.last!], "after forget on the replica", in: replica)

        // A later snapshot of the master arrives and restores exactly.
        try Files.write(setup.master.source + "/docs/later.txt", text: "written after the replica forgot\n")
        try setup.master.backup()
        _ = try setup.expectPush(to: [replica.path])
        #expect(try replica.snapshots().map(\.id) == kept + [setup.master.taken.last!.id])
        try setup.master.expectSnapshotsRestore(Array(setup.master.taken.suffix(2)), "the later snapshot", in: replica)
        let check = try replica.run("check", ["--read-data"])
        #expect(check.succeeded, "\(check)")
    }
}
