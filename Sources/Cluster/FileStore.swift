#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Model

/// A `ClusterStore` in one JSON file, locked with `flock` for every operation: the
/// embedded store of hosts that share a file system (one host; namespaces playing
/// hosts in tests), with no server to run. `--cluster-store file:PATH`.
///
/// Leases expire by the wall clock, as etcd's do: there is no server, so every
/// operation first removes the leases whose time is up, with their keys (a host that
/// stopped renewing is gone at the next look by anyone).
public final class FileStore: ClusterStore {
    public let path: String
    /// Seconds since the epoch (injectable for tests).
    let clock: @Sendable () -> Double

    public init(path: String) {
        self.path = path
        clock = { Date().timeIntervalSince1970 }
    }

    /// A store whose leases run on `clock` (seconds), for tests.
    public init(path: String, clock: @escaping @Sendable () -> Double) {
        self.path = path
        self.clock = clock
    }

    private struct Content {
        var revision: Int64
        var entries: [String: StoreEntry]
        var nextLease: Int64
        /// Granted TTL and expiry time (seconds since the epoch) of each live lease.
        var leases: [Int64: (ttl: Int, expires: Double)] = [:]

        /// Ends the leases whose time is up, with their keys.
        mutating func expire(now: Double) {
            let gone = Set(leases.filter { $0.value.expires <= now }.map(\.key))
            guard !gone.isEmpty else { return }
            for id in gone { leases[id] = nil }
            entries = entries.filter { $0.value.lease.map { !gone.contains($0.value) } ?? true }
            revision += 1
        }
    }

    /// Runs `body` on the file's content under an exclusive lock; writes it back
    /// atomically (temp + rename) when `body` changed it.
    private func locked<T>(_ body: (inout Content) throws(StoreError) -> T) throws(StoreError) -> T {
        let lockPath = path + ".lock"
        let lfd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard lfd >= 0 else { throw StoreError(.unavailable, "open \(lockPath): \(String(cString: strerror(errno)))") }
        defer { close(lfd) }
        while flock(lfd, LOCK_EX) != 0 {
            if errno != EINTR { throw StoreError(.unavailable, "lock \(lockPath): \(String(cString: strerror(errno)))") }
        }
        var content = try read()
        let before = content.revision
        content.expire(now: clock())
        let result = try body(&content)
        if content.revision != before { try write(content) }
        return result
    }

    private func read() throws(StoreError) -> Content {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { return Content(revision: 1, entries: [:], nextLease: 1) }
            throw StoreError(.unavailable, "open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw StoreError(.unavailable, "read \(path): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            bytes += buf[..<n]
        }
        guard let doc = try? JSONValue.parse(String(decoding: bytes, as: UTF8.self)) else {
            throw StoreError(.invalid, "\(path) is not a netform store file")
        }
        var entries: [String: StoreEntry] = [:]
        for item in doc["entries"]?.arrayValue ?? [] {
            guard let k = item["key"]?.stringValue, let v = item["value"]?.stringValue, let bytes = Data(base64Encoded: v) else { continue }
            entries[k] = StoreEntry(key: k, value: Array(bytes), modRevision: Int64(item["mod"]?.intValue ?? 0),
                                    createRevision: Int64(item["create"]?.intValue ?? 0),
                                    lease: item["lease"]?.intValue.map { LeaseID(Int64($0)) })
        }
        var leases: [Int64: (ttl: Int, expires: Double)] = [:]
        for item in doc["leases"]?.arrayValue ?? [] {
            guard let id = item["id"]?.intValue, let ttl = item["ttl"]?.intValue, let ms = item["expires_ms"]?.intValue else { continue }
            leases[Int64(id)] = (ttl, Double(ms) / 1000)
        }
        return Content(revision: Int64(doc["revision"]?.intValue ?? 1), entries: entries, nextLease: Int64(doc["next_lease"]?.intValue ?? 1),
                       leases: leases)
    }

    private func write(_ c: Content) throws(StoreError) {
        let doc: JSONValue = [
            "revision": .int(Int(c.revision)), "next_lease": .int(Int(c.nextLease)),
            // Values as base64: a store value is bytes, not necessarily UTF-8.
            "entries": .array(c.entries.values.sorted { $0.key < $1.key }.map {
                var o: [String: JSONValue] = ["key": .string($0.key), "value": .string(Data($0.value).base64EncodedString()),
                                              "mod": .int(Int($0.modRevision)), "create": .int(Int($0.createRevision))]
                if let l = $0.lease { o["lease"] = .int(Int(l.value)) }
                return .object(o)
            }),
            "leases": .array(c.leases.sorted { $0.key < $1.key }.map {
                ["id": .int(Int($0.key)), "ttl": .int($0.value.ttl), "expires_ms": .int(Int(($0.value.expires * 1000).rounded()))]
            }),
        ]
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw StoreError(.unavailable, "open \(tmp): \(String(cString: strerror(errno)))") }
        let bytes = Array(doc.rendered.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard n == bytes.count, synced, rename(tmp, path) == 0 else {
            throw StoreError(.unavailable, "write \(path): \(String(cString: strerror(errno)))")
        }
    }

