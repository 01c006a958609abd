/// A store that can report its changes as they happen: what the agent waits on
/// between reconciles (a host joined, an endpoint appeared), so it need not poll.
///
/// Why a protocol of its own beside `ClusterStore`: not every store can watch (the
/// file store has no process to tell anyone), and the reconcile cycle never needs it —
/// it compares everything every time, so a missed event costs latency, never
/// correctness. Events are hints to reconcile sooner, not a log to replay.
public protocol WatchableStore: ClusterStore {
    /// Every change under `prefix` from `revision` on (pass the revision a `list`
    /// returned, plus one), as it happens, until the consumer stops iterating. When the
    /// history from `revision` is gone, the first event is `.compacted`: list again.
    /// The sequence ends with an error when the store cannot be reached any more.
    func watch(prefix: String, fromRevision revision: Int64) -> AsyncThrowingStream<WatchEvent, any Error>
}

/// What a watch reports.
public enum WatchEvent: Sendable, Equatable {
    /// Changes of one or more revisions, in revision order.
    case changes([StoreChange])
    /// The history the watch asked for was compacted (the store keeps only revisions
    /// from this one on): read everything again with `list` and watch from there.
    case compacted(Int64)
}

/// One key written or deleted (a lease that expired or was revoked deletes its keys).
public struct StoreChange: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case put, delete }
    public var kind: Kind
    public var key: String
    /// The new value (empty for a delete).
    public var value: [UInt8]
    /// The revision of the change.
    public var revision: Int64

    public init(_ kind: Kind, key: String, value: [UInt8] = [], revision: Int64) {
        self.kind = kind
        self.key = key
        self.value = value
        self.revision = revision
    }
}
