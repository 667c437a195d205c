import Chunker
import Foundation
import TestSupport

/// One input of the golden vectors, defined by how to regenerate it rather than by its bytes, so
/// that the fixture stays small and reviewable.
struct GoldenInput: Codable, Hashable, Sendable, CustomStringConvertible {
    enum Generator: String, Codable, Sendable {
        /// `DeterministicData.randomBytes(count:seed:)`.
        case random
        /// `DeterministicData.textLikeBytes(count:seed:)`.
        case text
        /// All zero bytes (seed unused): the FastCDC hash never finds a cut, so blocks hit the maximum.
        case zeros
    }

    var name: String
    var generator: Generator
    var seed: UInt64
    var size: Int

    func bytes() -> [UInt8] {
        switch generator {
        case .random: DeterministicData.randomBytes(count: size, seed: seed)
        case .text: DeterministicData.textLikeBytes(count: size, seed: seed)
        case .zeros: [UInt8](repeating: 0, count: size)
        }
    }

    var description: String { name }

    /// The inputs, chosen so that fixed-size chunking (128 KiB blocks below 250 MiB) also gives
    /// several blocks, and so that every kind of FastCDC cut appears: none, hash cuts before and
    /// after the normal size, forced cuts at the maximum, and a short final block.
    static let all: [GoldenInput] = [
        GoldenInput(name: "empty", generator: .zeros, seed: 0, size: 0),
        GoldenInput(name: "one-byte", generator: .random, seed: 3, size: 1),
        GoldenInput(name: "random-3MiB", generator: .random, seed: 1, size: 3 << 20),
        GoldenInput(name: "text-3MiB", generator: .text, seed: 2, size: 3 << 20),
        GoldenInput(name: "zeros-1MiB", generator: .zeros, seed: 0, size: 1 << 20),
        GoldenInput(name: "random-1000003", generator: .random, seed: 4, size: 1_000_003),
    ]
}

/// The blocks one input is cut into by each chunker, and the digest of the whole input (which tells
/// a drifted generator apart from a drifted chunker).
struct GoldenEntry: Codable, Equatable, Sendable {
    var input: GoldenInput
    var sha256: String
    var fastcdc: [BlockRecord]
    var fixed: [BlockRecord]

    func blocks(for kind: ChunkerParameters.Kind) -> [BlockRecord] {
        switch kind {
        case .fastcdc: fastcdc
        case .fixed: fixed
        }
    }
}

/// The contents of `Fixtures/chunker/golden.json`.
struct GoldenFile: Codable, Equatable, Sendable {
    /// The parameters the vectors were cut with, keyed by kind (their Gear table version included).
    var parameters: [String: ChunkerParameters]
    var entries: [GoldenEntry]

    /// The chunker each kind's vectors are recorded with: the vault defaults.
    static func parameters(for kind: ChunkerParameters.Kind) -> ChunkerParameters {
        .defaults(for: kind)
    }

    /// Computes the vectors afresh with the in-memory reader.
    static func generate() -> GoldenFile {
        var parameters: [String: ChunkerParameters] = [:]
        for kind in ChunkerParameters.Kind.allCases { parameters[kind.rawValue] = Self.parameters(for: kind) }
        let entries = GoldenInput.all.map { input in
            let bytes = input.bytes()
            return GoldenEntry(input: input, sha256: SHA256Hasher.hash(bytes).hex,
                               fastcdc: Chunking.inMemory(bytes, Self.parameters(for: .fastcdc)),
                               fixed: Chunking.inMemory(bytes, Self.parameters(for: .fixed)))
        }
        return GoldenFile(parameters: parameters, entries: entries)
    }

    /// `Fixtures/chunker/golden.json`, found from this source file's path: tests run from any
    /// directory, and the fixtures are not bundle resources.
    static func url(named name: String = "golden.json", sourceFile: String = #filePath) throws -> URL {
        var directory = URL(fileURLWithPath: sourceFile).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
            let parent = directory.deletingLastPathComponent()
            guard parent.path != directory.path else { throw CocoaError(.fileNoSuchFile) }
            directory = parent
        }
        return directory.appendingPathComponent("Fixtures/chunker/" + name)
    }

    static func load(named name: String = "golden.json") throws -> GoldenFile {
        try JSONDecoder().decode(GoldenFile.self, from: Data(contentsOf: url(named: name)))
    }

    /// Vectors of earlier releases' default sizes, kept when the defaults moved: vaults made then
    /// recorded those sizes and must go on cutting exactly as those releases did.
    static let earlierReleases = ["golden-0.3.0.json"]

    /// Sorted keys and pretty printing keep the file's diffs readable when it is deliberately redone.
    func write() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        var data = try encoder.encode(self)
        data.append(0x0A)
        let url = try Self.url()
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url, options: .atomic)
    }

    /// Set `BLOCKVAULT_REGENERATE_GOLDEN=1` to rewrite the fixture instead of checking against it.
    static var regenerating: Bool {
        ProcessInfo.processInfo.environment["BLOCKVAULT_REGENERATE_GOLDEN"] == "1"
    }
}
