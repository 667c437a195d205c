import Chunker
import Foundation

/// `VAULT/config.json`: what a vault is and how it cuts and compresses. Written at `init`, and
/// again (atomically) only to raise its format when the vault starts to need a newer one.
///
/// Formats: 1, the original; 2, the vault may hold blocks compressed with a zstd dictionary (pack
/// encoding 2, dictionary metadata records). A vault is created at format 1 and raised to 2 just
/// before it stores its first dictionary, so a build that reads only format 1 refuses it from then
/// on, with a message that says so, instead of failing on blocks it cannot decode. 3, the vault may
/// hold zstd frames shared by several blocks (pack encoding 3, footers with skips): raised by the
/// first backup that runs with a build that writes them, before it stores anything.
public struct VaultConfiguration: Codable, Sendable, Equatable {
    /// The newest format this build reads and writes.
    public static let currentFormat = 3
    /// The format new vaults are created at.
    static let initialFormat = 1
    /// The first format whose vaults may hold zstd dictionaries.
    static let dictionaryFormat = 2
    /// The first format whose vaults may hold shared frames.
    static let sharedFrameFormat = 3

    public var format: Int
    /// 32 hex digits, random at `init`.
    public var vaultID: String
    /// 64 hex digits, random at `init`: this vault's identity in version vectors.
    public var deviceID: String
    public var chunker: ChunkerParameters
    public var compression: Compression
    /// A receive-only vault accepts replicated history and never announces local changes.
    public var receiveOnly: Bool

    public struct Compression: Codable, Sendable, Equatable {
        public var algorithm: String
        public var level: Int32
    }

    enum CodingKeys: String, CodingKey {
        case format, vaultID = "vault_id", deviceID = "device_id", chunker, compression, receiveOnly = "receive_only"
    }

    /// The first 8 bytes of the device id: the device's key in version vectors.
    public var shortDeviceID: UInt64 { UInt64(deviceID.prefix(16), radix: 16) ?? 0 }

    static func make(chunker: ChunkerParameters, receiveOnly: Bool) -> VaultConfiguration {
        VaultConfiguration(format: initialFormat, vaultID: randomHex(byteCount: 16), deviceID: randomHex(byteCount: 32),
                           chunker: chunker, compression: Compression(algorithm: "zstd", level: 3),
                           receiveOnly: receiveOnly)
    }

    func encoded() throws(StoreError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do { return Array(try encoder.encode(self)) + [0x0A] } catch { throw .invalidVault("cannot encode configuration: \(error)") }
    }

    static func decode(_ bytes: [UInt8], path: String) throws(StoreError) -> VaultConfiguration {
        let configuration: VaultConfiguration
        do { configuration = try JSONDecoder().decode(VaultConfiguration.self, from: Data(bytes)) } catch {
            throw .invalidVault("\(path) is not a valid blockvault configuration: \(error)")
        }
        guard (1...currentFormat).contains(configuration.format) else {
            throw .invalidVault("\(path): vault format \(configuration.format) is not supported by this build (it reads 1 to \(currentFormat)); upgrade blockvault")
        }
        guard configuration.compression.algorithm == "zstd" else {
            throw .invalidVault("\(path): unknown compression \(configuration.compression.algorithm)")
        }
        do { try configuration.chunker.validate() } catch { throw .invalidVault("\(path): \(error)") }
        return configuration
    }
}
