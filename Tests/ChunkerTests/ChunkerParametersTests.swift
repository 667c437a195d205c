import Chunker
import Foundation
import Testing

/// Parameters come from a vault's configuration file, which may be old, hand-edited or written by
/// a newer build; `validate()` is the gate that keeps a chunker from running on nonsense.
@Suite("Chunker parameters")
struct ChunkerParametersTests {
    static let valid: [ChunkerParameters] = [
        .fastCDC,
        .fixed,
        .smallFastCDC,
        ChunkerParameters(kind: .fastcdc, minimumSize: 64, normalSize: 128, maximumSize: 129),
        ChunkerParameters(kind: .fastcdc, minimumSize: 1 << 20, normalSize: 4 << 20, maximumSize: 64 << 20),
    ]

    @Test("sensible parameters are accepted", arguments: valid)
    func accepts(parameters: ChunkerParameters) throws {
        try parameters.validate()
    }

    static let invalid: [(ChunkerParameters, String)] = [
        (ChunkerParameters(kind: .fastcdc, minimumSize: 64 << 10, normalSize: 128 << 10, maximumSize: 512 << 10, gearVersion: 0), "Gear version 0"),
        (ChunkerParameters(kind: .fastcdc, minimumSize: 64 << 10, normalSize: 128 << 10, maximumSize: 512 << 10, gearVersion: 2), "Gear version 2"),
        (ChunkerParameters(kind: .fixed, minimumSize: 128 << 10, normalSize: 128 << 10, maximumSize: 16 << 20, gearVersion: 2), "fixed, Gear version 2"),
        (ChunkerParameters(kind: .fastcdc, minimumSize: 0, normalSize: 128 << 10, maximumSize: 512 << 10), "minimum 0"),
        (ChunkerParameters(kind: .fastcdc, minimumSize: -1, normalSize: 128 << 10, maximumSize: 512 << 10), "negative minimum"),
        (ChunkerParameters(kind: .fastcdc, minimumSize: 63, normalSize: 128, maximumSize: 512), "minimum 63"),
        (ChunkerParameters(kind: .fastcdc, minimumSize: 128 << 10, normalSize: 128 << 10, maximumSize: 512 << 10), "minimum = normal"),
        (ChunkerParameters(kind: .fastcdc, minimumSize: 256 << 10, normalSize: 128 << 10, maximumSize: 512 << 10), "minimum > normal"),
        (ChunkerParameters(kind: .fastcdc, minimumSize: 64 << 10, normalSize: 128 << 10, maximumSize: 128 << 10), "normal = maximum"),
        (ChunkerParameters(kind: .fastcdc, minimumSize: 64 << 10, normalSize: 128 << 10, maximumSize: 64 << 10), "maximum < normal"),
        (ChunkerParameters(kind: .fastcdc, minimumSize: 64 << 10, normalSize: 100_000, maximumSize: 512 << 10), "normal not a power of two"),
        (ChunkerParameters(kind: .fastcdc, minimumSize: 64 << 10, normalSize: 0, maximumSize: 512 << 10), "normal 0"),
        (ChunkerParameters(kind: .fastcdc, minimumSize: 1 << 20, normalSize: 2 << 20, maximumSize: (64 << 20) + 1), "maximum over 64 MiB"),
        (ChunkerParameters(kind: .fastcdc, minimumSize: 0, normalSize: 0, maximumSize: 0), "all zero"),
    ]

    @Test("nonsense is rejected with invalidParameters", arguments: invalid)
    func rejects(parameters: ChunkerParameters, why: String) {
        do {
            try parameters.validate()
            Issue.record("\(why) was accepted")
        } catch {
            guard case .invalidParameters(let message) = error else {
                Issue.record("\(why): unexpected \(error)")
                return
            }
            #expect(!message.isEmpty)
        }
    }

    @Test("a wrong Gear version names both versions")
    func gearVersionMessage() {
        var parameters = ChunkerParameters.fastCDC
        parameters.gearVersion = 7
        #expect(throws: ChunkerError.self) { try parameters.validate() }
        do { try parameters.validate() } catch {
            #expect(error.description.contains("7") && error.description.contains("\(GearTable.version)"))
        }
    }

    @Test("defaults")
    func defaults() {
        #expect(ChunkerParameters.defaults(for: .fastcdc) == .fastCDC)
        #expect(ChunkerParameters.defaults(for: .fixed) == .fixed)
        #expect(ChunkerParameters.fastCDC.gearVersion == GearTable.version)
        #expect(ChunkerParameters.fastCDC.makeCutPointFinder(fileSize: nil).maximumBlockSize == 512 << 10)
    }

    /// Parameters are stored in the vault configuration; they must come back identical.
    @Test("parameters survive a JSON round trip", arguments: valid)
    func codable(parameters: ChunkerParameters) throws {
        let data = try JSONEncoder().encode(parameters)
        #expect(try JSONDecoder().decode(ChunkerParameters.self, from: data) == parameters)
    }
}
