import Store

extension Message {
    /// The message's kind in words, for errors ("unexpected block response while awaitingIndex").
    public var name: String {
        switch self {
        case .hello: "hello"
        case .indexRequest: "index request"
        case .indexBatch: "index batch"
        case .blockRequest: "block request"
        case .blockResponse: "block response"
        case .close: "close"
        case .dictionaryRequest: "dictionary request"
        case .dictionaries: "dictionaries"
        case .announce: "announcement"
        }
    }
}

extension Message.StoredBlock {
    /// The zstd dictionary the block's frame names: nil unless it is compressed with one. Read from
    /// the frame header alone, so a receiver knows what to ask for before it can store the block.
    public var dictionaryID: UInt32? {
        guard encoding == .zstdDictionary else { return nil }
        let id = bytes.withUnsafeBytes { ZstdDictionary.id(ofFrame: $0) }
        return id == 0 ? nil : id
    }
}
