import ArgumentParser
import Foundation
import Store

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Show the vault's sizes, dedup and compression.")

    @OptionGroup var vault: VaultOptions

    func run() throws {
        let statistics = try vault.openVault(readOnly: true).statistics()
        if vault.json {
            print(JSON.object([
                ("snapshots", .int(statistics.snapshots)), ("versions", .integer(statistics.versions)),
                ("blocks", .integer(statistics.blocks)), ("packs", .integer(statistics.packs)),
                ("logical_bytes", .integer(statistics.logicalBytes)), ("unique_bytes", .integer(statistics.uniqueBytes)),
                ("stored_bytes", .integer(statistics.storedBytes)),
                ("dictionaries", .int(statistics.dictionaries)), ("dictionary_blocks", .integer(statistics.dictionaryBlocks)),
                ("dedup_ratio", .double((statistics.dedupRatio * 1000).rounded() / 1000)),
                ("compression_ratio", .double((statistics.compressionRatio * 1000).rounded() / 1000)),
            ]).text)
            return
        }
        print("snapshots:          \(statistics.snapshots)")
        print("file versions:      \(statistics.versions)")
        print("blocks:             \(statistics.blocks) in \(statistics.packs) packs")
        print("logical size:       \(Format.bytes(statistics.logicalBytes)) (all snapshots, as restored)")
        print("unique data:        \(Format.bytes(statistics.uniqueBytes))")
        print("stored on disk:     \(Format.bytes(statistics.storedBytes))")
        print("dedup ratio:        \(String(format: "%.2f", statistics.dedupRatio))x")
        print("compression ratio:  \(String(format: "%.2f", statistics.compressionRatio))x")
        if statistics.dictionaries > 0 {
            print("zstd dictionaries:  \(statistics.dictionaries) (\(Format.bytes(Int64(statistics.dictionaryBytes)))), used by \(statistics.dictionaryBlocks) blocks")
        }
    }
}
