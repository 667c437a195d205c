import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Every chunker test that touches the file system stands on `TemporaryDirectory`; a leak would fill
/// /tmp over many runs, and a removal that followed a symbolic link could delete files outside.
@Suite("TemporaryDirectory")
struct TemporaryDirectoryTests {
    static func exists(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0
    }

    static func contents(of path: String) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
            try #require(count >= 0)
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }

    @Test("directories are unique, under /tmp, and hold what was written")
    func createAndWrite() throws {
        let first = try TemporaryDirectory()
        let second = try TemporaryDirectory()
        #expect(first.path != second.path)
        #expect(first.path.hasPrefix("/tmp/blockvault-test-"))
        let bytes = DeterministicData.randomBytes(count: 300_001, seed: 61)
        let path = try first.write(bytes, to: "data")
        #expect(path == first.path(for: "data"))
        #expect(try Self.contents(of: path) == bytes)
        try first.write([1, 2, 3], to: "data")
        #expect(try Self.contents(of: path) == [1, 2, 3], "writing replaces the file")
        #expect(throws: TestSupportError.self) { try first.write([], to: "missing/data") }
    }

    @Test("deinit removes the whole tree, read-only parts included, without following links")
    func removal() throws {
        let outside = try TemporaryDirectory(prefix: "blockvault-outside")
        let outsideFile = try outside.write([42], to: "keep")
        var path = ""
        do {
            let directory = try TemporaryDirectory()
            path = directory.path
            let nested = try directory.makeDirectory("nested")
            try directory.makeDirectory("nested/deeper")
            try directory.write([1], to: "nested/deeper/file")
            try directory.write([2], to: "nested/file")
            #expect(chmod(nested, 0o500) == 0)
            #expect(symlink(outside.path, directory.path(for: "link")) == 0)
            #expect(Self.exists(directory.path(for: "nested/deeper/file")))
        }
        #expect(!Self.exists(path), "the directory outlived its owner")
        #expect(try Self.contents(of: outsideFile) == [42], "removal followed a symbolic link")
    }
}
