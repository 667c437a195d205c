import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One entry of a directory tree as `lstat` sees it.
struct TreeEntry {
    enum Kind: String { case file, directory, symlink, fifo, other }

    var type: Kind
    var permissions: UInt32
    var size: Int64
    var modificationTime: Int64
    var linkTarget: [UInt8]?
    var device: UInt64
    var inode: UInt64

    init(_ status: stat, linkTarget: [UInt8]?) {
        switch status.st_mode & S_IFMT {
        case S_IFREG: type = .file
        case S_IFDIR: type = .directory
        case S_IFLNK: type = .symlink
        case S_IFIFO: type = .fifo
        default: type = .other
        }
        permissions = UInt32(status.st_mode & 0o7777)
        size = Int64(status.st_size)
        modificationTime = Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec)
        self.linkTarget = linkTarget
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
    }
}

/// Walks and compares directory trees by bytes: names, types, contents, permission bits, mtimes
/// (nanoseconds), symlink targets and hard-link grouping.
enum Tree {
    /// Every entry under `root` (not `root` itself), keyed by its `/`-separated path relative to root.
    static func entries(of root: String) throws -> [[UInt8]: TreeEntry] {
        var result: [[UInt8]: TreeEntry] = [:]
        var pending: [[UInt8]] = [[]]
        let rootBytes = Array(root.utf8)
        while let relative = pending.popLast() {
            let directory = relative.isEmpty ? rootBytes : rootBytes + [0x2F] + relative
            for name in try names(in: directory) {
                let path = relative.isEmpty ? name : relative + [0x2F] + name
                let full = directory + [0x2F] + name
                let status = try Files.status(full)
                let isLink = (status.st_mode & S_IFMT) == S_IFLNK
                let entry = TreeEntry(status, linkTarget: isLink ? try readLink(full) : nil)
                result[path] = entry
                if entry.type == .directory { pending.append(path) }
            }
        }
        return result
    }

    static func names(in directory: [UInt8]) throws -> [[UInt8]] {
        guard let handle = Files.withCPath(directory, { opendir($0) }) else {
            throw FileSystemError("cannot list", Files.display(directory))
        }
        defer { closedir(handle) }
        var names: [[UInt8]] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name != [0x2E] && name != [0x2E, 0x2E] { names.append(name) }
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }

    static func readLink(_ path: [UInt8]) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 4097)
        let count = Files.withCPath(path) { cPath in
            buffer.withUnsafeMutableBytes { readlink(cPath, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
        }
        guard count >= 0 else { throw FileSystemError("cannot read link", Files.display(path)) }
        return Array(buffer[0..<count])
    }

    /// How `actual` differs from `expected`: one line per difference, empty when they are the same.
    /// Paths for which `ignoring` is true (in either tree) are left out.
    static func differences(expected: String, actual: String,
                            ignoring: ([UInt8]) -> Bool = { _ in false }) throws -> [String] {
        let want = try entries(of: expected).filter { !ignoring($0.key) }
        let have = try entries(of: actual).filter { !ignoring($0.key) }
        var problems: [String] = []
        for path in Set(want.keys).union(have.keys).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let name = Files.display(path)
            guard let wanted = want[path] else { problems.append("\(name): unexpected \(have[path]!.type)"); continue }
            guard let found = have[path] else { problems.append("\(name): missing (\(wanted.type))"); continue }
            guard wanted.type == found.type else {
                problems.append("\(name): is a \(found.type), expected a \(wanted.type)")
                continue
            }
            if wanted.permissions != found.permissions {
                problems.append("\(name): mode \(String(found.permissions, radix: 8)), expected \(String(wanted.permissions, radix: 8))")
            }
            if wanted.modificationTime != found.modificationTime {
                problems.append("\(name): mtime \(found.modificationTime) ns, expected \(wanted.modificationTime) ns")
            }
            switch wanted.type {
            case .file:
                if wanted.size != found.size {
                    problems.append("\(name): size \(found.size), expected \(wanted.size)")
                } else if let offset = try firstDifference(Array(expected.utf8) + [0x2F] + path, Array(actual.utf8) + [0x2F] + path) {
                    problems.append("\(name): contents differ at byte \(offset)")
                }
            case .symlink:
                if wanted.linkTarget != found.linkTarget {
                    problems.append("\(name): link to \(Files.display(found.linkTarget ?? [])), expected \(Files.display(wanted.linkTarget ?? []))")
                }
            case .directory, .fifo, .other:
                break
            }
        }
        let wantedGroups = hardLinkGroups(want)
        let foundGroups = hardLinkGroups(have)
        if wantedGroups != foundGroups {
            let show = { (groups: Set<[[UInt8]]>) in groups.map { $0.map(Files.display).joined(separator: " = ") }.sorted() }
            problems.append("hard links \(show(foundGroups)), expected \(show(wantedGroups))")
        }
        return problems
    }

    /// Sets of paths of regular files that share an inode (only sets of two or more).
    static func hardLinkGroups(_ entries: [[UInt8]: TreeEntry]) -> Set<[[UInt8]]> {
        var byInode: [[UInt64]: [[UInt8]]] = [:]
        for (path, entry) in entries where entry.type == .file {
            byInode[[entry.device, entry.inode], default: []].append(path)
        }
        return Set(byInode.values.filter { $0.count > 1 }.map { $0.sorted { $0.lexicographicallyPrecedes($1) } })
    }

    /// The offset of the first byte where two files differ (nil when equal up to the shorter's end).
    static func firstDifference(_ first: [UInt8], _ second: [UInt8]) throws -> Int64? {
        let one = Files.withCPath(first) { open($0, O_RDONLY | O_CLOEXEC) }
        guard one >= 0 else { throw FileSystemError("cannot open", Files.display(first)) }
        defer { close(one) }
        let two = Files.withCPath(second) { open($0, O_RDONLY | O_CLOEXEC) }
        guard two >= 0 else { throw FileSystemError("cannot open", Files.display(second)) }
        defer { close(two) }
        let size = 1 << 20
        let bufferOne = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        let bufferTwo = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        defer {
            bufferOne.deallocate()
            bufferTwo.deallocate()
        }
        var offset: Int64 = 0
        while true {
            let countOne = try readFull(one, bufferOne, size, path: first)
            let countTwo = try readFull(two, bufferTwo, size, path: second)
            let common = min(countOne, countTwo)
            if memcmp(bufferOne, bufferTwo, common) != 0 {
                let a = bufferOne.assumingMemoryBound(to: UInt8.self)
                let b = bufferTwo.assumingMemoryBound(to: UInt8.self)
                var index = 0
                while a[index] == b[index] { index += 1 }
                return offset + Int64(index)
            }
            if countOne != countTwo { return offset + Int64(common) }
            if countOne < size { return nil }
            offset += Int64(size)
        }
    }

    private static func readFull(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ size: Int, path: [UInt8]) throws -> Int {
        var done = 0
        while done < size {
            let count = read(descriptor, buffer + done, size - done)
            if count < 0 {
                if errno == EINTR { continue }
                throw FileSystemError("cannot read", Files.display(path))
            }
            if count == 0 { break }
            done += count
        }
        return done
    }
}
