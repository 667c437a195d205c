import Chunker
import Testing
import TestSupport
@testable import Store
#if canImport(Glibc)
import Glibc
#endif

/// Restores through the planner and its workers: blocks read out of order and across packs, holes,
/// damage found by either worker, names that look like temporary files, and what a target already holds.
@Suite struct RestoreTests {
    /// A source directory, a vault of it, and a place to restore into.
    final class Setup {
        let directory: TemporaryDirectory
        let vault: Vault

        init(chunker: ChunkerParameters = .fastCDC) throws {
            directory = try TemporaryDirectory(prefix: "blockvault-restore")
            try directory.makeDirectory("src")
            try Vault.create(at: directory.path(for: "v"), chunker: chunker)
            vault = try Vault(path: directory.path(for: "v"))
        }

        func backup() throws { _ = try Backup(vault: vault).run(directory: directory.path(for: "src")) }

        /// Restores the latest snapshot into `out` (or `target`) and returns the summary.
        @discardableResult
        func restore(into target: String = "out", workers: Int = 2, overwrite: Bool = false) throws -> RestoreSummary {
            let (folder, snapshot) = try vault.snapshot("latest")
            var options = RestoreOptions()
            options.workers = workers
            options.overwrite = overwrite
            return try Restorer(vault: vault, options: options).run(snapshot: snapshot, folder: folder, target: directory.path(for: target))
        }

        func read(_ name: String) throws -> [UInt8] { try FileSystem.readFile(directory.path(for: name)) }

        /// Names under `name` that are restore temporaries.
        func temporaries(under name: String) throws -> [String] {
            try FileSystem.listDirectory(Array(directory.path(for: name).utf8)).map { String(decoding: $0, as: UTF8.self) }
                .filter { $0.hasPrefix(".blockvault.") && $0.hasSuffix(".tmp") }
        }

        /// Where the catalog says the blocks of `path` (relative to the source) are.
        func locations(of path: String) throws -> [BlockLocation] {
            let (folder, snapshot) = try vault.snapshot("latest")
            let entry = try #require(try vault.entries(of: snapshot, folder: folder, under: Array(path.utf8)).first)
            return try vault.catalog.blockIDs(of: entry).map { try #require(try vault.catalog.location(of: $0)) }
        }
    }

    /// The second file holds the first one's blocks shuffled (so they come from several packs, in no
    /// order), some of them twice, and runs of zero blocks; it is cut into several pieces that the
    /// workers write side by side.
    @Test("blocks from several packs in shuffled order, repeated and zero, restore exactly", arguments: [1, 2, 3])
    func shuffledBlocksAcrossPacks(workers: Int) throws {
        let setup = try Setup(chunker: .fixed)
        let block = 128 << 10
        let count = 320
        let original = DeterministicData.randomBytes(count: count * block, seed: 61)
        try setup.directory.write(original, to: "src/original")
        try setup.backup()
        var generator = SplitMix64(seed: 62)
        var shuffled: [UInt8] = []
        for (position, index) in Array(0..<count).shuffled(using: &generator).enumerated() {
            shuffled += original[index * block..<(index + 1) * block]
            if position % 50 == 7 { shuffled += [UInt8](repeating: 0, count: 3 * block) }
        }
        shuffled += original[0..<10 * block]
        try setup.directory.write(shuffled, to: "src/shuffled")
        try setup.backup()

        let locations = try setup.locations(of: "shuffled")
        #expect(Set(locations.map(\.pack)).count >= 3, "the test needs blocks from several packs")
        let offsets = locations.filter { $0.pack == locations[0].pack }.map(\.entry.offset)
        #expect(offsets != offsets.sorted(), "the test needs blocks out of pack order")
        #expect(RestoreJobBuilder.pieces(of: locations).count > 2, "the test needs a file of several pieces")

        let summary = try setup.restore(workers: workers)
        #expect(summary.files == 2)
        #expect(try setup.read("out/original") == original)
        #expect(try setup.read("out/shuffled") == shuffled)
    }

    /// Zeros inside blocks, not only whole zero blocks, become holes: here every 128 KiB block holds
    /// 60 KiB of data and 68 KiB of zeros, and a file ends in zeros.
    @Test("runs of zeros inside blocks restore identical and as holes")
    func zeroRunsBecomeHoles() throws {
        let setup = try Setup(chunker: .fixed)
        var striped: [UInt8] = []
        for index in 0..<24 {
            striped += DeterministicData.randomBytes(count: 60 << 10, seed: UInt64(630 + index)) + [UInt8](repeating: 0, count: 68 << 10)
        }
        let tail = DeterministicData.randomBytes(count: 200_001, seed: 65) + [UInt8](repeating: 0, count: 1 << 20)
        try setup.directory.write(striped, to: "src/striped")
        try setup.directory.write(tail, to: "src/tail")
        try setup.backup()
        try setup.restore()
        for (name, bytes, data) in [("striped", striped, 24 * 60 << 10), ("tail", tail, 200_001)] {
            #expect(try setup.read("out/" + name) == bytes, "\(name) differs")
            var status = stat()
            try #require(stat(setup.directory.path(for: "out/" + name), &status) == 0)
            #expect(Int(status.st_size) == bytes.count)
            // Each data run may share a page with zeros, and the filesystem may allocate a little more.
            let allocated = Int(status.st_blocks) * 512
            #expect(allocated <= data + 24 * 8192 + 65536, "\(name) occupies \(allocated) of \(bytes.count) bytes: its zeros were written")
        }
    }

