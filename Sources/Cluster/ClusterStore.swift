import Model
/// A key-value store every host of a cluster reaches: where hosts register, overlay
/// networks are defined, addresses are claimed and endpoints are published.
///
/// Why a protocol: the same reconcile cycle runs against etcd (`EtcdStore`, several
/// hosts) and against a store embedded in one host (`MemoryStore` in tests, the local
/// store without `--cluster-store`), and the planner's tests run against a fake.
/// Keys and values are bytes (etcd's); `StoreLayout` says what lives where.
///
/// Calls are synchronous: the CLI's reconcile cycle is a sequence of steps; an
/// implementation over an async client blocks the calling thread (never an event
/// loop thread) until the answer comes.
public protocol ClusterStore: AnyObject, Sendable {
    /// The value at `key` with its revisions, or nil.
    func get(_ key: String) throws(StoreError) -> StoreEntry?
    /// Every entry whose key starts with `prefix`, in key order, and the store's
    /// revision at the time of the read.
    func list(prefix: String) throws(StoreError) -> (entries: [StoreEntry], revision: Int64)
    /// Writes `value` at `key` (attached to `lease`, if given: gone when it expires).
    func put(_ key: String, _ value: [UInt8], lease: LeaseID?) throws(StoreError)
    /// Writes `value` only if `key` does not exist (a txn on create_revision == 0);
    /// returns false, writing nothing, when it exists. Two hosts claiming one address
    /// at once: exactly one gets true.
    func create(_ key: String, _ value: [UInt8], lease: LeaseID?) throws(StoreError) -> Bool
    /// Creates several keys in one transaction: all of them, or (when any exists)
    /// none; returns the keys that existed (empty on success).
    func createAll(_ entries: [(key: String, value: [UInt8])], lease: LeaseID?) throws(StoreError) -> [String]
    /// Runs a transaction: its creates only if none of them exists (then its puts
    /// and deletes too), else nothing; returns the creates' keys that existed
    /// (empty on success). Keys are written without a lease.
    func commit(_ txn: StoreTransaction) throws(StoreError) -> [String]
    /// Deletes `key`; a key already gone is a delete done.
    func delete(_ key: String) throws(StoreError)
    /// A lease of `ttl` seconds; keys attached to it vanish when it expires.
    func grantLease(ttl: Int) throws(StoreError) -> LeaseID
    /// Renews a lease; returns the TTL left. An expired or unknown lease throws
    /// `.notFound`.
    func keepAlive(_ lease: LeaseID) throws(StoreError) -> Int
    /// Ends a lease now (its keys are deleted).
    func revoke(_ lease: LeaseID) throws(StoreError)
    /// The seconds a lease has left; nil when it expired or never existed.
    func timeToLive(_ lease: LeaseID) throws(StoreError) -> Int?
    /// Deletes `key` unless `guardKey` exists, in one transaction; returns false,
    /// deleting nothing, when `guardKey` exists. A host removes another host's
    /// garbage only while that host's registration is still gone: one that came
    /// back between the read and the delete keeps its keys.
    func delete(_ key: String, unlessExists guardKey: String) throws(StoreError) -> Bool
}

/// One key of the store.
public struct StoreEntry: Sendable, Equatable {
    public var key: String
    public var value: [UInt8]
    /// Revision of the last change, and of the key's creation (etcd's mod/create revision).
    public var modRevision: Int64
    public var createRevision: Int64
    public var lease: LeaseID?

    public init(key: String, value: [UInt8], modRevision: Int64 = 0, createRevision: Int64 = 0, lease: LeaseID? = nil) {
        self.key = key
        self.value = value
        self.modRevision = modRevision
        self.createRevision = createRevision
        self.lease = lease
    }

    public var text: String { String(decoding: value, as: UTF8.self) }
}

/// An etcd lease id.
public struct LeaseID: Sendable, Hashable, CustomStringConvertible {
    public var value: Int64
    public init(_ value: Int64) { self.value = value }
    public var description: String { String(value) }
}

/// Why the store did not answer, by kind, so a caller can tell "retry later" from
/// "you may not" from "it is not there".
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// No endpoint answered (connection refused, timeout, TLS failure): retry
        /// with backoff; never read as "empty".
        case unavailable
        /// Authentication or permission refused.
        case unauthorized
        /// The key or lease does not exist.
        case notFound
        /// The store refused the request as malformed or too large.
        case invalid
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var isRetryable: Bool { kind == .unavailable }
    public var description: String { message }
}
