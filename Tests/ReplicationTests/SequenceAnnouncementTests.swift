import Foundation
import Testing
import TestSupport
@testable import Replication
@testable import Store

/// A peer that claims the master's device id must not move a replica's sequence forward: the sender
/// announces its highest sequence, the receiver takes nothing above it and no absurd one, and a
/// master whose history is behind what the replica recorded in its name fails the push by saying so.
@Suite struct SequenceAnnouncementTests {
    /// A master with two snapshots of `src` (`note` is "one", then "two") and an empty replica.
    struct Setup {
        let directory: TemporaryDirectory
        let master: Vault
        var masterPath: String { directory.path(for: "master") }
        var replicaPath: String { directory.path(for: "replica") }

        init() throws {
            directory = try TemporaryDirectory()
            try directory.makeDirectory("src")
            try Vault.create(at: directory.path(for: "master"))
            try Vault.create(at: directory.path(for: "replica"), receiveOnly: true)
            master = try Vault(path: directory.path(for: "master"))
            try directory.write(Array("one".utf8), to: "src/note")
            _ = try Backup(vault: master).run(directory: directory.path(for: "src"))
            try directory.write(Array("two".utf8), to: "src/note")
            _ = try Backup(vault: master).run(directory: directory.path(for: "src"))
        }

        /// The master's hello, as a peer that steals its device id sends it.
        var stolenHello: [UInt8] {
            Message.hello(Message.Hello(deviceID: master.configuration.deviceID, vaultID: master.configuration.vaultID,
                                        receiveOnly: false, protocolVersion: Message.protocolVersion)).encoded()
        }

        func push() throws -> ServeRunner.Outcome {
            try ServeRunner.run(["push", "--repo", masterPath, "--to", replicaPath])
        }

        func replicaSequence() throws -> Int64 { try Vault(path: replicaPath).catalog.maximumSequence() }
    }

    /// The campaign's attack as it was sent: no announcement, a version and a snapshot at 2^50.
    /// Refused; the real master's next push then records its history and the restore is exact.
    @Test func aPeerThatAnnouncesNothingCannotMoveTheSequence() throws {
        let setup = try Setup()
        let huge: Int64 = 1 << 50
        let attack = setup.stolenHello + ServeRunner.batch(sequence: huge, snapshots: [ServeRunner.snapshot(id: "00000000000000aa", sequence: huge)])
        let refused = try ServeRunner.serve(replica: setup.replicaPath, input: attack)
        #expect(refused.status != 0 && !refused.signaled, "\(refused.errors)")
        #expect(try setup.replicaSequence() < huge, "the hostile version was recorded")

        let pushed = try setup.push()
        #expect(pushed.status == 0, "\(pushed.errors)")
        let replica = try Vault(path: setup.replicaPath)
        let (folder, snapshot) = try #require(try replica.catalog.snapshots().last)
        #expect(snapshot.id == (try setup.master.catalog.snapshots().last?.snapshot.id))
        _ = try Restorer(vault: replica).run(snapshot: snapshot, folder: folder, target: setup.directory.path(for: "out"))
        #expect(try FileSystem.readFile(setup.directory.path(for: "out/note")) == Array("two".utf8))
    }

    @Test(arguments: ["absurd announcement", "version above the announcement", "snapshot above the announcement"])
    func aPeerIsHeldToItsAnnouncement(lie: String) throws {
        let setup = try Setup()
        var input = setup.stolenHello
        switch lie {
        case "absurd announcement":
            input += Message.announce(highestSequence: 1 << 50).encoded() + ServeRunner.batch(sequence: 1 << 50)
        case "version above the announcement":
            input += Message.announce(highestSequence: 5).encoded() + ServeRunner.batch(sequence: 6)
        default:
            input += Message.announce(highestSequence: 5).encoded()
                + ServeRunner.batch(sequence: 5, snapshots: [ServeRunner.snapshot(id: "00000000000000bb", sequence: 9)])
        }
        let outcome = try ServeRunner.serve(replica: setup.replicaPath, input: input)
        #expect(!outcome.signaled)
        #expect(try Vault(path: setup.replicaPath).catalog.snapshots().isEmpty, "\(outcome.errors)")
        if lie == "snapshot above the announcement" {
            #expect(outcome.errors.contains("00000000000000bb"), "the skipped snapshot is named: \(outcome.errors)")
        } else {
            #expect(outcome.status != 0 && outcome.errorLines.count == 1, "\(outcome.errors)")
            #expect(try setup.replicaSequence() == 0)
        }
    }

    /// A peer announced a plausible history in the master's name and the replica took it; the real
    /// master, whose history is shorter, fails the push with one line saying what happened.
    @Test func aMasterBehindWhatTheReplicaRecordedInItsNameFailsThePushClearly() throws {
        let setup = try Setup()
        let fake: Int64 = 1000
        let taken = try ServeRunner.serve(replica: setup.replicaPath, input: setup.stolenHello
            + Message.announce(highestSequence: fake).encoded()
            + ServeRunner.batch(sequence: fake, snapshots: [ServeRunner.snapshot(id: "00000000000000cc", sequence: fake)]))
        #expect(taken.status == 0, "\(taken.errors)")
        let before = try Vault(path: setup.replicaPath).catalog.snapshots().map(\.snapshot.id)

        let pushed = try setup.push()
        #expect(pushed.status == 1 && !pushed.signaled, "\(pushed.errors)")
        let own = pushed.errorLines.filter { $0.hasPrefix("blockvault: push") }
        #expect(own.count == 1 && own[0].contains("diverged") && own[0].contains("init --receive-only"), "\(pushed.errors)")
        #expect(try Vault(path: setup.replicaPath).catalog.snapshots().map(\.snapshot.id) == before, "nothing recorded")
    }
}

@Suite struct SenderAnnouncementTests {
    /// A backup that runs on the master during a push adds versions after the announcement: the
    /// push sends the history as announced (no version above it, no snapshot of the new backup),
    /// and the next push sends the rest.
    @Test func aBackupDuringThePushWaitsForTheNextOne() throws {
        let pair = try Pair()
        let announced = try pair.master.catalog.maximumSequence()
        do {
            let sender = SenderDriver(source: VaultSource(vault: pair.master))
            let receiver = ReceiverDriver(sink: try VaultSink(vault: pair.replica))
            let (senderHello, receiverHello) = (try sender.start(), try receiver.start())
            #expect(try receiver.handle(senderHello[0]) == [])
            let announcement = try sender.handle(receiverHello[0])
            #expect(announcement == [.announce(highestSequence: announced)])

            try pair.directory.write(Array("late".utf8), to: "src/late")
            _ = try Backup(vault: pair.master).run(directory: pair.directory.path(for: "src"))
            #expect(try pair.master.catalog.maximumSequence() > announced)

            var toSender = try receiver.handle(announcement[0])
            while !toSender.isEmpty {
                var next: [Message] = []
                for message in toSender { for reply in try sender.handle(message) { next += try receiver.handle(reply) } }
                toSender = next
            }
            #expect(receiver.isFinished && receiver.snapshotsAdded == 3 && receiver.snapshotsSkipped.isEmpty)
        }
        let replica = try Vault(path: pair.directory.path(for: "replica"))
        #expect(try replica.catalog.maximumSequence() == announced)

        let sender = SenderDriver(source: VaultSource(vault: pair.master))
        let receiver = ReceiverDriver(sink: try VaultSink(vault: replica))
        #expect(pump(sender, receiver) == nil)
        #expect(receiver.snapshotsAdded == 1)
    }
}
