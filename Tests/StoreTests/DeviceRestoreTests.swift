import Testing
import TestSupport
@testable import Store
#if canImport(Glibc)
import Glibc
#endif

/// Device nodes at the Store level. Runs as root (it makes device nodes).
@Suite struct DeviceRestoreTests {
    @Test func aDeviceWhoseNumberWasNotRecordedIsNamedNotMadeAsZero() throws {
        let setup = try RestoreTests.Setup()
        let device = dev_t(7 << 8 | 200)   // 7:200, a loop device
        #expect(mknod(setup.directory.path(for: "src/loop"), S_IFBLK | 0o640, device) == 0)
        try setup.directory.write(Array("beside it".utf8), to: "src/file")
        try setup.backup()

        var status = stat()
        let restored = try setup.restore(into: "recorded")
        #expect(restored.warnings.isEmpty, "\(restored.warnings)")
        #expect(lstat(setup.directory.path(for: "recorded/loop"), &status) == 0 && status.st_rdev == device)

        // As a backup made before device numbers were recorded left it.
        try setup.vault.catalog.database.execute("UPDATE versions SET rdev = 0")
        let old = try setup.restore(into: "old")
        #expect(old.warnings.count == 1 && old.warnings[0].contains("old/loop: blockdev not restored"), "\(old.warnings)")
        #expect(lstat(setup.directory.path(for: "old/loop"), &status) != 0, "no node 0:0 in its place")
        #expect(try setup.read("old/file") == Array("beside it".utf8))
    }
}
