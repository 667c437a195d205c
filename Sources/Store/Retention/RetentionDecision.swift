/// What `RetentionPolicy.decide` concluded for one snapshot.
public struct RetentionDecision: Sendable, Equatable {
    public var snapshot: Snapshot
    /// True when at least one rule keeps the snapshot; false when it is to be forgotten.
    public var keep: Bool
    /// Why it is kept, one entry per rule that keeps it, in the policy's rule order: "last snapshot",
    /// "hourly snapshot", "daily snapshot", "weekly snapshot", "monthly snapshot", "yearly snapshot",
    /// "within <duration>" (as `RetentionDuration.format` writes it, e.g. "within 7d"), then
    /// "tag <tag>" for each kept tag the snapshot has. Empty exactly when `keep` is false.
    public var reasons: [String]

    public init(snapshot: Snapshot, reasons: [String]) {
        self.snapshot = snapshot
        self.keep = !reasons.isEmpty
        self.reasons = reasons
    }
}
