import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEndTests {
    /// The vault's life after damage: `check` finds it, `repair` rebuilds and drops what is lost,
    /// backups heal it, and kill -9 during repair loses nothing. Real vaults, the built binary.
    @Suite("Vault lifecycle")
    struct LifecycleTests {}
}

/// `check --json`.
struct CheckJSON: Decodable {
    var ok: Bool
    var problems: [String]
    var notes: [String]
    var packsChecked: Int
    var packsRead: Int
    var blocksRead: Int
    var bytesRead: Int64
    var seconds: Double
}

/// `repair --json`.
struct RepairJSON: Decodable {
    var applied: Bool
    var rebuilt: Bool
    var actions: [String]
    var broken: [String]
}

/// Where a block sits, from the catalog's `blocks` and `packs` tables.
struct StoredBlock {
    var pack: String
    var kind: Int
    var offset: Int
    var storedLength: Int
}

/// A vault and its source tree, with a copy of the tree as each snapshot saw it.
final class LifecycleVault {
    let scratch: ScratchDirectory
    let source: String
    let vault: TestVault
    /// (snapshot id, copy of the source when it was taken), oldest first.
    private(set) var taken: [(id: String, copy: String)] = []

    init(_ label: String) throws {
        scratch = try ScratchDirectory(label)
        source = scratch.child("source")
        try Files.makeDirectory(source)
        vault = try TestVault.create(at: scratch.child("vault"))
    }

    var path: String { vault.path }
    var catalog: String { vault.path + "/catalog.db" }

    /// A small tree: text notes, a one-block file `data/target.bin` (48 KiB of unique bytes), a
    /// many-block file `data/big.bin`, a symlink and an empty directory.
    func writeBaseTree() throws {
        for directory in ["docs", "data", "empty"] { try Files.makeDirectory(source + "/" + directory) }
        for index in 1...8 {
            try Files.write(source + "/docs/note-\(index).txt", text: DeterministicData.text(lines: 20 * index, seed: UInt64(900 + index)))
        }
        try Files.write(source + "/data/target.bin", DeterministicData.bytes(count: 48 << 10, seed: 901))
        try Files.write(source + "/data/big.bin", DeterministicData.bytes(count: 1_500_000, seed: 902))
        try Files.symlink(source + "/link", to: "docs/note-1.txt")
    }

    /// Backs up the source and keeps a copy of it for comparing restores.
    @discardableResult
    func backup() throws -> BackupReport {
        let report = try vault.backup(source)
        let copy = scratch.child("taken-\(taken.count + 1)")
        try Files.copyTree(source, to: copy)
        taken.append((report.snapshot, copy))
        return report
    }

    /// Three snapshots with edits: a base tree; `docs/note-1.txt` grown and `docs/added.txt` new;
    /// `docs/note-2.txt` deleted and `data/big.bin` changed in its first bytes.
    func writeHistoryWithEdits() throws {
        try writeBaseTree()
        try backup()
        try Files.append(source + "/docs/note-1.txt", Array(DeterministicData.text(lines: 7, seed: 911).utf8))
        try Files.write(source + "/docs/added.txt", text: DeterministicData.text(lines: 30, seed: 912))
        try backup()
        try Files.remove(source + "/docs/note-2.txt")
        try Files.overwrite(source + "/data/big.bin", at: 0, with: DeterministicData.bytes(count: 4096, seed: 913))
        try backup()
    }

    // MARK: Looking inside

    /// The location of the first block of a source file (as `blockvault blocks` names it).
    func storedBlock(ofSourceFile relative: String) throws -> StoredBlock {
        let blocks = try Blockvault.run(["blocks", "--json", source + "/" + relative])
        guard blocks.succeeded else { throw TestFailure("\(blocks)") }
        let id = try blocks.decode([BlockInfo].self)[0].id
        return try storedBlock(id: id)
    }

