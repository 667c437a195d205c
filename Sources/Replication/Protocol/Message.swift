import Chunker
import Store

/// The messages of the replication protocol (see docs/PROTOCOL.md). Every decode checks counts,
/// lengths, names and kinds before anything is used. Versions and snapshots travel as `WireRecord`s,
/// the protocol's own codec, never the storage format's.
public enum Message: Sendable, Equatable {
    /// First message of each side.
    case hello(Hello)
    /// Receiver → sender: the next versions after `after`, at most `limit` of them.
    case indexRequest(after: Int64, limit: Int)
    /// Sender → receiver: versions in sequence order with the block lists they need; `done` when no
    /// version follows, and then the sender's snapshots.
    case indexBatch(IndexBatch)
    /// Receiver → sender: blocks by hash.
    case blockRequest([BlockID])
    /// Sender → receiver: blocks as stored.
    case blockResponse([StoredBlock])
    /// Either side: finished (an empty reason) or giving up (the reason says why).
    case close(reason: String)
    /// Receiver → sender: zstd dictionaries by ID. From a receiver that announced version 3, the
    /// IDs it wants (those its blocks need), at most `dictionaryLimit`; from one that announced
    /// version 2, the IDs it holds (send the others).
    case dictionaryRequest(ids: [UInt32])
    /// Sender → receiver (version 2): dictionaries, at most `dictionaryLimit`. To a version 2
    /// receiver, exactly that many means more may follow, and the receiver asks again.
    case dictionaries([StoredDictionary])
    /// Sender → receiver (version 3), the sender's reply to a receiver's hello of version 3: the
    /// highest sequence it will send, at most `sequenceLimit`. The receiver takes no version and no
    /// snapshot above it, and no index that stops short of it.
    case announce(highestSequence: Int64)

    /// The newest protocol version this build speaks. Version 2 adds zstd dictionaries (messages 7
    /// and 8, block encoding 2); version 3 adds the sender's announcement (message 9) and a receiver
    /// that asks for a dictionary only when a block it received needs it. A side announces the
    /// version it needs: a receiver of this build 3, a sender 2 only when its vault has
    /// dictionaries, so builds that speak only 1 or 2 still receive from it.
    public static let protocolVersion: UInt8 = 3
    public static let dictionaryVersion: UInt8 = 2
    public static let announceVersion: UInt8 = 3
    /// No sender announces a higher sequence: one version per sequence number, so a history beyond
    /// it is a lie (a peer moving a replica's sequence forward), not a vault.
    public static let sequenceLimit: Int64 = 1 << 48
    /// At most this many dictionaries in one message (each at most `ZstdDictionary.maximumSize`).
    public static let dictionaryLimit = 16
    /// At most this many dictionary IDs in one request.
    public static let dictionaryIDLimit = 4096
    /// At most this many versions in one index batch.
    public static let batchLimit = 2000
    /// At most this many blocks in one request.
    public static let requestLimit = 512
    /// A block response frame carries at most about this many bytes of blocks.
    public static let responseBudget = 16 << 20

    public struct Hello: Sendable, Equatable {
        public var deviceID: String
        public var vaultID: String
        public var receiveOnly: Bool
        /// The protocol version this side needs the peer to speak (1, 2 or 3).
        public var protocolVersion: UInt8

        public init(deviceID: String, vaultID: String, receiveOnly: Bool, protocolVersion: UInt8 = 1) {
            self.deviceID = deviceID
            self.vaultID = vaultID
            self.receiveOnly = receiveOnly
            self.protocolVersion = protocolVersion
        }
    }

    /// A zstd dictionary as the sender stores it.
    public struct StoredDictionary: Sendable, Equatable {
        public var id: UInt32
        public var bytes: [UInt8]

        public init(id: UInt32, bytes: [UInt8]) {
            self.id = id
            self.bytes = bytes
        }
    }

    public struct IndexBatch: Sendable, Equatable {
        public var versions: [(folder: [UInt8], version: FileVersion)]
        public var blockLists: [MetadataRecord.BlockListRecord]
        public var done: Bool
        public var snapshots: [Snapshot]

        public init(versions: [(folder: [UInt8], version: FileVersion)], blockLists: [MetadataRecord.BlockListRecord],
                    done: Bool, snapshots: [Snapshot]) {
            self.versions = versions
            self.blockLists = blockLists
            self.done = done
            self.snapshots = snapshots
        }

        public static func == (lhs: IndexBatch, rhs: IndexBatch) -> Bool {
            lhs.versions.map(\.folder) == rhs.versions.map(\.folder) && lhs.versions.map(\.version) == rhs.versions.map(\.version)
                && lhs.blockLists == rhs.blockLists && lhs.done == rhs.done && lhs.snapshots == rhs.snapshots
        }
    }

