import Model
import Synchronization

/// A `ClusterStore` in memory, with etcd's semantics (revisions, create-if-absent,
/// leases that expire on a clock the caller drives): the embedded store of a single
/// host, and the fake the cluster tests run against. Watches see every change, with
/// the history since the last `compact(before:)` replayed first.
public final class MemoryStore: WatchableStore {
    private struct State {
        var entries: [String: StoreEntry] = [:]
        var revision: Int64 = 1
        var leases: [Int64: (ttl: Int, expires: Int64)] = [:]
        var nextLease: Int64 = 0x4e46_0000_0001
        /// Seconds, driven by `advance(seconds:)`.
        var now: Int64 = 0
        /// Every change since the last compaction, oldest first, for watches.
        var history: [StoreChange] = []
        /// Revisions below this one are no longer in `history`.
        var compactedBefore: Int64 = 0
        var watchers: [Int: (prefix: String, continuation: AsyncThrowingStream<WatchEvent, any Error>.Continuation)] = [:]
        var nextWatcher = 0

        /// Keeps `changes` (one revision) and tells the watches whose prefix they match.
        mutating func record(_ changes: [StoreChange]) {
            history += changes
            if history.count > 10_000, let keep = history.dropFirst(history.count - 5_000).first?.revision {
                // Compacted as etcd would be: a watch from earlier starts with .compacted.
                history.removeAll { $0.revision < keep }
                compactedBefore = keep
            }
            for (_, w) in watchers {
                let mine = changes.filter { $0.key.hasPrefix(w.prefix) }
                if !mine.isEmpty { w.continuation.yield(.changes(mine)) }
            }
        }
    }

    private let state = Mutex(State())

    public init() {}

    /// Moves the store's clock on; leases that expire take their keys.
    public func advance(seconds: Int) {
        state.withLock { s in
            s.now += Int64(seconds)
            let expired = s.leases.filter { $0.value.expires <= s.now }.map(\.key)
            for id in expired {
                s.leases[id] = nil
                s.revision += 1
                var gone: [StoreChange] = []
                for (k, e) in s.entries.sorted(by: { $0.key < $1.key }) where e.lease?.value == id {
                    s.entries[k] = nil
                    gone.append(StoreChange(.delete, key: k, revision: s.revision))
                }
                s.record(gone)
            }
        }
    }

    public func get(_ key: String) throws(StoreError) -> StoreEntry? {
        state.withLock { $0.entries[key] }
    }

    public func list(prefix: String) throws(StoreError) -> (entries: [StoreEntry], revision: Int64) {
        state.withLock { s in
            (s.entries.values.filter { $0.key.hasPrefix(prefix) }.sorted { $0.key < $1.key }, s.revision)
        }
    }

    private static func check(_ lease: LeaseID?, in s: State) throws(StoreError) {
        if let lease, s.leases[lease.value] == nil { throw StoreError(.notFound, "lease \(lease) not found") }
    }

    public func put(_ key: String, _ value: [UInt8], lease: LeaseID?) throws(StoreError) {
        try state.withLock { (s: inout State) throws(StoreError) in
            try Self.check(lease, in: s)
            s.revision += 1
            let created = s.entries[key]?.createRevision ?? s.revision
            s.entries[key] = StoreEntry(key: key, value: value, modRevision: s.revision, createRevision: created, lease: lease)
            s.record([StoreChange(.put, key: key, value: value, revision: s.revision)])
        }
    }

    public func create(_ key: String, _ value: [UInt8], lease: LeaseID?) throws(StoreError) -> Bool {
        try createAll([(key, value)], lease: lease).isEmpty
    }

    public func createAll(_ entries: [(key: String, value: [UInt8])], lease: LeaseID?) throws(StoreError) -> [String] {
        try state.withLock { (s: inout State) throws(StoreError) -> [String] in
            try Self.check(lease, in: s)
            let existing = entries.map(\.key).filter { s.entries[$0] != nil }
            guard existing.isEmpty else { return existing }
            s.revision += 1
            for (k, v) in entries {
                s.entries[k] = StoreEntry(key: k, value: v, modRevision: s.revision, createRevision: s.revision, lease: lease)
            }
            s.record(entries.map { StoreChange(.put, key: $0.key, value: $0.value, revision: s.revision) })
            return []
        }
    }

