// The block index at scale (issue 6: lookups stay fast at 10^7 blocks without loading the index
// into memory). `--index-build N PATH` makes a catalog at PATH holding N blocks; `--index-lookup N
// PATH` then times `Catalog.hasBlock`, the point query a backup's workers make for every block they
// meet, for blocks the catalog has and blocks it lacks. Run the two as separate processes: the
// build holds every ID in memory to insert them in order, the lookups must not.
import Chunker
import Store
#if canImport(Glibc)
import Glibc
#endif

/// The `index`-th block ID of the bench: 32 bytes of SplitMix64 seeded from `index`, so both steps
/// (and any run) name the same blocks without storing them.
func benchBlockID(_ index: Int) -> BlockID {
    var state = UInt64(bitPattern: Int64(index)) &* 0x9E37_79B9_7F4A_7C15 &+ 0x1234_5678
    var words: [UInt64] = []
    for _ in 0..<4 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        words.append(mixed ^ (mixed >> 31))
    }
    return words.withUnsafeBytes { BlockID(digest: $0) }
}

func indexBench(arguments: [String]) {
    guard arguments.count == 3, let count = Int(arguments[1]), count > 0 else {
        print("usage: blockvault-primitives-bench --index-build N PATH | --index-lookup N PATH")
        exit(2)
    }
    let path = arguments[2]
    do {
        if arguments[0] == "--index-build" {
            try buildIndex(count: count, path: path)
        } else {
            try lookUpIndex(count: count, path: path)
        }
    } catch {
        print("blockvault-primitives-bench: \(error)")
        exit(1)
    }
}

/// A fresh catalog at `path` whose block table holds blocks 0..<count, spread over packs of 2,000
/// blocks (as a vault of 167 KiB blocks would), inserted in ID order in transactions of 100,000.
func buildIndex(count: Int, path: String) throws {
    for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
    let start = now()
    var ids = (0..<count).map(benchBlockID)
    ids.sort()
    try Catalog(path: path).checkpointAndClose()   // the schema
    // The block table is filled directly, without pack rows or footers (only its size matters to
    // the lookups), on a connection of the bench's own with the catalog's settings.
    let database = try Database(path: path, create: false)
    try database.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-16384")
    let insert = try database.prepare("""
        INSERT INTO blocks(hash, pack, offset, stored_length, raw_length, encoding) VALUES(?, ?, ?, ?, ?, 1)
        """)
    var next = 0
    while next < count {
        let end = min(count, next + 100_000)
        try database.transaction {
            for index in next..<end {
                try insert.bind(ids[index], at: 1)
                try insert.bind(index % 5_000, at: 2)
                try insert.bind((index / 5_000) * 60_000, at: 3)
                try insert.bind(60_000, at: 4)
                try insert.bind(171_000, at: 5)
                try insert.step()
            }
        }
        next = end
    }
    try database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    database.close()
    var status = stat()
    stat(path, &status)
    print("index: built \(count) blocks in \(fixed2(now() - start)) s, catalog \(Int(status.st_size) / 1_000_000) MB")
}

/// Times `hasBlock` for 200,000 blocks the catalog has and 200,000 it lacks, each in random order,
/// after 20,000 warm-up lookups; prints microseconds per lookup.
func lookUpIndex(count: Int, path: String) throws {
    let catalog = try Catalog(path: path, writable: false)
    var state: UInt64 = 0x5EED
    func random(below bound: Int) -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int((state >> 11) % UInt64(bound))
    }
    for _ in 0..<20_000 { _ = try catalog.hasBlock(benchBlockID(random(below: count))) }
    let lookups = 200_000
    var results: [String] = []
    for (label, offset) in [("present", 0), ("absent", count)] {
        let ids = (0..<lookups).map { _ in benchBlockID(offset + random(below: count)) }
        var found = 0
        let start = now()
        for id in ids where try catalog.hasBlock(id) { found += 1 }
        let seconds = now() - start
        guard found == (offset == 0 ? lookups : 0) else {
            print("index: \(label) lookups found \(found) of \(lookups): the catalog at \(path) is not the bench's")
            exit(1)
        }
        results.append("\(label) \(fixed2(seconds * 1e6 / Double(lookups))) µs (\(Int(Double(lookups) / seconds)) lookups/s)")
    }
    print("index: \(count) blocks: " + results.joined(separator: ", "))
}
