import ArgumentParser
import Chunker
#if canImport(Glibc)
import Glibc
#endif

/// `blockvault blocks FILE`: prints the block list of a file, for debugging chunking.
struct BlocksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blocks",
        abstract: "Print the blocks a file is cut into (offset, length, SHA-256).")

    @Argument(help: "The file to cut into blocks.")
    var file: String

    @Option(help: "The chunker: fastcdc or fixed.")
    var chunker: ChunkerParameters.Kind = .fastcdc

    @Flag(help: "Print a JSON array of {offset, length, id}.")
    var json = false

    func run() throws {
        let descriptor = open(file, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw CommandFailure.system("cannot open \(file)", errno: errno) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw CommandFailure.system("cannot stat \(file)", errno: errno) }
        guard (status.st_mode & S_IFMT) != S_IFDIR else { throw CommandFailure.message("\(file) is a directory") }
        let reader = BlockReader(parameters: .defaults(for: chunker))
        let output = OutputBuffer()
        if json { output.write("[") }
        var first = true
        do {
            try reader.forEachBlock(fileDescriptor: descriptor, fileSize: UInt64(status.st_size)) { block in
                if json {
                    output.write(first ? "\n" : ",\n")
                    output.write("  {\"offset\": \(block.offset), \"length\": \(block.length), \"id\": \"\(block.id.hex)\"}")
                } else {
                    output.write("\(block.offset)\t\(block.length)\t\(block.id.hex)\n")
                }
                first = false
            }
        } catch let error as ChunkerError {
            throw CommandFailure.message("\(file): \(error)")
        }
        if json { output.write(first ? "]\n" : "\n]\n") }
        output.flush()
    }
}

extension ChunkerParameters.Kind: ExpressibleByArgument {}
