import Testing
import TestSupport
@testable import Store
#if canImport(Glibc)
import Glibc
#endif

/// `FileSystem.openBeneath` (openat2) and its fallback without openat2 (an `openat` per name) open a
/// path beneath a directory descriptor through real directories only.
@Suite struct OpenBeneathTests {
    typealias Opener = @Sendable (Int32, [UInt8], Int32) -> Int32
    static let openers: [(String, Opener)] = [
        ("openat2", { FileSystem.openBeneath($0, $1, flags: $2) }),
        ("name by name", { FileSystem.openNameByName($0, $1, flags: $2) }),
    ]

    @Test(arguments: [0, 1])
    func opensRealPathsAndRefusesSymlinksOnTheWay(_ which: Int) throws {
        let (label, openBeneath) = Self.openers[which]
        let directory = try TemporaryDirectory(prefix: "blockvault-beneath")
        try directory.makeDirectory("root")
        try directory.makeDirectory("root/d")
        try directory.makeDirectory("root/d/sub")
        try directory.write(Array("inside\n".utf8), to: "root/d/sub/f")
        try directory.makeDirectory("elsewhere")
        try directory.makeDirectory("elsewhere/sub")
        try directory.write(Array("outside\n".utf8), to: "elsewhere/sub/f")
        let root = open(directory.path(for: "root"), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try #require(root >= 0)
        defer { close(root) }

        let file = openBeneath(root, Array("d/sub/f".utf8), O_RDONLY | O_CLOEXEC)
        #expect(file >= 0, "\(label): a real path opens")
        if file >= 0 { close(file) }
        let sub = openBeneath(root, Array("d/sub".utf8), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        #expect(sub >= 0, "\(label): a real directory opens")
        if sub >= 0 { close(sub) }

        // d swapped for a symlink to a tree outside: neither the file nor the directory under it opens.
        #expect(rename(directory.path(for: "root/d"), directory.path(for: "root/d.real")) == 0)
        #expect(symlink(directory.path(for: "elsewhere"), directory.path(for: "root/d")) == 0)
        for (path, flags) in [("d/sub/f", O_RDONLY | O_CLOEXEC), ("d/sub", O_RDONLY | O_DIRECTORY | O_CLOEXEC), ("d", O_RDONLY | O_DIRECTORY | O_CLOEXEC)] {
            let descriptor = openBeneath(root, Array(path.utf8), flags)
            let code = errno
            if descriptor >= 0 { close(descriptor) }
            #expect(descriptor < 0 && FileSystem.isSwapped(code), "\(label): \(path) through a symlink: errno \(code)")
        }
        // A symlink as the last name is refused too, even to a file inside the tree.
        #expect(symlink("d.real/sub/f", directory.path(for: "root/link")) == 0)
        let link = openBeneath(root, Array("link".utf8), O_RDONLY | O_CLOEXEC)
        let code = errno
        if link >= 0 { close(link) }
        #expect(link < 0 && code == ELOOP, "\(label): errno \(code)")
    }
}