    public func get(_ key: String) throws(StoreError) -> StoreEntry? {
        try locked { (c: inout Content) throws(StoreError) in c.entries[key] }
    }

    public func list(prefix: String) throws(StoreError) -> (entries: [StoreEntry], revision: Int64) {
        try locked { (c: inout Content) throws(StoreError) in
            (c.entries.values.filter { $0.key.hasPrefix(prefix) }.sorted { $0.key < $1.key }, c.revision)
        }
    }

    private static func check(_ lease: LeaseID?, in c: Content) throws(StoreError) {
        if let lease, c.leases[lease.value] == nil { throw StoreError(.notFound, "lease \(lease) not found") }
    }

    public func put(_ key: String, _ value: [UInt8], lease: LeaseID?) throws(StoreError) {
        try locked { (c: inout Content) throws(StoreError) in
            try Self.check(lease, in: c)
            c.revision += 1
            c.entries[key] = StoreEntry(key: key, value: value, modRevision: c.revision, createRevision: c.entries[key]?.createRevision ?? c.revision,
                                        lease: lease)
        }
    }

    public func create(_ key: String, _ value: [UInt8], lease: LeaseID?) throws(StoreError) -> Bool {
        try createAll([(key, value)], lease: lease).isEmpty
    }

    public func createAll(_ entries: [(key: String, value: [UInt8])], lease: LeaseID?) throws(StoreError) -> [String] {
        try locked { (c: inout Content) throws(StoreError) -> [String] in
            try Self.check(lease, in: c)
            let existing = entries.map(\.key).filter { c.entries[$0] != nil }
            guard existing.isEmpty else { return existing }
            c.revision += 1
            for (k, v) in entries { c.entries[k] = StoreEntry(key: k, value: v, modRevision: c.revision, createRevision: c.revision, lease: lease) }
            return []
        }
    }

    public func delete(_ key: String) throws(StoreError) {
        try locked { (c: inout Content) throws(StoreError) in
            if c.entries.removeValue(forKey: key) != nil { c.revision += 1 }
        }
    }

    public func grantLease(ttl: Int) throws(StoreError) -> LeaseID {
        let now = clock()
        return try locked { (c: inout Content) throws(StoreError) -> LeaseID in
            c.nextLease += 1
            c.revision += 1
            c.leases[c.nextLease - 1] = (ttl, now + Double(ttl))
            return LeaseID(c.nextLease - 1)
        }
    }

    public func keepAlive(_ lease: LeaseID) throws(StoreError) -> Int {
        let now = clock()
        return try locked { (c: inout Content) throws(StoreError) -> Int in
            guard let l = c.leases[lease.value] else { throw StoreError(.notFound, "lease \(lease) expired or unknown") }
            c.leases[lease.value] = (l.ttl, now + Double(l.ttl))
            c.revision += 1
            return l.ttl
        }
    }

    public func revoke(_ lease: LeaseID) throws(StoreError) {
        try locked { (c: inout Content) throws(StoreError) in
            guard c.leases.removeValue(forKey: lease.value) != nil else { return }
            c.entries = c.entries.filter { $0.value.lease != lease }
            c.revision += 1
        }
    }

    public func commit(_ txn: StoreTransaction) throws(StoreError) -> [String] {
        try locked { (c: inout Content) throws(StoreError) -> [String] in
            let existing = txn.creates.map(\.key).filter { c.entries[$0] != nil }
            guard existing.isEmpty else { return existing }
            c.revision += 1
            for e in txn.creates + txn.puts {
                c.entries[e.key] = StoreEntry(key: e.key, value: Array(e.value.utf8), modRevision: c.revision,
                                              createRevision: c.entries[e.key]?.createRevision ?? c.revision)
            }
            for k in txn.deletes { c.entries[k] = nil }
            return []
        }
    }

    public func timeToLive(_ lease: LeaseID) throws(StoreError) -> Int? {
        let now = clock()
        return try locked { (c: inout Content) throws(StoreError) -> Int? in
            c.leases[lease.value].map { max(0, Int(($0.expires - now).rounded(.up))) }
        }
    }

    public func delete(_ key: String, unlessExists guardKey: String) throws(StoreError) -> Bool {
        try locked { (c: inout Content) throws(StoreError) -> Bool in
            guard c.entries[guardKey] == nil else { return false }
            if c.entries.removeValue(forKey: key) != nil { c.revision += 1 }
            return true
        }
    }
}