    func storedBlock(id: String) throws -> StoredBlock {
        let rows = try SQLiteShell.rows(catalog, """
            SELECT p.name, p.kind, b.offset, b.stored_length FROM blocks b JOIN packs p ON p.id = b.pack
            WHERE b.hash = X'\(id)'
            """)
        guard rows.count == 1, rows[0].count == 4, let kind = Int(rows[0][1]), let offset = Int(rows[0][2]),
              let length = Int(rows[0][3]) else {
            throw TestFailure("block \(id) is not in the catalog once: \(rows)")
        }
        return StoredBlock(pack: rows[0][0], kind: kind, offset: offset, storedLength: length)
    }

    /// The packs the catalog records, with their kind (0 data, 1 metadata), oldest row first.
    func recordedPacks() throws -> [(name: String, kind: Int)] {
        try SQLiteShell.rows(catalog, "SELECT name, kind FROM packs ORDER BY id").map { ($0[0], Int($0[1]) ?? -1) }
    }

    /// `VAULT/packs/ab/NAME.pack`, in this vault or in a copy of it.
    func packPath(_ name: String, in vaultPath: String? = nil) -> String {
        "\(vaultPath ?? path)/packs/\(name.prefix(2))/\(name).pack"
    }

    /// Flips one bit in the middle of a stored block.
    func flipBit(in block: StoredBlock) throws {
        let file = packPath(block.pack)
        let offset = block.offset + block.storedLength / 2
        let bytes = try Files.read(file)
        try Files.overwrite(file, at: offset, with: [bytes[offset] ^ 0x10])
    }

    /// Removes the catalog and its WAL and shared-memory files.
    func removeCatalog() {
        for suffix in ["", "-wal", "-shm"] { unlink(catalog + suffix) }
    }

    /// Overwrites the root page of the `versions` table (which every listing reads) with 0xDE, after
    /// folding the WAL in.
    func overwriteCatalogPage() throws {
        try SQLiteShell.execute(catalog, "PRAGMA wal_checkpoint(TRUNCATE)")
        for suffix in ["-wal", "-shm"] { unlink(catalog + suffix) }
        guard let page = try SQLiteShell.rows(catalog, "SELECT rootpage FROM sqlite_schema WHERE name = 'versions'").first.flatMap({ Int($0[0]) }),
              page > 1 else {
            throw TestFailure("catalog.db has no versions table")
        }
        try Files.overwrite(catalog, at: 4096 * (page - 1), with: [UInt8](repeating: 0xDE, count: 4096))
    }

    // MARK: Checking

    func check(_ arguments: [String] = []) throws -> CommandResult { try vault.run("check", arguments) }

    func checkJSON(_ arguments: [String] = []) throws -> (CommandResult, CheckJSON) {
        let result = try vault.run("check", arguments + ["--json"])
        return (result, try result.decode(CheckJSON.self))
    }

    /// Restores every snapshot taken (or those given) and compares each with the tree it was taken of;
    /// `in` names another vault (a copy of this one) to restore from.
    func expectSnapshotsRestore(_ snapshots: [(id: String, copy: String)]? = nil, _ context: String = "",
                                in other: TestVault? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for (index, snapshot) in (snapshots ?? taken).enumerated() {
            let target = scratch.child("restored-\(index)")
            defer { try? Files.removeTree(target) }
            let restore = try (other ?? vault).run("restore", ["--target", target, snapshot.id])
            #expect(restore.succeeded, "\(context): restore of snapshot \(snapshot.id): \(restore)", sourceLocation: sourceLocation)
            guard restore.succeeded else { continue }
            let problems = try Tree.differences(expected: snapshot.copy, actual: target)
            #expect(problems.isEmpty, "\(context): snapshot \(snapshot.id) restores differently: \(problems)", sourceLocation: sourceLocation)
        }
    }

    /// A copy of the whole vault directory (to damage one copy in several ways).
    func copyVault(to name: String) throws -> String {
        let copy = scratch.child(name)
        try Files.copyTree(path, to: copy)
        return copy
    }
}
