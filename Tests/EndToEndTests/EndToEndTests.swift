import Testing

/// End-to-end tests: each runs the built `blockvault` binary on real trees in its own directory under
/// /tmp, as a user would. They run one at a time so the timing-sensitive ones (kill -9, concurrent
/// backups, the sparse file's speed) do not compete with each other for the machine's cores.
@Suite(.serialized)
struct EndToEndTests {}
