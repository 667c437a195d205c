import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEndTests {
    /// What `rsync -aHAXS` compares survives a backup and a restore: extended attributes of every
    /// namespace, POSIX ACLs (access and default), device nodes, FIFOs, sockets, hard links, holes
    /// (all but the target directory's own metadata, which no version records). The tests run as root (they make device nodes and
    /// `trusted.*` attributes) on a filesystem with user xattrs (/tmp here).
    @Suite("Restore fidelity")
    struct RestoreFidelityTests {
        @Test("extended attributes, ACLs, device nodes, FIFOs, sockets, hard links and holes restore exactly")
        func everythingRsyncComparesRoundTrips() throws {
            let scratch = try ScratchDirectory("fidelity")
            defer { scratch.remove() }
            let source = scratch.child("source")
            try RestoreFidelityTests.makeRichTree(at: source)
            // The backed-up directory's own status: an attribute, a mode of its own and an old mtime.
            try Files.run("/usr/bin/setfattr", ["-n", "user.top", "-v", "the root", source])
            guard chmod(source, 0o750) == 0 else { throw FileSystemError("cannot chmod", source) }
            try Files.run("/usr/bin/touch", ["-m", "-d", "2020-02-02 02:02:02.123456789", source])
            let vault = try TestVault.create(at: scratch.child("vault"))
            _ = try vault.backup(source)

            let target = scratch.child("restored")
            let restore = try vault.run("restore", ["--target", target, "latest"])
            #expect(restore.succeeded, "\(restore)")
            #expect(restore.errorOutput.isEmpty, "\(restore)")

            // rsync's view: no line means nothing would be transferred, the top directory's own
            // mode, owner, times and attributes included (the snapshot records its root).
            let rsync = try Tool.run("/usr/bin/rsync", ["-aHAXS", "--delete", "--itemize-changes", "--dry-run", source + "/", target + "/"])
            let differences = rsync.output.split(separator: "\n")
            #expect(rsync.status == 0 && differences.isEmpty, "rsync sees differences:\n\(rsync.output)\(rsync.error)")

            // The same, asserted directly.
            let attributes = try Tool.run("/usr/bin/getfattr", ["-R", "-d", "-m", "-", "-h", "-e", "hex", "."], in: source)
            for name in ["user.color", "user.binary", "user.purpose", "trusted.secret", "security.note",
                         "system.posix_acl_access", "system.posix_acl_default"] {
                #expect(attributes.output.contains(name + "="), "the source tree lacks \(name): the test is not testing it")
            }
            #expect(try Tool.run("/usr/bin/getfattr", ["-R", "-d", "-m", "-", "-h", "-e", "hex", "."], in: target).output == attributes.output)
            // Every entry's ACL, the top directory's included.
            func acls(_ root: String) throws -> [Substring] {
                try Tool.run("/usr/bin/getfacl", ["-R", "-p", "-n", "."], in: root).output.split(separator: "\n\n")
            }
            let sourceACLs = try acls(source)
            #expect(sourceACLs.contains { $0.contains("default:user:1000:rwx") } && sourceACLs.contains { $0.contains("\nuser:1000:rwx") })
            #expect(try acls(target) == sourceACLs)
            for (name, kind) in [("devices/null", S_IFCHR), ("devices/loop", S_IFBLK)] {
                let original = try Files.status(source + "/" + name)
                let restored = try Files.status(target + "/" + name)
                #expect(restored.st_mode & S_IFMT == kind, "\(name) is not a device node of its kind")
                #expect(restored.st_rdev == original.st_rdev && original.st_rdev != 0, "\(name): device number")
                #expect(restored.st_mode == original.st_mode && restored.st_uid == original.st_uid && restored.st_gid == original.st_gid)
                #expect(restored.st_mtim.tv_sec == original.st_mtim.tv_sec && restored.st_mtim.tv_nsec == original.st_mtim.tv_nsec)
            }
            #expect(try Files.status(target + "/devices/queue").st_mode & S_IFMT == S_IFIFO)
            #expect(try Files.status(target + "/devices/socket").st_mode & S_IFMT == S_IFSOCK)
            let sparse = try Files.status(target + "/sparse.img")
            #expect(sparse.st_size == 8 << 20 + 5 && Int64(sparse.st_blocks) * 512 < 1 << 20, "the hole was written out")
            let problems = try Tree.differences(expected: source, actual: target)
            #expect(problems.isEmpty, "\(problems)")
        }

        @Test("a catalog rebuilt from the packs gives back attributes, ACLs and device numbers")
        func rebuiltCatalogKeepsThem() throws {
            let scratch = try ScratchDirectory("fidelity-rebuild")
            defer { scratch.remove() }
            let source = scratch.child("source")
            try RestoreFidelityTests.makeRichTree(at: source)
            let vault = try TestVault.create(at: scratch.child("vault"))
            _ = try vault.backup(source)
            for suffix in ["", "-wal", "-shm"] { unlink(vault.path + "/catalog.db" + suffix) }
            let repair = try vault.run("repair", ["--apply"])
            #expect(repair.succeeded, "\(repair)")

            let target = scratch.child("restored")
            let restore = try vault.run("restore", ["--target", target, "latest"])
            #expect(restore.succeeded && restore.errorOutput.isEmpty, "\(restore)")
            let rsync = try Tool.run("/usr/bin/rsync", ["-aHAXS", "--delete", "--itemize-changes", "--dry-run", source + "/", target + "/"])
            let differences = rsync.output.split(separator: "\n").filter { !$0.hasSuffix(" ./") }
            #expect(rsync.status == 0 && differences.isEmpty, "rsync sees differences:\n\(rsync.output)\(rsync.error)")
            #expect(try Files.status(target + "/devices/loop").st_rdev == Files.status(source + "/devices/loop").st_rdev)
        }

        @Test("an attribute added to an unchanged file is a change the next backup records")
        func attributeChangeIsNoticed() throws {
            let scratch = try ScratchDirectory("fidelity-change")
            defer { scratch.remove() }
            let source = scratch.child("source")
            try Files.makeDirectory(source)
            try Files.makeDirectory(source + "/dir")
            try Files.write(source + "/file.txt", text: "same content\n")
            let vault = try TestVault.create(at: scratch.child("vault"))
            _ = try vault.backup(source)

            // Content and mtime stay; only the ctime moves.
            try Files.run("/usr/bin/setfattr", ["-n", "user.tag", "-v", "added", source + "/file.txt"])
            try Files.run("/usr/bin/setfacl", ["-m", "u:1000:rx", source + "/dir"])
            let second = try vault.backup(source)
            #expect(second.filesChanged == 1, "\(second)")
            #expect(try vault.versions("file.txt").count == 2)
            #expect(try vault.versions("dir").count == 2)

            let target = scratch.child("restored")
            try vault.restore("latest", to: target)
            #expect(try Tool.run("/usr/bin/getfattr", ["--only-values", "-n", "user.tag", target + "/file.txt"]).output == "added")
            #expect(try Tool.run("/usr/bin/getfacl", ["-p", "-n", "-c", target + "/dir"]).output.contains("user:1000:r-x"))
        }

        @Test("attributes that cannot be read make the backup partial, naming each entry; the next backup reads them")
        func unreadableAttributesArePartial() throws {
            let scratch = try ScratchDirectory("fidelity-unreadable")
            defer { scratch.remove() }
            let source = scratch.child("source")
            try Files.makeDirectory(source)
            try Files.makeDirectory(source + "/dir")
            try Files.write(source + "/file.txt", text: "with an attribute\n")
            try Files.write(source + "/other.txt", text: "without\n")
            try Files.run("/usr/bin/setfattr", ["-n", "user.on-dir", "-v", "d", source + "/dir"])
            try Files.run("/usr/bin/setfattr", ["-n", "user.on-file", "-v", "f", source + "/file.txt"])
            let vault = try TestVault.create(at: scratch.child("vault"))

            // The walker lists a directory's attributes by path, a reader a file's on its descriptor.
            let log = scratch.child("strace.log")
            let fault = SyscallFault(syscalls: "flistxattr,llistxattr", action: "error=EIO", when: "1+",
                                     paths: [source + "/dir", source + "/file.txt"])
            let first = try TestVault(path: vault.path, wrapper: try fault.wrapper(log: log)).run("backup", [source])
            #expect(first.status == 3 && !first.signaled, "\(first)")
            #expect(SyscallFault.injectedCount(log: log) >= 2, "\(SyscallFault.injectedCount(log: log)) faults injected")
            for name in ["dir", "file.txt"] {
                #expect(first.errorLines.contains { $0.contains(source + "/" + name + ":") && $0.contains("cannot list extended attributes") },
                        "\(name) is not named: \(first)")
            }

            // Nothing changed on disk since; the next backup still reads both again.
            _ = try vault.backup(source)
            let target = scratch.child("restored")
            try vault.restore("latest", to: target)
            #expect(try Tool.run("/usr/bin/getfattr", ["--only-values", "-n", "user.on-dir", target + "/dir"]).output == "d")
            #expect(try Tool.run("/usr/bin/getfattr", ["--only-values", "-n", "user.on-file", target + "/file.txt"]).output == "f")
        }

        @Test("without privilege, device nodes and trusted attributes are named on stderr and the restore exits 3")
        func unprivilegedRestoreIsPartial() throws {
            let scratch = try ScratchDirectory("fidelity-unprivileged")
            defer { scratch.remove() }
            let source = scratch.child("source")
            try Files.makeDirectory(source)
            try Files.write(source + "/plain.txt", text: "plain\n")
            try Files.write(source + "/secret.txt", text: "with a trusted attribute\n")
            try Files.run("/usr/bin/setfattr", ["-n", "trusted.origin", "-v", "root-only", source + "/secret.txt"])
            try RestoreFidelityTests.makeNode(source + "/null", S_IFCHR | 0o666, major: 1, minor: 3)
            let vault = try TestVault.create(at: scratch.child("vault"))
            _ = try vault.backup(source)

            // A user namespace: root inside, but no CAP_MKNOD or CAP_SYS_ADMIN where the files are.
            let unprivileged = TestVault(path: vault.path, wrapper: ["/usr/bin/unshare", "-r"])
            let target = scratch.child("restored")
            let restore = try unprivileged.run("restore", ["--target", target, "latest"])
            #expect(restore.status == 3 && !restore.signaled, "\(restore)")
            #expect(restore.errorLines.contains { $0.contains(target + "/null") && $0.contains("chardev 1:3 not restored") }, "\(restore)")
            #expect(restore.errorLines.contains { $0.contains(target + "/secret.txt") && $0.contains("trusted.origin") }, "\(restore)")
            #expect(restore.errorLines.last?.contains("restore is partial") == true, "\(restore)")
            // Everything else is there, and nothing temporary is left.
            #expect(try Files.read(target + "/plain.txt") == Array("plain\n".utf8))
            #expect(try Files.read(target + "/secret.txt") == Array("with a trusted attribute\n".utf8))
            #expect(!Files.exists(target + "/null"))
            #expect(try Tree.names(in: Array(target.utf8)).map { String(decoding: $0, as: UTF8.self) } == ["plain.txt", "secret.txt"])
        }

        /// Files, directories, links and special files with attributes of every namespace.
        static func makeRichTree(at source: String) throws {
            try Files.makeDirectory(source)
            try Files.makeDirectory(source + "/docs")
            try Files.write(source + "/docs/note.txt", text: "a note\n")
            try Files.run("/usr/bin/setfattr", ["-n", "user.color", "-v", "red", source + "/docs/note.txt"])
            try Files.run("/usr/bin/setfattr", ["-n", "user.binary", "-v", "0x00ff0001", source + "/docs/note.txt"])
            try Files.run("/usr/bin/setfattr", ["-n", "trusted.secret", "-v", "root only", source + "/docs/note.txt"])
            try Files.run("/usr/bin/setfattr", ["-n", "user.purpose", "-v", "documents", source + "/docs"])
            try Files.write(source + "/docs/shared.txt", text: "shared with a group\n", mode: 0o640)
            try Files.run("/usr/bin/setfacl", ["-m", "u:1000:rwx,g:50:r", source + "/docs/shared.txt"])
            try Files.hardLink(source + "/docs/shared-link.txt", to: source + "/docs/shared.txt")
            try Files.makeDirectory(source + "/inherits")
            try Files.run("/usr/bin/setfacl", ["-m", "u:1001:rx", source + "/inherits"])
            try Files.run("/usr/bin/setfacl", ["-d", "-m", "u:1000:rwx,g::rx", source + "/inherits"])
            try Files.write(source + "/inherits/child.txt", text: "created under a default ACL\n")
            try Files.symlink(source + "/note-link", to: "docs/note.txt")
            try Files.run("/usr/bin/setfattr", ["-h", "-n", "security.note", "-v", "on the link", source + "/note-link"])
            try Files.makeDirectory(source + "/devices", mode: 0o750)
            try makeNode(source + "/devices/null", S_IFCHR | 0o666, major: 1, minor: 3)
            try makeNode(source + "/devices/loop", S_IFBLK | 0o640, major: 7, minor: 200)
            try Files.changeOwner(source + "/devices/loop", uid: 1234, gid: 5678)
            try Files.makeFIFO(source + "/devices/queue", mode: 0o620)
            try makeNode(source + "/devices/socket", S_IFSOCK | 0o755, major: 0, minor: 0)
            try Files.makeSparse(source + "/sparse.img", size: 8 << 20)
            try Files.append(source + "/sparse.img", Array("tail\n".utf8))
            // Directory times last, children before parents, the root included.
            for (offset, directory) in ["/devices", "/inherits", "/docs", ""].enumerated() {
                try Files.setModificationTime(source + directory, seconds: 1_600_000_000 + offset * 1000, nanoseconds: 123_456_789)
            }
            try Files.setMode(source, 0o751)
        }

        static func makeNode(_ path: String, _ mode: mode_t, major: UInt32, minor: UInt32) throws {
            let device = dev_t(major & 0xFFF) << 8 | dev_t(major & ~0xFFF) << 32 | dev_t(minor & 0xFF) | dev_t(minor & ~0xFF) << 12
            guard mknod(path, mode, device) == 0 else { throw TestFailure("mknod \(path): \(String(cString: strerror(errno)))") }
        }
    }

    /// A system tool run to completion, its output captured.
    enum Tool {
        struct Result {
            var status: Int32
            var output: String
            var error: String
        }

        static func run(_ executable: String, _ arguments: [String], in directory: String? = nil) throws -> Result {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
            let output = Pipe()
            let error = Pipe()
            process.standardOutput = output
            process.standardError = error
            try process.run()
            // Read before waiting, so a long listing cannot fill the pipe and block the tool.
            let out = output.fileHandleForReading.readDataToEndOfFile()
            let err = error.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return Result(status: process.terminationStatus, output: String(decoding: out, as: UTF8.self),
                          error: String(decoding: err, as: UTF8.self))
        }
    }
}