    public func delete(_ key: String) throws(StoreError) {
        state.withLock { s in
            if s.entries.removeValue(forKey: key) != nil {
                s.revision += 1
                s.record([StoreChange(.delete, key: key, revision: s.revision)])
            }
        }
    }

    public func grantLease(ttl: Int) throws(StoreError) -> LeaseID {
        state.withLock { s in
            let id = s.nextLease
            s.nextLease += 1
            s.leases[id] = (ttl, s.now + Int64(ttl))
            return LeaseID(id)
        }
    }

    public func keepAlive(_ lease: LeaseID) throws(StoreError) -> Int {
        try state.withLock { (s: inout State) throws(StoreError) -> Int in
            guard let l = s.leases[lease.value] else { throw StoreError(.notFound, "lease \(lease) not found") }
            s.leases[lease.value] = (l.ttl, s.now + Int64(l.ttl))
            return l.ttl
        }
    }

    public func revoke(_ lease: LeaseID) throws(StoreError) {
        state.withLock { s in
            guard s.leases.removeValue(forKey: lease.value) != nil else { return }
            s.revision += 1
            var gone: [StoreChange] = []
            for (k, e) in s.entries.sorted(by: { $0.key < $1.key }) where e.lease == lease {
                s.entries[k] = nil
                gone.append(StoreChange(.delete, key: k, revision: s.revision))
            }
            s.record(gone)
        }
    }

    public func commit(_ txn: StoreTransaction) throws(StoreError) -> [String] {
        state.withLock { s in
            let existing = txn.creates.map(\.key).filter { s.entries[$0] != nil }
            guard existing.isEmpty else { return existing }
            s.revision += 1
            var changes: [StoreChange] = []
            for e in txn.creates + txn.puts {
                let created = s.entries[e.key]?.createRevision ?? s.revision
                s.entries[e.key] = StoreEntry(key: e.key, value: Array(e.value.utf8), modRevision: s.revision, createRevision: created)
                changes.append(StoreChange(.put, key: e.key, value: Array(e.value.utf8), revision: s.revision))
            }
            for k in txn.deletes where s.entries.removeValue(forKey: k) != nil {
                changes.append(StoreChange(.delete, key: k, revision: s.revision))
            }
            s.record(changes)
            return []
        }
    }

    public func timeToLive(_ lease: LeaseID) throws(StoreError) -> Int? {
        state.withLock { s in s.leases[lease.value].map { Int($0.expires - s.now) } }
    }

    public func delete(_ key: String, unlessExists guardKey: String) throws(StoreError) -> Bool {
        state.withLock { s in
            guard s.entries[guardKey] == nil else { return false }
            if s.entries.removeValue(forKey: key) != nil {
                s.revision += 1
                s.record([StoreChange(.delete, key: key, revision: s.revision)])
            }
            return true
        }
    }

    // MARK: Watch

    /// Drops the history before `revision`, as etcd's compaction does: a watch from
    /// an older revision then starts with `.compacted`.
    public func compact(before revision: Int64) {
        state.withLock { s in
            s.compactedBefore = max(s.compactedBefore, revision)
            s.history.removeAll { $0.revision < revision }
        }
    }

    public func watch(prefix: String, fromRevision revision: Int64) -> AsyncThrowingStream<WatchEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<WatchEvent, any Error>.makeStream()
        let id: Int? = state.withLock { s in
            if revision < s.compactedBefore {
                continuation.yield(.compacted(s.compactedBefore))
                continuation.finish()
                return nil
            }
            let past = s.history.filter { $0.revision >= revision && $0.key.hasPrefix(prefix) }
            if !past.isEmpty { continuation.yield(.changes(past)) }
            let id = s.nextWatcher
            s.nextWatcher += 1
            s.watchers[id] = (prefix, continuation)
            return id
        }
        if let id {
            continuation.onTermination = { [weak self] _ in
                self?.state.withLock { s in _ = s.watchers.removeValue(forKey: id) }
            }
        }
        return stream
    }
}
