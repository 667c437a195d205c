import Chunker
import Testing
import TestSupport

/// The reason blockvault defaults to FastCDC: an insertion near the start of a large file shifts
/// every later byte, which costs the fixed chunker nearly every block but content-defined cuts only
/// the block or two around the edit. Measured on 64 MiB so that "nearly every" means hundreds.
@Suite("Edit locality")
struct EditLocalityTests {
    static let original = DeterministicData.randomBytes(count: 64 << 20, seed: 51)

    struct Edit: Sendable, CustomTestStringConvertible {
        var name: String
        var offset: Int
        /// Bytes removed at `offset` before `inserted` goes in.
        var removed: Int
        var inserted: [UInt8]
        /// Whether later bytes move, which is what defeats fixed-size blocks.
        var shifts: Bool { removed != inserted.count }
        var testDescription: String { name }

        func apply(to bytes: [UInt8]) -> [UInt8] {
            var edited = bytes
            edited.replaceSubrange(offset..<offset + removed, with: inserted)
            return edited
        }
    }

    static let edits: [Edit] = [
        Edit(name: "insert 100 bytes at 1000", offset: 1000, removed: 0,
             inserted: DeterministicData.randomBytes(count: 100, seed: 52)),
        Edit(name: "delete 100 bytes at 1000", offset: 1000, removed: 100, inserted: []),
        Edit(name: "overwrite 100 bytes at 32 MiB", offset: 32 << 20, removed: 100,
             inserted: DeterministicData.randomBytes(count: 100, seed: 53)),
    ]

    /// Counts the edited input's blocks whose IDs the original does not have: what a backup of the
    /// edited file would have to store anew.
    static func newBlocks(after edit: Edit, _ parameters: ChunkerParameters) -> (new: Int, total: Int) {
        let known = Set(Chunking.inMemory(original, parameters).map(\.id))
        let edited = Chunking.inMemory(edit.apply(to: original), parameters)
        return (edited.filter { !known.contains($0.id) }.count, edited.count)
    }

    @Test("FastCDC stores only a few new blocks", arguments: edits)
    func fastCDC(edit: Edit) {
        let (new, total) = Self.newBlocks(after: edit, .fastCDC)
        #expect(total > 300, "64 MiB at ~150 KiB per block")
        #expect(new >= 1, "the edited bytes must land in some new block")
        #expect(new <= 3, "\(new) of \(total) blocks are new")
    }

    @Test("fixed-size blocks are almost all new after a shift, not after an overwrite", arguments: edits)
    func fixed(edit: Edit) {
        let (new, total) = Self.newBlocks(after: edit, .fixed)
        #expect(total >= 512)
        if edit.shifts {
            #expect(new * 10 >= total * 9, "only \(new) of \(total) blocks are new")
        } else {
            #expect(new == 1, "an overwrite within one block changes that block only, got \(new)")
        }
    }
}
