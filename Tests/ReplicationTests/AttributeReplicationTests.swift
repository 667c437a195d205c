import Chunker
import Testing
import TestSupport
@testable import Replication
@testable import Store
#if canImport(Glibc)
import Glibc
#endif

/// A push carries extended attributes and device numbers (the versions record's extras), and a
/// replica restores them. Runs as root (it makes a device node).
@Suite struct AttributeReplicationTests {
    @Test func aReplicaRestoresAttributesAndDeviceNodes() throws {
        let directory = try TemporaryDirectory()
        try directory.makeDirectory("src")
        try Vault.create(at: directory.path(for: "master"))
        try Vault.create(at: directory.path(for: "replica"), receiveOnly: true)
        let master = try Vault(path: directory.path(for: "master"))
        let replica = try Vault(path: directory.path(for: "replica"))
        let file = try directory.write(Array("tagged".utf8), to: "src/file")
        let attributes = ExtendedAttributes([.init(name: Array("user.tag".utf8), value: [0, 1, 2])])
        #expect(attributes.write(path: Array(file.utf8), acls: false).isEmpty)
        let device = dev_t(1 << 8 | 3)   // 1:3, as /dev/null
        #expect(mknod(directory.path(for: "src/null"), S_IFCHR | 0o666, device) == 0)
        _ = try Backup(vault: master).run(directory: directory.path(for: "src"))

        do {   // the sink holds the replica's write lock until it goes
            let sender = SenderDriver(source: VaultSource(vault: master))
            let receiver = ReceiverDriver(sink: try VaultSink(vault: replica))
            #expect(pump(sender, receiver) == nil)
        }
        let (folder, snapshot) = try #require(try replica.catalog.snapshots().first)
        let target = directory.path(for: "restored")
        let summary = try Restorer(vault: replica).run(snapshot: snapshot, folder: folder, target: target)
        #expect(summary.warnings.isEmpty, "\(summary.warnings)")
        #expect(try ExtendedAttributes.read(path: Array(directory.path(for: "restored/file").utf8)) == attributes)
        var status = stat()
        #expect(lstat(directory.path(for: "restored/null"), &status) == 0)
        #expect(status.st_mode & S_IFMT == S_IFCHR && status.st_rdev == device)
    }
}
