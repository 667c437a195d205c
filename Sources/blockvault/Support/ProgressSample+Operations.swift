import Replication
import Store

/// The samples of each operation's counters (see docs/CLI.md for the fields each command's status
/// lines carry).
extension ProgressSample {
    /// A restore, check, prune or repair: its phase, items as `noun` (files, packs) and, with
    /// `bytes`, their bytes; totals once the phase knows them.
    static func operation(_ progress: OperationProgress, noun: String, bytes: Bool = true) -> ProgressSample {
        let known = progress.totalsKnown.load(ordering: .relaxed)
        let bytesDone = progress.bytesDone.load(ordering: .relaxed)
        return counts(phase: progress.phase, noun: noun, done: progress.itemsDone.load(ordering: .relaxed),
                      total: known ? progress.itemsTotal.load(ordering: .relaxed) : nil,
                      bytesDone: bytes ? bytesDone : nil,
                      bytesTotal: bytes && known ? progress.bytesTotal.load(ordering: .relaxed) : nil)
    }

    /// A backup: files read (those new or changed) of those found so far, and their bytes; the
    /// totals grow until the walk has finished (phases "starting", "scanning" while the walk goes
    /// on, then "reading").
    static func backup(_ progress: BackupProgress) -> ProgressSample {
        let walked = progress.walkFinished.load(ordering: .relaxed)
        let bytesTotal = progress.bytesToHash.load(ordering: .relaxed)
        let entries = progress.filesSeen.load(ordering: .relaxed)
        let phase = walked ? "reading" : entries > 0 ? "scanning" : "starting"
        var sample = counts(phase: phase, noun: "files", done: Int64(progress.filesHashed.load(ordering: .relaxed)),
                            total: Int64(progress.filesToHash.load(ordering: .relaxed)), bytesDone: progress.bytesHashed.load(ordering: .relaxed),
                            bytesTotal: bytesTotal, totalsFinal: walked)
        if !walked && bytesTotal == 0 { sample.fraction = nil }
        let added = progress.bytesAdded.load(ordering: .relaxed)
        let errors = progress.errors.load(ordering: .relaxed)
        sample.fields += [("entries_seen", .int(entries)), ("bytes_added", .integer(added)), ("error_count", .int(errors))]
        sample.text = "\(entries) entries, " + sample.text + ", \(Format.bytes(added)) added" + (errors > 0 ? ", \(errors) errors" : "")
        return sample
    }

    /// One peer of a push: the part of the history sent (by sequence numbers), the blocks sent of
    /// those the replica has asked for so far, and their stored bytes.
    static func push(_ progress: SenderProgress, peer: String) -> ProgressSample {
        let versions = progress.versionsSent.load(ordering: .relaxed)
        let sent = progress.blocksSent.load(ordering: .relaxed)
        let needed = progress.blocksRequested.load(ordering: .relaxed)
        let bytes = progress.blockBytesSent.load(ordering: .relaxed)
        var sample = ProgressSample(phase: progress.started.load(ordering: .relaxed) ? "sending" : "connecting",
                                    fraction: progress.fraction, bytesDone: bytes, totalsFinal: true)
        sample.fields = [("peer", .string(peer)), ("versions_sent", .integer(versions)), ("blocks_sent", .integer(sent)),
                         ("blocks_needed", .integer(needed)), ("block_bytes_sent", .integer(bytes))]
        sample.text = "to \(peer): \(versions) versions, \(sent)/\(needed) blocks, \(Format.bytes(bytes))"
        return sample
    }
}
