import ArgumentParser

@main
struct BlockvaultCommand: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "blockvault",
        abstract: "A content-addressed, deduplicated, versioned backup vault.",
        version: version,
        subcommands: [
            BlocksCommand.self,
        ]
    )
}
