#if canImport(Glibc)
import Glibc
#endif
import Model

/// A `ClusterStore` in one JSON file, locked with `flock` for every operation: the
/// embedded store of hosts that share a file system (one host; namespaces playing
/// hosts in tests), with no server to run. `--cluster-store file:PATH`.
///
/// Leases are granted and renewed but never expire (there is no process to expire
/// them); use etcd where hosts come and go.
public final class FileStore: ClusterStore {
    public let path: String

    public init(path: String) { self.path = path }

    private struct Content {
        var revision: Int64
        var entries: [String: StoreEntry]
        var nextLease: Int64
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
            guard let k = item["key"]?.stringValue, let v = item["value"]?.stringValue else { continue }
            entries[k] = StoreEntry(key: k, value: Array(v.utf8), modRevision: Int64(item["mod"]?.intValue ?? 0),
                                    createRevision: Int64(item["create"]?.intValue ?? 0))
        }
        return Content(revision: Int64(doc["revision"]?.intValue ?? 1), entries: entries, nextLease: Int64(doc["next_lease"]?.intValue ?? 1))
    }

    private func write(_ c: Content) throws(StoreError) {
        let doc: JSONValue = [
            "revision": .int(Int(c.revision)), "next_lease": .int(Int(c.nextLease)),
            "entries": .array(c.entries.values.sorted { $0.key < $1.key }.map {
                ["key": .string($0.key), "value": .string($0.text), "mod": .int(Int($0.modRevision)), "create": .int(Int($0.createRevision))]
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

    public func put(_ key: String, _ value: [UInt8], lease: LeaseID?) throws(StoreError) {
        try locked { (c: inout Content) throws(StoreError) in
            c.revision += 1
            c.entries[key] = StoreEntry(key: key, value: value, modRevision: c.revision, createRevision: c.entries[key]?.createRevision ?? c.revision)
        }
    }

    public func create(_ key: String, _ value: [UInt8], lease: LeaseID?) throws(StoreError) -> Bool {
        try createAll([(key, value)], lease: lease).isEmpty
    }

    public func createAll(_ entries: [(key: String, value: [UInt8])], lease: LeaseID?) throws(StoreError) -> [String] {
        try locked { (c: inout Content) throws(StoreError) -> [String] in
            let existing = entries.map(\.key).filter { c.entries[$0] != nil }
            guard existing.isEmpty else { return existing }
            c.revision += 1
            for (k, v) in entries { c.entries[k] = StoreEntry(key: k, value: v, modRevision: c.revision, createRevision: c.revision) }
            return []
        }
    }

    public func delete(_ key: String) throws(StoreError) {
        try locked { (c: inout Content) throws(StoreError) in
            if c.entries.removeValue(forKey: key) != nil { c.revision += 1 }
        }
    }

    public func grantLease(ttl: Int) throws(StoreError) -> LeaseID {
        try locked { (c: inout Content) throws(StoreError) -> LeaseID in
            c.nextLease += 1
            c.revision += 1
            return LeaseID(c.nextLease - 1)
        }
    }

    public func keepAlive(_ lease: LeaseID) throws(StoreError) -> Int { 0 }
    public func revoke(_ lease: LeaseID) throws(StoreError) {}
}
