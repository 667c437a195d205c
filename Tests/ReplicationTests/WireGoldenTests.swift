import Chunker
import Testing
@testable import Replication
@testable import Store

/// Protocol 3's frames, pinned byte for byte: builds of different ages push to each other, so the
/// wire codec must keep producing (and reading) exactly these bytes whatever the storage format does.
/// The hex was recorded from the codec as it stood before the wire codec got its own records.
@Suite struct WireGoldenTests {
    static let device = String(repeating: "ab", count: 32)
    static let block1 = SHA256Hasher.hash(Array("one".utf8))
    static let block2 = SHA256Hasher.hash(Array("two".utf8))

    /// Versions of every shape the wire carries: a file of several blocks (with its list), a
    /// one-block file with extended attributes, a symlink, a deleted file, a character device, in
    /// two folders.
    static var batch: Message.IndexBatch {
        let ids = block1.bytes + block2.bytes
        var vector = VersionVector(counters: [VersionVector.Counter(device: 7, value: 1_700_000_000), VersionVector.Counter(device: 3, value: 2)])
        var big = FileVersion(path: Array("docs/big.bin".utf8), type: .file, size: 5_000_000, mode: 0o644, uid: 1000, gid: 100,
                              modificationTime: 1_700_000_123_000_000_000, changeTime: -5, inode: 1234567, device: 2049,
                              linkCount: 2, version: vector, blockListHash: SHA256Hasher.hash(ids), modifiedBy: 7)
        big.sequence = 1
        big.blockCount = 2
        var small = FileVersion(path: Array("small ü.txt".utf8), type: .file, size: 3, mode: 0o600, version: vector,
                                blockListHash: block1, modifiedBy: 7)
        small.sequence = 2
        small.blockCount = 1
        small.xattrs = ExtendedAttributes([ExtendedAttributes.Attribute(name: Array("user.tag".utf8), value: [0, 1, 2, 255])])
        var link = FileVersion(path: Array("link".utf8), type: .symlink, size: 6, mode: 0o777, linkTarget: Array("target".utf8), modifiedBy: 7)
        link.sequence = 3
        vector = vector.updated(by: 7, nowSeconds: 1_700_000_500)
        var gone = FileVersion(path: Array("docs/old".utf8), type: .file, deleted: true, version: vector, modifiedBy: 7)
        gone.sequence = 4
        var device = FileVersion(path: Array("dev/tty9".utf8), type: .characterDevice, mode: 0o620, modifiedBy: 7)
        device.sequence = 40_000
        device.rdev = 0x0409
        return Message.IndexBatch(versions: [(Array("/home/me".utf8), big), (Array("/home/me".utf8), small), (Array("/etc".utf8), link),
                                             (Array("/home/me".utf8), gone), (Array("/etc".utf8), device)],
                                  blockLists: [MetadataRecord.BlockListRecord(hash: SHA256Hasher.hash(ids), size: 5_000_000, ids: ids)],
                                  done: true, snapshots: snapshots)
    }

    static var snapshots: [Snapshot] {
        let plain = Snapshot(id: "0123456789abcdef", folderPath: Array("/home/me".utf8), time: 1_700_000_999, host: "box",
                             tags: [], sequence: 4, files: 3, bytes: 5_000_009, partial: false, metadataID: nil)
        var rooted = Snapshot(id: "fedcba9876543210", folderPath: Array("/etc".utf8), time: -1, host: "",
                              tags: ["daily", "x"], sequence: 40_000, files: 2, bytes: 6, partial: true, metadataID: nil)
        rooted.root = SnapshotRoot(mode: 0o755, uid: 0, gid: 0, modificationTime: 1_699_999_999,
                                   xattrs: ExtendedAttributes([ExtendedAttributes.Attribute(name: Array("system.posix_acl_access".utf8), value: [2, 0, 0, 0])]))
        return [plain, rooted]
    }