    public struct StoredBlock: Sendable, Equatable {
        public var id: BlockID
        public var encoding: PackFormat.Encoding
        public var rawLength: Int
        public var bytes: [UInt8]

        public init(id: BlockID, encoding: PackFormat.Encoding, rawLength: Int, bytes: [UInt8]) {
            self.id = id
            self.encoding = encoding
            self.rawLength = rawLength
            self.bytes = bytes
        }
    }

    enum Kind: UInt8 {
        case hello = 1, indexRequest, indexBatch, blockRequest, blockResponse, close, dictionaryRequest, dictionaries, announce
    }

    /// The frame for this message.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        let kind: Kind
        switch self {
        case .hello(let hello):
            kind = .hello
            writer.append(contentsOf: Array("BVRP".utf8))
            writer.append(hello.protocolVersion)
            writer.appendString(hello.deviceID)
            writer.appendString(hello.vaultID)
            writer.append(hello.receiveOnly ? 1 : 0)
        case .indexRequest(let after, let limit):
            kind = .indexRequest
            writer.appendSigned(after)
            writer.appendVarint(UInt64(limit))
        case .indexBatch(let batch):
            kind = .indexBatch
            writer.append(batch.done ? 1 : 0)
            writer.appendBytes(WireRecord.encodeVersions(batch.versions, blockLists: batch.blockLists))
            writer.appendVarint(UInt64(batch.snapshots.count))
            for snapshot in batch.snapshots { writer.appendBytes(WireRecord.encodeSnapshot(snapshot)) }
        case .blockRequest(let ids):
            kind = .blockRequest
            writer.appendVarint(UInt64(ids.count))
            ids.forEach { writer.append($0) }
        case .blockResponse(let blocks):
            kind = .blockResponse
            writer.appendVarint(UInt64(blocks.count))
            for block in blocks {
                writer.append(block.id)
                writer.append(block.encoding.rawValue)
                writer.appendVarint(UInt64(block.rawLength))
                writer.appendBytes(block.bytes)
            }
        case .close(let reason):
            kind = .close
            writer.appendString(reason)
        case .dictionaryRequest(let ids):
            kind = .dictionaryRequest
            writer.appendVarint(UInt64(ids.count))
            ids.forEach { writer.appendVarint(UInt64($0)) }
        case .dictionaries(let dictionaries):
            kind = .dictionaries
            writer.appendVarint(UInt64(dictionaries.count))
            for dictionary in dictionaries {
                writer.appendVarint(UInt64(dictionary.id))
                writer.appendBytes(dictionary.bytes)
            }
        case .announce(let highest):
            kind = .announce
            writer.appendVarint(UInt64(max(highest, 0)))
        }
        return Frame.encode(type: kind.rawValue, payload: writer.bytes)
    }

    /// Decodes and validates one frame's message.
    public static func decode(type: UInt8, payload: [UInt8]) throws(ReplicationError) -> Message {
        guard let kind = Kind(rawValue: type) else { throw .protocolViolation("unknown message type \(type)") }
        var reader = ByteReader(payload)
        do {
            let message: Message
            switch kind {
            case .hello:
                var magic: [UInt8] = []
                for _ in 0..<4 { magic.append(try reader.uint8()) }
                guard magic == Array("BVRP".utf8) else { throw ReplicationError.protocolViolation("not a blockvault peer") }
                let version = try reader.uint8()
                guard version >= 1, version <= protocolVersion else {
                    throw ReplicationError.protocolViolation("peer speaks protocol \(version), this build speaks 1 to \(protocolVersion); upgrade blockvault")
                }
                let device = try reader.string()
                let vault = try reader.string()
                guard device.count == 64, device.allSatisfy(\.isHexDigit), vault.count <= 64, vault.allSatisfy(\.isHexDigit) else {
                    throw ReplicationError.protocolViolation("hello carries a malformed device or vault id")
                }
                message = .hello(Hello(deviceID: device, vaultID: vault, receiveOnly: try reader.uint8() != 0, protocolVersion: version))
            case .indexRequest:
                let after = try reader.signed()
                let limit = try reader.count(limit: batchLimit)
                guard after >= 0, limit >= 1 else { throw ReplicationError.protocolViolation("index request out of range") }
                message = .indexRequest(after: after, limit: limit)
            case .indexBatch:
                let done = try reader.uint8() != 0
                let record = try WireRecord.decodeVersions(try reader.byteString(limit: Frame.maximumLength))
                guard record.versions.count <= batchLimit else { throw ReplicationError.protocolViolation("index batch of \(record.versions.count) versions") }
                for (folder, version) in record.versions {
                    try PathRules.checkFolder(folder)
                    try PathRules.checkRelative(version.path)
                    guard version.sequence > 0, version.sequence <= sequenceLimit, version.blockCount >= 0, version.size >= 0 else {
                        throw ReplicationError.protocolViolation("version of \(PathRules.display(version.path)) has an invalid sequence, size or block count")
                    }
                    if version.blockCount > 0 && version.blockListHash == nil {
                        throw ReplicationError.protocolViolation("version of \(PathRules.display(version.path)) has blocks but no content hash")
                    }
                }
                for list in record.blockLists {
                    guard list.ids.count % 32 == 0, SHA256Hasher.hash(list.ids) == list.hash else {
                        throw ReplicationError.protocolViolation("block list \(list.hash) does not match its hash")
                    }
                }
                let count = try reader.elementCount(limit: 1_000_000)
                var snapshots: [Snapshot] = []
                for _ in 0..<count {
                    let snapshot = try WireRecord.decodeSnapshot(try reader.byteString())
                    try PathRules.checkFolder(snapshot.folderPath)
                    guard snapshot.id.count == 16, snapshot.id.allSatisfy(\.isHexDigit) else {
                        throw ReplicationError.protocolViolation("malformed snapshot id")
                    }
                    guard snapshot.sequence >= 0, snapshot.files >= 0, snapshot.bytes >= 0 else {
                        throw ReplicationError.protocolViolation("snapshot \(snapshot.id) has a negative sequence, file count or size")
                    }
                    snapshots.append(snapshot)
                }
                message = .indexBatch(IndexBatch(versions: record.versions, blockLists: record.blockLists, done: done, snapshots: snapshots))
            case .blockRequest:
                let count = try reader.count(limit: requestLimit)
                guard count >= 1 else { throw ReplicationError.protocolViolation("request for no blocks") }
                var ids: [BlockID] = []
                for _ in 0..<count { ids.append(try reader.blockID()) }
                message = .blockRequest(ids)
            case .blockResponse:
                let count = try reader.count(limit: requestLimit)
                var blocks: [StoredBlock] = []
                for _ in 0..<count {
                    let id = try reader.blockID()
                    guard let encoding = PackFormat.Encoding(rawValue: try reader.uint8()) else {
                        throw ReplicationError.protocolViolation("block \(id) has an unknown encoding")
                    }
                    let raw = try reader.varint()
                    guard raw <= UInt64(PackFormat.maximumBlockSize) else {
                        throw ReplicationError.protocolViolation("block \(id) declares \(raw) bytes, over the block limit")
                    }
                    let bytes = try reader.byteString(limit: PackFormat.maximumBlockSize)
                    blocks.append(StoredBlock(id: id, encoding: encoding, rawLength: Int(raw), bytes: bytes))
                }
                message = .blockResponse(blocks)
            case .close:
                message = .close(reason: String(try reader.string().prefix(1000)))
            case .dictionaryRequest:
                let count = try reader.count(limit: dictionaryIDLimit)
                var ids: [UInt32] = []
                for _ in 0..<count { ids.append(try dictionaryID(&reader)) }
                message = .dictionaryRequest(ids: ids)
            case .dictionaries:
                let count = try reader.count(limit: dictionaryLimit)
                var dictionaries: [StoredDictionary] = []
                for _ in 0..<count {
                    let id = try dictionaryID(&reader)
                    dictionaries.append(StoredDictionary(id: id, bytes: try reader.byteString(limit: ZstdDictionary.maximumSize)))
                }
                message = .dictionaries(dictionaries)
            case .announce:
                let highest = try reader.varint()
                guard highest <= UInt64(sequenceLimit) else {
                    throw ReplicationError.protocolViolation("the peer announces sequence \(highest), beyond any real history (\(sequenceLimit))")
                }
                message = .announce(highestSequence: Int64(highest))
            }
            guard reader.isAtEnd else { throw ReplicationError.protocolViolation("\(kind) message has trailing bytes") }
            return message
        } catch let error as ReplicationError {
            throw error
        } catch {
            throw .protocolViolation("malformed \(kind) message: \(error)")
        }
    }

    /// A dictionary ID: non-zero and 32 bits.
    private static func dictionaryID(_ reader: inout ByteReader) throws -> UInt32 {
        let id = try reader.varint()
        guard id > 0, id <= UInt64(UInt32.max) else { throw ReplicationError.protocolViolation("dictionary id \(id) is out of range") }
        return UInt32(id)
    }
}
