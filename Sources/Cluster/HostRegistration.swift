import Model

/// This host's registration in one project of the cluster store: the key
/// `hosts/HOST`, held by a lease, so a host that vanishes without a `destroy` is
/// gone from the store once its lease expires, and the other hosts then remove its
/// claims and endpoints (and their FDB and neighbour entries towards it).
///
/// Why it exists: the lease is the one piece of cluster state with a lifetime, and
/// three callers keep it: the store backend when a plan (re)writes the host record
/// (`register`), every `apply` — one that changes nothing too — and the agent
/// periodically (`renew`, every third of the TTL), and `destroy` (`release`). The
/// lease lives only in the store (the key's `lease`); the record says which TTL it
/// was granted with, so a changed `kv.ttl` takes a new lease.
///
/// Only the host key is on the lease. Claims and endpoints are not: a lease that
/// expires while the host still runs must not free its addresses for another host
/// at once; they go when a host that looks sees the registration gone
/// (`Operation.collectStoreKey`, guarded by the registration's absence).
public struct HostRegistration: Sendable {
    public let store: any ClusterStore
    public let project: String
    public let host: String

    public init(store: any ClusterStore, project: String, host: String) {
        self.store = store
        self.project = project
        self.host = host
    }

    public var key: String { StoreLayout.host(project: project, host: host) }

    /// Writes the host record on a lease of the TTL the record names (or
    /// `defaultLeaseTTL`): the lease the key holds now, renewed, when it is alive and
    /// was granted with that TTL; otherwise a new one (the old lease, if any, is
    /// revoked once the key has moved off it). Returns the lease.
    @discardableResult
    public func register(record: String) throws(StoreError) -> LeaseID {
        let ttl = StoreLayout.leaseTTL(ofHostRecord: record) ?? StoreLayout.defaultLeaseTTL
        let current = try store.get(key)
        if let old = current?.lease, current.flatMap({ StoreLayout.leaseTTL(ofHostRecord: $0.text) }) == ttl {
            do {
                _ = try store.keepAlive(old)
                try store.put(key, Array(record.utf8), lease: old)
                return old
            } catch where error.kind == .notFound {
                // Expired between the read and the renewal: a new lease below.
            }
        }
        let lease = try store.grantLease(ttl: ttl)
        try store.put(key, Array(record.utf8), lease: lease)
        if let old = current?.lease, old != lease { try store.revoke(old) }
        return lease
    }

    /// Renews the registration's lease: the TTL it runs for again, or nil when this
    /// host holds no lease in the project (never registered, destroyed, registered
    /// without a lease, or the lease expired: the next apply registers it again).
    public func renew() throws(StoreError) -> Int? {
        guard let lease = try store.get(key)?.lease else { return nil }
        do { return try store.keepAlive(lease) } catch where error.kind == .notFound { return nil }
    }

    /// Seconds the registration has left (nil: not registered, or not on a lease).
    public func timeLeft() throws(StoreError) -> Int? {
        guard let lease = try store.get(key)?.lease else { return nil }
        return try store.timeToLive(lease)
    }

    /// Removes the registration: the key, then its lease (a key or lease already
    /// gone is a removal done).
    public func release() throws(StoreError) {
        let lease = try store.get(key)?.lease
        try store.delete(key)
        if let lease { try store.revoke(lease) }
    }
}