    static let cases: [(String, Message, String)] = [
        ("hello v3", .hello(Message.Hello(deviceID: device, vaultID: "c0ffee", receiveOnly: true, protocolVersion: 3)),
         """
         0000004f0142565250034061626162616261626162616261626162616261626162616261626162616261626162616261\
         6261626162616261626162616261626162616261626162616261620663306666656501
         """),
        ("hello v1", .hello(Message.Hello(deviceID: device, vaultID: "", receiveOnly: false)),
         """
         000000490142565250014061626162616261626162616261626162616261626162616261626162616261626162616261\
         6261626162616261626162616261626162616261626162616261620000
         """),
        ("announce", .announce(highestSequence: 40_000), "0000000409c0b802"),
        ("announce zero", .announce(highestSequence: 0), "000000020900"),
        ("index request", .indexRequest(after: 7, limit: 2000), "00000004020ed00f"),
        ("index batch", .indexBatch(batch),
         """
         000002600301da030102082f686f6d652f6d65042f6574630500020c646f63732f6269672e62696e0080ade204a403e8\
         076480b8c898dbc6ce972f0987ad4b811002002000000000000000030000000000000002000000000000000700000000\
         6553f1002011914c19a28a98c57d12f3cce6c32b7944784f4b4781a706c24eb1dc284e28560200000700040c736d616c\
         6c20c3bc2e74787400068003000000000000010020000000000000000300000000000000020000000000000007000000\
         006553f100207692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed010000070106046c696e\
         6b020cff030000000000000100000000010674617267657407000808646f63732f6f6c64000000000000000000010120\
         000000000000000300000000000000020000000000000007000000006553f2f400000000070180f104086465762f7474\
         79390500900300000000000001000000000000070111914c19a28a98c57d12f3cce6c32b7944784f4b4781a706c24eb1\
         dc284e285680ade204407692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed3fc4ccfe7458\
         70e2c0d99f71f30ff0656c8dedd41cc1d7d3d376b0dbe685e2f302010010010108757365722e74616704000102ff0489\
         0800022d021030313233343536373839616263646566082f686f6d652f6d65ced39fd50c03626f7800080692ade20400\
         0052021066656463626139383736353433323130042f6574630100076461696c792c7880f104040c010029ed030000fe\
         c39fd50c1f01011773797374656d2e706f7369785f61636c5f6163636573730402000000
         """),
        ("empty last batch", .indexBatch(Message.IndexBatch(versions: [], blockLists: [], done: true, snapshots: [])), "000000080301040100000000"),
        ("partial batch", .indexBatch(Message.IndexBatch(versions: Array(batch.versions.prefix(1)), blockLists: batch.blockLists, done: false, snapshots: [])),
         """
         000000e70300e2010101082f686f6d652f6d650100020c646f63732f6269672e62696e0080ade204a403e8076480b8c8\
         98dbc6ce972f0987ad4b8110020020000000000000000300000000000000020000000000000007000000006553f10020\
         11914c19a28a98c57d12f3cce6c32b7944784f4b4781a706c24eb1dc284e2856020000070111914c19a28a98c57d12f3\
         cce6c32b7944784f4b4781a706c24eb1dc284e285680ade204407692c3ad3540bb803c020b3aee66cd8887123234ea0c\
         6e7143c0add73ff431ed3fc4ccfe745870e2c0d99f71f30ff0656c8dedd41cc1d7d3d376b0dbe685e2f300
         """),
        ("block request", .blockRequest([block1, block2]),
         """
         0000004204027692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed3fc4ccfe745870e2c0d9\
         9f71f30ff0656c8dedd41cc1d7d3d376b0dbe685e2f3
         """),
        ("block response", .blockResponse([Message.StoredBlock(id: block1, encoding: .raw, rawLength: 3, bytes: Array("one".utf8)),
                                           Message.StoredBlock(id: block2, encoding: .zstd, rawLength: 70_000, bytes: [0x28, 0xB5, 0x2F, 0xFD, 1, 2])]),
         """
         0000005305027692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed0003036f6e653fc4ccfe\
         745870e2c0d99f71f30ff0656c8dedd41cc1d7d3d376b0dbe685e2f301f0a2040628b52ffd0102
         """),
        ("dictionary request", .dictionaryRequest(ids: [1, 4_000_000_000]), "0000000807020180d0acf30e"),
        ("dictionaries", .dictionaries([Message.StoredDictionary(id: 7, bytes: [0x37, 0xA4, 0x30, 0xEC, 7, 0, 0, 0])]), "0000000c0801070837a430ec07000000"),
        ("close", .close(reason: ""), "000000020600"),
        ("close with reason", .close(reason: "peer failed: no space left on device"), "00000026062470656572206661696c65643a206e6f207370616365206c656674206f6e20646576696365"),
    ]

    @Test(arguments: cases.indices)
    func framesAreByteIdenticalToProtocol3(index: Int) throws {
        let (name, message, hex) = Self.cases[index]
        #expect(Self.hex(message.encoded()) == hex, "\(name)")
    }

    @Test(arguments: cases.indices)
    func pinnedFramesDecodeToTheirMessages(index: Int) throws {
        let (name, message, hex) = Self.cases[index]
        var decoder = FrameDecoder()
        decoder.append(Self.bytes(hex)[...])
        let (type, payload) = try #require(try decoder.next(), "\(name)")
        #expect(try Message.decode(type: type, payload: payload) == message, "\(name)")
        #expect(try decoder.next() == nil, "\(name): one frame, nothing after it")
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
    }

    static func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8).map { $0 <= UInt8(ascii: "9") ? $0 - UInt8(ascii: "0") : $0 - UInt8(ascii: "a") + 10 }
        return stride(from: 0, to: digits.count - 1, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }
}
