import Dispatch
import Synchronization
import Testing
import TestSupport
@testable import Store

/// Every contract of `BlobStorage`, run against every implementation: the local directory (with
/// its default descriptor cache, and with one so small that every few reads evict), and the
/// fault-injecting decorator with no faults, which must be indistinguishable from what it wraps.
@Suite struct StorageConformanceTests {
    enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case local
        case localWithTwoOpenFiles
        case faultWrapperWithoutFaults

        var testDescription: String { rawValue }

        func make(root: String) -> any BlobStorage {
            switch self {
            case .local: LocalBlobStorage(root: root)
            case .localWithTwoOpenFiles: LocalBlobStorage(root: root, openFiles: 2)
            case .faultWrapperWithoutFaults: FaultInjectingStorage(LocalBlobStorage(root: root))
            }
        }
    }

    /// A fresh storage in a directory of its own, kept alive with it.
    struct Fixture {
        let directory: TemporaryDirectory
        let storage: any BlobStorage
        init(_ backend: Backend) throws {
            directory = try TemporaryDirectory(prefix: "blockvault-storage")
            storage = backend.make(root: directory.path)
        }
    }

    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] { DeterministicData.randomBytes(count: count, seed: seed) }

    @Test("put stores an object whole: size, ranges and the whole read back exactly; a second put replaces it",
          arguments: Backend.allCases)
    func putAndReadRanges(_ backend: Backend) throws {
        let storage = try Fixture(backend).storage
        let first = Self.bytes(100_000, seed: 1)
        try storage.put("packs/ab/one.pack", bytes: first)
        #expect(try storage.size(of: "packs/ab/one.pack") == first.count)
        #expect(try storage.read("packs/ab/one.pack") == first)
        #expect(try storage.read("packs/ab/one.pack", range: 12_345..<54_321) == Array(first[12_345..<54_321]))
        #expect(try storage.read("packs/ab/one.pack", range: first.count - 1..<first.count) == [first.last!])
        #expect(try storage.read("packs/ab/one.pack", range: 7..<7) == [])
        // Into a caller's buffer, at an offset.
        var buffer = [UInt8](repeating: 0, count: 4096)
        try buffer.withUnsafeMutableBytes { try storage.read("packs/ab/one.pack", at: 90_000, into: $0) }
        #expect(buffer == Array(first[90_000..<94_096]))

        let second = Self.bytes(3_000, seed: 2)
        try storage.put("packs/ab/one.pack", bytes: second)
        #expect(try storage.size(of: "packs/ab/one.pack") == second.count)
        #expect(try storage.read("packs/ab/one.pack") == second, "a reader must see the replacement, not a stale open file")
    }

    @Test("a range past the end is an error (damage), never short data; a missing object is an I/O error",
          arguments: Backend.allCases)
    func rangesPastTheEnd(_ backend: Backend) throws {
        let storage = try Fixture(backend).storage
        let bytes = Self.bytes(1_000, seed: 3)
        try storage.put("packs/cd/short.pack", bytes: bytes)
        for range in [990..<1_001, 1_000..<1_001, 2_000..<2_010, 0..<1_000_000] {
            #expect(Self.isCorrupt { _ = try storage.read("packs/cd/short.pack", range: range) }, "range \(range)")
        }
        #expect(Self.isIO { _ = try storage.read("packs/cd/absent.pack", range: 0..<1) })
        #expect(Self.isIO { _ = try storage.size(of: "packs/cd/absent.pack") })
    }

    @Test("list gives exactly the committed keys under a prefix", arguments: Backend.allCases)
    func listByPrefix(_ backend: Backend) throws {
        let storage = try Fixture(backend).storage
        let keys = ["packs/ab/ab1.pack", "packs/ab/ab2.pack", "packs/cd/cd1.pack", "locks/writer", "config"]
        for (index, key) in keys.enumerated() { try storage.put(key, bytes: Self.bytes(10 + index, seed: UInt64(index))) }
        let pending = try storage.upload("packs/ab/ab3.pack")
        try pending.append(bytes: Self.bytes(50, seed: 9))
        #expect(Set(try storage.list(prefix: "packs/")) == ["packs/ab/ab1.pack", "packs/ab/ab2.pack", "packs/cd/cd1.pack"])
        #expect(Set(try storage.list(prefix: "packs/ab/")) == ["packs/ab/ab1.pack", "packs/ab/ab2.pack"])
        #expect(Set(try storage.list(prefix: "packs/ab/ab2")) == ["packs/ab/ab2.pack"])
        #expect(Set(try storage.list(prefix: "locks/")) == ["locks/writer"])
        #expect(Set(try storage.list(prefix: "")) == Set(keys))
        #expect(try storage.list(prefix: "nothing/").isEmpty)
        #expect(Set(try storage.packNames()) == ["ab1", "ab2", "cd1"])
        pending.abort()
    }

    @Test("delete removes an object and is idempotent", arguments: Backend.allCases)
    func deleteIsIdempotent(_ backend: Backend) throws {
        let storage = try Fixture(backend).storage
        try storage.put("packs/ef/gone.pack", bytes: Self.bytes(5_000, seed: 4))
        try storage.put("packs/ef/kept.pack", bytes: Self.bytes(6_000, seed: 5))
        _ = try storage.read("packs/ef/gone.pack", range: 0..<10)   // opened (and cached) before the delete
        try storage.delete("packs/ef/gone.pack")
        try storage.delete("packs/ef/gone.pack")
        try storage.delete("packs/ef/never.pack")
        try storage.syncDeletions(prefix: "packs/")
        #expect(try storage.list(prefix: "packs/") == ["packs/ef/kept.pack"])
        #expect(Self.isIO { _ = try storage.read("packs/ef/gone.pack", range: 0..<10) }, "a deleted object must not read")
        #expect(try storage.read("packs/ef/kept.pack") == Self.bytes(6_000, seed: 5))
    }

    @Test("an upload is invisible until commit, then reads back exactly as appended", arguments: Backend.allCases)
    func uploadInvisibleUntilCommit(_ backend: Backend) throws {
        let storage = try Fixture(backend).storage
        let pieces = [Self.bytes(700_000, seed: 6), Self.bytes(2_500_000, seed: 7), Self.bytes(3, seed: 8)]
        let upload = try storage.upload("packs/12/streamed.pack")
        for piece in pieces {
            try upload.append(bytes: piece)
            #expect(try storage.list(prefix: "packs/").isEmpty)
            #expect(Self.isIO { _ = try storage.size(of: "packs/12/streamed.pack") })
        }
        #expect(upload.size == pieces.map(\.count).reduce(0, +))
        try upload.commit()
        upload.abort()   // a no-op after commit
        #expect(try storage.list(prefix: "packs/") == ["packs/12/streamed.pack"])
        #expect(try storage.read("packs/12/streamed.pack") == pieces.flatMap { $0 })
    }

    @Test("an aborted upload, or one dropped before commit, leaves nothing", arguments: Backend.allCases)
    func abortLeavesNothing(_ backend: Backend) throws {
        let storage = try Fixture(backend).storage
        do {
            let aborted = try storage.upload("packs/34/aborted.pack")
            try aborted.append(bytes: Self.bytes(1_500_000, seed: 9))
            aborted.abort()
            aborted.abort()
            let dropped = try storage.upload("packs/34/dropped.pack")
            try dropped.append(bytes: Self.bytes(10, seed: 10))
        }
        #expect(try storage.list(prefix: "").isEmpty)
        #expect(Self.isIO { _ = try storage.size(of: "packs/34/aborted.pack") })
    }

    @Test("create-if-absent: of racing creators exactly one wins, and the object is the winner's", arguments: Backend.allCases)
    func createIfAbsentIsExclusive(_ backend: Backend) throws {
        let storage = try Fixture(backend).storage
        #expect(try storage.createIfAbsent("locks/first", bytes: Array("one".utf8)))
        #expect(try !storage.createIfAbsent("locks/first", bytes: Array("two".utf8)))
        #expect(try storage.read("locks/first") == Array("one".utf8))

        let racers = 16
        let winners = Mutex<[Int]>([])
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: racers) { index in
            do {
                if try storage.createIfAbsent("locks/raced", bytes: Array("racer \(index)".utf8)) { winners.withLock { $0.append(index) } }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        let won = winners.withLock { $0 }
        #expect(won.count == 1)
        if let winner = won.first { #expect(try storage.read("locks/raced") == Array("racer \(winner)".utf8)) }
        #expect(Set(try storage.list(prefix: "locks/")) == ["locks/first", "locks/raced"], "no temporary file is left or listed")
    }

    @Test("cleanup removes what uploads in progress left: such an upload can no longer commit", arguments: Backend.allCases)
    func cleanupOfLeftovers(_ backend: Backend) throws {
        let storage = try Fixture(backend).storage
        try storage.put("packs/56/kept.pack", bytes: Self.bytes(100, seed: 11))
        let interrupted = try storage.upload("packs/56/interrupted.pack")
        try interrupted.append(bytes: Self.bytes(2_000, seed: 12))
        try storage.removeIncompleteUploads(prefix: "packs/")
        #expect(throws: StoreError.self) { try interrupted.commit() }
        #expect(try storage.list(prefix: "") == ["packs/56/kept.pack"])
        #expect(try storage.read("packs/56/kept.pack") == Self.bytes(100, seed: 11))
    }

    @Test("concurrent reads of many objects, more than the open files kept, all read back exactly", arguments: Backend.allCases)
    func concurrentReadsAcrossObjects(_ backend: Backend) throws {
        let storage = try Fixture(backend).storage
        let objects = (0..<12).map { Self.bytes(20_000 + $0 * 100, seed: UInt64(100 + $0)) }
        for (index, bytes) in objects.enumerated() { try storage.put("packs/\(index % 3)x/o\(index).pack", bytes: bytes) }
        let mismatches = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            var buffer = [UInt8](repeating: 0, count: 1_000)
            for step in 0..<300 {
                let index = (worker * 7 + step * 5) % objects.count
                let offset = (step * 37) % 19_000
                do {
                    try buffer.withUnsafeMutableBytes { try storage.read("packs/\(index % 3)x/o\(index).pack", at: offset, into: $0) }
                    if buffer[...] != objects[index][offset..<offset + 1_000] { mismatches.withLock { $0 += 1 } }
                } catch {
                    mismatches.withLock { $0 += 1 }
                }
            }
        }
        #expect(mismatches.withLock { $0 } == 0)
    }

    static func isCorrupt(_ body: () throws -> Void) -> Bool {
        do { try body() } catch let error as StoreError { if case .corrupt = error { return true } } catch {}
        return false
    }

    static func isIO(_ body: () throws -> Void) -> Bool {
        do { try body() } catch let error as StoreError { if case .io = error { return true } } catch {}
        return false
    }
}
