import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEndTests {
    /// A directory of the source swapped for a symlink while a backup runs (`mv d d.real; ln -s
    /// /elsewhere d`) must not pull files from outside the tree into the snapshot: what the backup
    /// listed and what it reads is the same file, or the file is reported and its previous version kept.
    ///
    /// strace holds the backup at a chosen moment: it delays the walker's open of one directory by a
    /// few seconds (after the walker has listed and stat'ed what the swap targets, before anything is
    /// read from it, since the walker hands files over in batches at the end of so small a walk). The
    /// test swaps the directory once strace's log shows that open has begun, so the order of events
    /// is fixed, not left to chance.
    @Suite("Directories swapped during a backup")
    struct SwappedDirectoryTests {
        static var hasStrace: Bool { executableOnPath("strace") != nil }
        /// How long the held open waits: the time the test has to swap the directory once it sees the open.
        static let holdMicroseconds = 4_000_000

        static let firstVersion = Array("inside the tree, version 1\n".utf8)
        static let secondVersion = Array("inside the tree, version 2 (longer)\n".utf8)
        static let outside = Array("OUTSIDE THE TREE: this must never be stored in a snapshot\n".utf8)

        /// A source with `d` (holding `f1` and `sub/x`), `d/a/` and `e/g`, and `elsewhere` (outside
        /// it) holding the same names with other contents.
        final class Scene {
            let scratch: ScratchDirectory
            let source: String
            let elsewhere: String
            var vault: TestVault

            init(_ label: String) throws {
                scratch = try ScratchDirectory(label)
                source = scratch.child("source")
                elsewhere = scratch.child("elsewhere")
                for directory in [source, source + "/d", source + "/d/a", source + "/d/sub", source + "/e",
                                  elsewhere, elsewhere + "/a", elsewhere + "/sub"] {
                    try Files.makeDirectory(directory)
                }
                for file in ["/d/f1", "/d/sub/x"] { try Files.write(source + file, SwappedDirectoryTests.firstVersion) }
                try Files.write(source + "/e/g", text: "g\n")
                for file in ["/f1", "/sub/x"] { try Files.write(elsewhere + file, SwappedDirectoryTests.outside) }
                vault = try TestVault.create(at: scratch.child("vault"))
            }

            /// Runs a backup whose walker is held at its open of `held` (relative to the source); once
            /// the hold has begun, `swap` runs (by default, `d` is swapped for a symlink to `elsewhere`).
            func backupSwappingDirectory(holding held: String, swap: ((Scene) throws -> Void)? = nil) throws -> CommandResult {
                let log = scratch.child("strace-\(held.replacingOccurrences(of: "/", with: "-")).log")
                var traced = vault
                // The open is matched by the full path (an open by path) or the relative one (an open
                // beneath the source's descriptor); only the walker opens these directories.
                traced.wrapper = [try SyscallFault.strace(), "-f", "-qq", "-o", log, "-E", "SWIFT_BACKTRACE=enable=no",
                                  "-e", "signal=none", "-e", "trace=openat,openat2",
                                  "-e", "inject=openat,openat2:delay_enter=\(SwappedDirectoryTests.holdMicroseconds):when=1",
                                  "-P", source + "/" + held, "-P", held]
                let running = try traced.start("backup", ["--json", "--no-dictionary", source])
                let quoted = ["\"\(held)\"", "\"\(source)/\(held)\""]
                let deadline = Clock.seconds() + 120
                var seen = false
                while !seen && Clock.seconds() < deadline {
                    let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                    seen = quoted.contains { text.contains($0) }
                    if !seen { usleep(2_000) }
                }
                if seen, let swap {
                    try swap(self)
                } else if seen {
                    try Files.rename(source + "/d", to: source + "/d.real")
                    try Files.symlink(source + "/d", to: elsewhere)
                }
                let result = running.wait(timeout: 180)
                let trace = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                guard seen else { throw TestFailure("the backup never opened \(held) under strace: \(result)\nstrace log: \(trace.suffix(2000))") }
                return result
            }

            /// The latest snapshot restored into a new directory, whose path is returned.
            func restoreLatest(_ name: String) throws -> String {
                let target = scratch.child(name)
                try vault.restore("latest", to: target)
                return target
            }
        }

        @Test("a file's directory swapped for a symlink after the walk listed it: reported, its previous version kept, nothing from outside stored",
              .enabled(if: hasStrace, "needs strace to hold the backup between its walk and its reads"))
        func fileBehindSwappedDirectory() throws {
            let scene = try Scene("swap-file")
            defer { scene.scratch.remove() }
            _ = try scene.vault.backup(scene.source, ["--no-dictionary"])
            try Files.write(scene.source + "/d/f1", Self.secondVersion)   // changed: the next backup reads it

            // The walker has listed d and stat'ed d/f1 when it opens e; d/f1 is read after the walk.
            let result = try scene.backupSwappingDirectory(holding: "e")
            #expect(result.status == 3, "the file is reported as changed during the backup (a partial snapshot): \(result)")
            #expect(result.errorLines.contains { $0.contains("d/f1") && $0.contains("changed during the backup") }, "\(result)")

            let restored = try scene.restoreLatest("restored")
            let content = try Files.read(restored + "/d/f1")
            #expect(content != Self.outside, "a file from outside the backed-up tree was stored as d/f1")
            #expect(content == Self.firstVersion, "d/f1 keeps its previous version: \(String(decoding: content, as: UTF8.self))")
        }

        @Test("a file replaced by another after the walk stat'ed it: reported, its previous version kept",
              .enabled(if: hasStrace, "needs strace to hold the backup between its walk and its reads"))
        func fileReplacedAfterTheWalk() throws {
            let scene = try Scene("swap-replaced")
            defer { scene.scratch.remove() }
            _ = try scene.vault.backup(scene.source, ["--no-dictionary"])
            try Files.write(scene.source + "/d/f1", Self.secondVersion)

            let result = try scene.backupSwappingDirectory(holding: "e") { scene in
                try Files.write(scene.source + "/d/f1.new", Self.outside)
                try Files.rename(scene.source + "/d/f1.new", to: scene.source + "/d/f1")
            }
            #expect(result.status == 3, "\(result)")
            #expect(result.errorLines.contains { $0.contains("d/f1") && $0.contains("changed during the backup") }, "\(result)")
            let content = try Files.read(try scene.restoreLatest("restored") + "/d/f1")
            #expect(content == Self.firstVersion, "d/f1 keeps its previous version: \(String(decoding: content, as: UTF8.self))")
        }

        @Test("a directory's parent swapped for a symlink after the walk listed it: reported, what was recorded under it kept, nothing from outside stored",
              .enabled(if: hasStrace, "needs strace to hold the backup between its walk and its reads"))
        func subdirectoryBehindSwappedDirectory() throws {
            let scene = try Scene("swap-dir")
            defer { scene.scratch.remove() }
            _ = try scene.vault.backup(scene.source, ["--no-dictionary"])

            // The walker has listed d (so it knows d/sub) when it opens d/a; it opens d/sub after.
            let result = try scene.backupSwappingDirectory(holding: "d/a")
            #expect(result.status == 3, "the directory is reported as changed during the backup (a partial snapshot): \(result)")
            #expect(result.errorLines.contains { $0.contains("d/sub") }, "\(result)")

            let restored = try scene.restoreLatest("restored")
            let content = try Files.read(restored + "/d/sub/x")
            #expect(content != Self.outside, "a file from outside the backed-up tree was stored as d/sub/x")
            #expect(content == Self.firstVersion, "d/sub/x keeps its recorded version: \(String(decoding: content, as: UTF8.self))")
            let f1 = Files.exists(restored + "/d/f1") ? try Files.read(restored + "/d/f1") : Self.firstVersion
            #expect(f1 == Self.firstVersion, "d/f1 is never taken from outside")
        }
    }
}
