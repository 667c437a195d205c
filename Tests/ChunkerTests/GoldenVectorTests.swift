import Chunker
import Testing
import TestSupport

/// Cut points and IDs are the vault format: a build that cut the same file differently would
/// silently stop deduplicating against every existing backup. The golden vectors freeze them for
/// both chunkers and both ways of feeding the reader.
@Suite("Golden vectors")
struct GoldenVectorTests {
    @Test("the fixture describes today's inputs and default parameters",
          .disabled(if: GoldenFile.regenerating, "regenerating the fixture"))
    func fixtureMatchesDefinitions() throws {
        let golden = try GoldenFile.load()
        #expect(golden.entries.map(\.input) == GoldenInput.all)
        for kind in ChunkerParameters.Kind.allCases {
            #expect(golden.parameters[kind.rawValue] == GoldenFile.parameters(for: kind),
                    "defaults of \(kind) changed: that is a format change")
        }
        // Every vector must cut something interesting, or it could not catch much.
        for entry in golden.entries where entry.input.size > 1 << 20 {
            #expect(entry.fastcdc.count >= 3, "\(entry.input)")
            #expect(entry.fixed.count >= 8, "\(entry.input)")
        }
    }

    @Test("in-memory chunking matches the fixture",
          .disabled(if: GoldenFile.regenerating, "regenerating the fixture"),
          arguments: GoldenInput.all, ChunkerParameters.Kind.allCases)
    func inMemory(input: GoldenInput, kind: ChunkerParameters.Kind) throws {
        let entry = try Self.entry(for: input)
        let bytes = input.bytes()
        try #require(SHA256Hasher.hash(bytes).hex == entry.sha256, "the input generator drifted, not the chunker")
        Chunking.expectSame(Chunking.inMemory(bytes, GoldenFile.parameters(for: kind)), entry.blocks(for: kind),
                            "\(input) \(kind)")
    }

    @Test("file descriptor chunking matches the fixture",
          .disabled(if: GoldenFile.regenerating, "regenerating the fixture"),
          arguments: GoldenInput.all, ChunkerParameters.Kind.allCases)
    func fileDescriptor(input: GoldenInput, kind: ChunkerParameters.Kind) throws {
        let entry = try Self.entry(for: input)
        let bytes = input.bytes()
        try #require(SHA256Hasher.hash(bytes).hex == entry.sha256, "the input generator drifted, not the chunker")
        Chunking.expectSame(try Chunking.throughFile(bytes, GoldenFile.parameters(for: kind)), entry.blocks(for: kind),
                            "\(input) \(kind)")
    }

    /// The vectors of an earlier release's defaults, cut with the sizes recorded in that file, through
    /// both reading paths: the scan may change, where it cuts for those sizes may not.
    @Test("earlier releases' default sizes cut as those releases did", arguments: GoldenFile.earlierReleases)
    func earlierRelease(name: String) throws {
        let golden = try GoldenFile.load(named: name)
        let parameters = try #require(golden.parameters[ChunkerParameters.Kind.fastcdc.rawValue])
        try #require(parameters != GoldenFile.parameters(for: .fastcdc), "\(name) holds today's defaults")
        #expect(golden.entries.contains { $0.fastcdc.count >= 3 }, "\(name) cuts nothing interesting")
        for entry in golden.entries {
            let bytes = entry.input.bytes()
            try #require(SHA256Hasher.hash(bytes).hex == entry.sha256, "the input generator drifted, not the chunker")
            Chunking.expectSame(Chunking.inMemory(bytes, parameters), entry.fastcdc, "\(name) \(entry.input) in memory")
            Chunking.expectSame(try Chunking.throughFile(bytes, parameters), entry.fastcdc, "\(name) \(entry.input) through a file")
        }
    }

    /// Only for a deliberate format change, which must also bump `GearTable.version`
    /// (see Fixtures/chunker/README.md). Checks that both reading paths agree before writing.
    @Test("regenerate the fixture", .enabled(if: GoldenFile.regenerating))
    func regenerate() throws {
        let golden = GoldenFile.generate()
        for entry in golden.entries {
            let bytes = entry.input.bytes()
            for kind in ChunkerParameters.Kind.allCases {
                Chunking.expectSame(try Chunking.throughFile(bytes, GoldenFile.parameters(for: kind)),
                                    entry.blocks(for: kind), "\(entry.input) \(kind) through a file")
            }
        }
        try golden.write()
        #expect(try GoldenFile.load() == golden)
    }

    static func entry(for input: GoldenInput) throws -> GoldenEntry {
        let golden = try GoldenFile.load()
        return try #require(golden.entries.first { $0.input == input }, "no vector for \(input) in the fixture")
    }
}
