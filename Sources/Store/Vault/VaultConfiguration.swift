import Chunker
import Foundation

/// `VAULT/config.json`: what a vault is and how it cuts and compresses. Written once at `init`.
public struct VaultConfiguration: Codable, Sendable, Equatable {
    public static let currentFormat = 1

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
        VaultConfiguration(format: currentFormat, vaultID: randomHex(byteCount: 16), deviceID: randomHex(byteCount: 32),
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
        guard configuration.format == currentFormat else {
            throw .invalidVault("\(path): vault format \(configuration.format) is not supported by this build (it reads \(currentFormat))")
        }
        guard configuration.compression.algorithm == "zstd" else {
            throw .invalidVault("\(path): unknown compression \(configuration.compression.algorithm)")
        }
        do { try configuration.chunker.validate() } catch { throw .invalidVault("\(path): \(error)") }
        return configuration
    }
}