    /// Every block is verified as it is read, whichever worker reads it: a damaged block fails the
    /// restore with an error naming its file, which is not written, and no temporary file is left.
    @Test("a damaged block fails the restore naming its file, with parallel workers", arguments: [1, 2])
    func damagedBlockNamesItsFile(workers: Int) throws {
        let setup = try Setup()
        try setup.directory.makeDirectory("src/notes")
        for index in 0..<300 {
            try setup.directory.write(DeterministicData.textLikeBytes(count: 2_000 + index * 37, seed: UInt64(700 + index)),
                                      to: "src/notes/note-\(index).txt")
        }
        try setup.backup()
        let damaged = try #require(try setup.locations(of: "notes/note-201.txt").first)
        let pack = setup.vault.storage.packLocation(damaged.pack)
        chmod(pack, 0o644)
        let descriptor = open(pack, O_RDWR)
        try #require(descriptor >= 0)
        var byte: UInt8 = 0
        let at = off_t(damaged.entry.offset + damaged.entry.storedLength / 2)
        #expect(pread(descriptor, &byte, 1, at) == 1)
        byte ^= 0x10
        #expect(pwrite(descriptor, &byte, 1, at) == 1)
        close(descriptor)

        let error = #expect(throws: StoreError.self) { try setup.restore(workers: workers) }
        #expect(error?.description.contains("notes/note-201.txt") == true, "\(String(describing: error))")
        #expect(access(setup.directory.path(for: "out/notes/note-201.txt"), F_OK) != 0, "the damaged file must not be written")
        #expect(try setup.temporaries(under: "out/notes").isEmpty)
    }

    /// Entries named like the temporary files of others restore exactly, whatever order the workers
    /// finish in.
    @Test("entries named like temporary files restore exactly beside the entries they shadow")
    func namesLikeTemporaryFiles() throws {
        let setup = try Setup()
        try setup.directory.write(Array("the file x\n".utf8), to: "src/x")
        try setup.directory.write(Array("a file named like x's temporary\n".utf8), to: "src/.blockvault.x.tmp")
        try setup.directory.write(Array("the file y\n".utf8), to: "src/y")
        #expect(symlink("x", setup.directory.path(for: "src/.blockvault.y.tmp")) == 0)
        try setup.backup()
        try setup.restore()
        #expect(try setup.read("out/x") == Array("the file x\n".utf8))
        #expect(try setup.read("out/.blockvault.x.tmp") == Array("a file named like x's temporary\n".utf8))
        #expect(try setup.read("out/y") == Array("the file y\n".utf8))
        #expect(try FileSystem.readLink(Array(setup.directory.path(for: "out/.blockvault.y.tmp").utf8)) == Array("x".utf8))
    }

    /// What is already in the target is never replaced without `overwrite`, and never written through.
    @Test("an existing file is kept unless overwrite; a symlink where a directory goes is never followed")
    func existingEntriesInTheTarget() throws {
        let setup = try Setup()
        try setup.directory.makeDirectory("src/dir")
        try setup.directory.write(Array("new\n".utf8), to: "src/dir/file")
        try setup.directory.write(Array("top\n".utf8), to: "src/top")
        try setup.backup()

        try setup.directory.makeDirectory("out")
        try setup.directory.makeDirectory("out/dir")
        try setup.directory.write(Array("old\n".utf8), to: "out/dir/file")
        let error = #expect(throws: StoreError.self) { try setup.restore() }
        #expect(error?.description.contains("out/dir/file already exists") == true, "\(String(describing: error))")
        #expect(try setup.read("out/dir/file") == Array("old\n".utf8))
        try setup.restore(overwrite: true)
        #expect(try setup.read("out/dir/file") == Array("new\n".utf8))

        try setup.directory.makeDirectory("elsewhere")
        try setup.directory.makeDirectory("guarded")
        #expect(symlink(setup.directory.path(for: "elsewhere"), setup.directory.path(for: "guarded/dir")) == 0)
        #expect(throws: StoreError.self) { try setup.restore(into: "guarded") }
        #expect(try FileSystem.listDirectory(Array(setup.directory.path(for: "elsewhere").utf8)).isEmpty, "written through a symlink")
        try setup.restore(into: "guarded", overwrite: true)
        #expect(try setup.read("guarded/dir/file") == Array("new\n".utf8))
        #expect(try FileSystem.listDirectory(Array(setup.directory.path(for: "elsewhere").utf8)).isEmpty, "written through a symlink")
    }
}
