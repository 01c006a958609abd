import Addressing
import Cluster
import Model
import Foundation
import Testing

/// What every `ClusterStore` must do, whatever is behind it: etcd's semantics as
/// netform relies on them. Run against `MemoryStore` (pure tier) and against a real
/// etcd through `EtcdStore` (kernel tier), so the fake cannot drift from etcd.
///
/// Every check works under its own `prefix`, so one store can serve several runs.
struct StoreContract {
    let store: any ClusterStore
    let prefix: String
    /// Lets `seconds` pass for the store's leases: the memory store's clock is
    /// advanced, etcd's is waited for.
    let pass: @Sendable (_ seconds: Int) -> Void

    func k(_ name: String) -> String { prefix + name }

    /// Writes, reads, overwrites (creation revision kept), empty values, deletes
    /// (twice: a key already gone is done), and prefixes that do not leak into their
    /// neighbours.
    func basics() throws {
        #expect(try store.get(k("missing")) == nil)
        let text = Array(#"{"mac":"02:42:0a:00:00:02"}"#.utf8)
        try store.put(k("value"), text, lease: nil)
        let first = try #require(try store.get(k("value")))
        #expect(first.key == k("value") && first.value == text && first.lease == nil)
        #expect(first.modRevision > 0 && first.createRevision == first.modRevision)
        try store.put(k("value"), [], lease: nil)
        let second = try #require(try store.get(k("value")), "an empty value is still a key")
        #expect(second.value.isEmpty && second.createRevision == first.createRevision && second.modRevision > first.modRevision)

        for name in ["list/b", "list/a", "list/c/d", "listx", "lis"] { try store.put(k(name), Array(name.utf8), lease: nil) }
        let (entries, revision) = try store.list(prefix: k("list/"))
        #expect(entries.map(\.key) == [k("list/a"), k("list/b"), k("list/c/d")], "key order, nothing outside the prefix")
        #expect(entries.map(\.text) == ["list/a", "list/b", "list/c/d"])
        #expect(revision >= entries.map(\.modRevision).max() ?? 0)
        try store.put(k("list/e"), [1], lease: nil)
        #expect(try store.list(prefix: k("list/")).revision > revision, "a write moves the revision on")
        #expect(try store.list(prefix: k("nothing/")).entries.isEmpty)

        let unicode = k("ключ/名前 with space")
        try store.put(unicode, Array("ü".utf8), lease: nil)
        #expect(try store.get(unicode)?.text == "ü")

        try store.delete(k("list/a"))
        try store.delete(k("list/a"))
        try store.delete(k("never-existed"))
        #expect(try store.get(k("list/a")) == nil)
        #expect(try store.list(prefix: k("list/")).entries.count == 3)
    }

    /// Values are bytes: every byte value comes back as written (etcd's are).
    func binaryValues() throws {
        let binary = (0...255).map { UInt8($0) }
        try store.put(k("bin"), binary, lease: nil)
        #expect(try store.get(k("bin"))?.value == binary)
        #expect(try store.create(k("bin2"), binary.reversed(), lease: nil))
        #expect(try store.list(prefix: k("bin2")).entries.first?.value == binary.reversed())
    }

    /// create-if-absent and all-or-nothing createAll.
    func createIfAbsent() throws {
        #expect(try store.create(k("claim/10.0.0.2"), Array("n1".utf8), lease: nil))
        #expect(try !store.create(k("claim/10.0.0.2"), Array("n2".utf8), lease: nil), "the second claim loses")
        #expect(try store.get(k("claim/10.0.0.2"))?.text == "n1", "and writes nothing")

        let existing = try store.createAll([(k("claim/10.0.0.3"), [3]), (k("claim/10.0.0.2"), [2]), (k("claim/10.0.0.4"), [4])], lease: nil)
        #expect(existing == [k("claim/10.0.0.2")], "names the keys that existed")
        #expect(try store.get(k("claim/10.0.0.3")) == nil && store.get(k("claim/10.0.0.4")) == nil, "all or nothing")

        #expect(try store.createAll([(k("claim/10.0.0.3"), [3]), (k("claim/10.0.0.4"), [4])], lease: nil).isEmpty)
        let three = try #require(try store.get(k("claim/10.0.0.3")))
        let four = try #require(try store.get(k("claim/10.0.0.4")))
        #expect(three.value == [3] && four.value == [4])
        #expect(three.createRevision == four.createRevision, "one transaction, one revision")
        #expect(try store.createAll([], lease: nil).isEmpty)

        try store.delete(k("claim/10.0.0.2"))
        #expect(try store.create(k("claim/10.0.0.2"), Array("n2".utf8), lease: nil), "free again once deleted")
    }

    /// `contenders` threads create one key at the same moment: exactly one wins, and
    /// the stored value is the winner's.
    func concurrentCreates(contenders: Int = 20) throws {
        let key = k("race")
        let wins = Mutexed<[Int]>([])
        let errors = Mutexed<[String]>([])
        let start = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        let store = self.store
        for i in 0..<contenders {
            group.enter()
            let t = Thread {
                start.wait()
                do {
                    if try store.create(key, Array("host\(i)".utf8), lease: nil) { wins.mutate { $0.append(i) } }
                } catch {
                    errors.mutate { $0.append("\(error)") }
                }
                group.leave()
            }
            t.start()
        }
        for _ in 0..<contenders { start.signal() }
        group.wait()
        #expect(errors.value.isEmpty, "\(errors.value)")
        #expect(wins.value.count == 1, "exactly one of \(contenders) wins: \(wins.value)")
        if let winner = wins.value.first { #expect(try store.get(key)?.text == "host\(winner)") }
    }

    /// Leases: renewed they live past their TTL; left alone they expire and take
    /// their keys; an expired lease cannot be renewed nor written with; a revoked
    /// one takes its keys at once, and revoking it again is done.
    func leases() throws {
        let ttl = 2
        let lease = try store.grantLease(ttl: ttl)
        try store.put(k("host/n1"), Array("10.1.0.1".utf8), lease: lease)
        #expect(try store.create(k("host/n1/claim"), [1], lease: lease))
        #expect(try store.get(k("host/n1"))?.lease == lease)
        for _ in 0..<4 {
            pass(1)
            let left = try store.keepAlive(lease)
            #expect(left >= ttl, "renewed to its TTL")
        }
        #expect(try store.get(k("host/n1")) != nil, "kept alive for twice its TTL")
        // Left alone now: gone within a few seconds (etcd checks expiry twice a second).
        var gone = false
        for _ in 0..<8 where !gone {
            pass(1)
            gone = try store.get(k("host/n1")) == nil
        }
        #expect(gone, "expired with its lease")
        #expect(try store.get(k("host/n1/claim")) == nil)
        #expect(throws: StoreError.self) { try store.keepAlive(lease) }
        do { _ = try store.keepAlive(lease) } catch { #expect(error.kind == .notFound) }
        do { try store.put(k("late"), [], lease: lease); Issue.record("a put with an expired lease") } catch {
            #expect(error.kind == .notFound)
        }

        let second = try store.grantLease(ttl: 60)
        #expect(second != lease)
        try store.put(k("host/n2"), [2], lease: second)
        #expect(try store.createAll([(k("host/n2/a"), [1]), (k("host/n2/b"), [1])], lease: second).isEmpty)
        try store.revoke(second)
        #expect(try store.list(prefix: k("host/n2")).entries.isEmpty, "revoked: its keys are gone")
        try store.revoke(second)
    }

    /// A transaction: creates only if all are absent, then its puts and deletes;
    /// else nothing at all, and the answer names the keys that existed.
    func transactions() throws {
        typealias E = StoreTransaction.Entry
        #expect(try store.commit(StoreTransaction(creates: [E(key: k("t/a"), value: "1"), E(key: k("t/b"), value: "2")],
                                                  puts: [E(key: k("t/c"), value: "3")])).isEmpty)
        #expect(try store.list(prefix: k("t/")).entries.map(\.text) == ["1", "2", "3"])
        #expect(try store.commit(StoreTransaction(creates: [E(key: k("t/d"), value: "4"), E(key: k("t/b"), value: "x")],
                                                  puts: [E(key: k("t/e"), value: "5")], deletes: [k("t/a")])) == [k("t/b")])
        #expect(try store.list(prefix: k("t/")).entries.map(\.text) == ["1", "2", "3"], "nothing written")
        #expect(try store.commit(StoreTransaction(puts: [E(key: k("t/c"), value: "6")], deletes: [k("t/a"), k("t/never")])).isEmpty)
        #expect(try store.list(prefix: k("t/")).entries.map(\.text) == ["2", "6"])
        #expect(try store.commit(StoreTransaction()).isEmpty)
    }

    /// The time a lease has left (none once revoked), and a delete guarded by the
    /// absence of another key: a vanished host's garbage goes only while the host
    /// is still gone.
    func timeToLiveAndGuardedDeletes() throws {
        let lease = try store.grantLease(ttl: 60)
        let left = try #require(try store.timeToLive(lease))
        #expect(left > 50 && left <= 60, "\(left)")
        try store.revoke(lease)
        #expect(try store.timeToLive(lease) == nil)

        try store.put(k("claims/10.0.0.9"), Array(#"{"host":"n9"}"#.utf8), lease: nil)
        try store.put(k("hosts/n9"), [1], lease: nil)
        #expect(try !store.delete(k("claims/10.0.0.9"), unlessExists: k("hosts/n9")), "the host is registered: kept")
        #expect(try store.get(k("claims/10.0.0.9")) != nil)
        try store.delete(k("hosts/n9"))
        #expect(try store.delete(k("claims/10.0.0.9"), unlessExists: k("hosts/n9")))
        #expect(try store.get(k("claims/10.0.0.9")) == nil)
        #expect(try store.delete(k("claims/10.0.0.9"), unlessExists: k("hosts/n9")), "gone already: done")
    }

    /// A host's registration on a lease: written with a fresh lease of the record's
    /// TTL, the same lease renewed by the next registration and by `renew`, a new
    /// one (the old revoked) when the TTL changes; left alone it expires; `release`
    /// removes key and lease.
    func hostRegistration() throws {
        let project = "contract\(UInt32.random(in: 0...UInt32.max))"
        let r = HostRegistration(store: store, project: project, host: "n1")
        #expect(try r.renew() == nil && r.timeLeft() == nil, "not registered")
        let record = StoreLayout.hostRecord(advertise: IPAddress("10.1.0.1")!, ttl: 3)
        let first = try r.register(record: record)
        #expect(try store.get(r.key)?.lease == first && store.get(r.key)?.text == record)
        #expect(try r.register(record: record) == first, "the same lease, renewed")
        #expect(try r.renew() == 3)
        let longer = StoreLayout.hostRecord(advertise: IPAddress("10.1.0.1")!, ttl: 60)
        let second = try r.register(record: longer)
        #expect(try second != first && store.timeToLive(first) == nil, "a new TTL: a new lease, the old one revoked")
        #expect(try (r.timeLeft() ?? 0) > 50)
        #expect(try r.register(record: record) != second)
        var gone = false
        for _ in 0..<10 where !gone {
            pass(1)
            gone = try store.get(r.key) == nil
        }
        #expect(gone, "not renewed: expired")
        #expect(try r.renew() == nil)
        try r.register(record: record)
        try r.release()
        #expect(try store.get(r.key) == nil && r.renew() == nil)
        try r.release()
    }
}

/// A value behind a lock, for the contract's threads.
final class Mutexed<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T { lock.lock(); defer { lock.unlock() }; return stored }
    func mutate(_ f: (inout T) -> Void) { lock.lock(); f(&stored); lock.unlock() }
}

@Suite struct MemoryStoreContract {
    private func contract() -> StoreContract {
        let s = MemoryStore()
        return StoreContract(store: s, prefix: "/netform/test/", pass: { s.advance(seconds: $0) })
    }
    @Test func basics() throws { try contract().basics() }
    @Test func binaryValues() throws { try contract().binaryValues() }
    @Test func createIfAbsent() throws { try contract().createIfAbsent() }
    @Test func concurrentCreates() throws { try contract().concurrentCreates() }
    @Test func leases() throws { try contract().leases() }
    @Test func timeToLiveAndGuardedDeletes() throws { try contract().timeToLiveAndGuardedDeletes() }
    @Test func transactions() throws { try contract().transactions() }
    @Test func hostRegistration() throws { try contract().hostRegistration() }
}

/// The file-backed embedded store keeps the same contract; its leases expire by a
/// clock the test moves (the wall clock in use).
@Suite struct FileStoreContract {
    private func withContract(_ body: (StoreContract) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("netform-filestore-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let now = Mutexed(1_000_000.0)
        let s = FileStore(path: dir.appendingPathComponent("store.json").path, clock: { now.value })
        try body(StoreContract(store: s, prefix: "/netform/test/", pass: { seconds in now.mutate { $0 += Double(seconds) } }))
    }
    @Test func leases() throws { try withContract { try $0.leases() } }
    @Test func timeToLiveAndGuardedDeletes() throws { try withContract { try $0.timeToLiveAndGuardedDeletes() } }
    @Test func transactions() throws { try withContract { try $0.transactions() } }
    @Test func hostRegistration() throws { try withContract { try $0.hostRegistration() } }
    @Test func basics() throws { try withContract { try $0.basics() } }
    @Test func binaryValues() throws { try withContract { try $0.binaryValues() } }
    @Test func createIfAbsent() throws { try withContract { try $0.createIfAbsent() } }
    @Test func concurrentCreates() throws { try withContract { try $0.concurrentCreates() } }
}

/// What a `WatchableStore` must report: every change under the prefix from the
/// revision asked for (history first), deletes by lease included, nothing outside the
/// prefix; and `.compacted` when that history is gone.
struct WatchContract {
    let store: any WatchableStore
    let prefix: String
    /// Compacts the store's history before the given revision.
    let compact: @Sendable (Int64) throws -> Void

    func k(_ name: String) -> String { prefix + name }

    /// The first `count` changes of `stream`, or an error after `seconds`.
    static func collect(_ stream: AsyncThrowingStream<WatchEvent, any Error>, changes count: Int,
                        seconds: Double = 20) async throws -> [StoreChange] {
        try await withThrowingTaskGroup(of: [StoreChange].self) { group in
            group.addTask {
                var seen: [StoreChange] = []
                for try await event in stream {
                    guard case .changes(let changes) = event else { throw EtcdProcess.Failure("unexpected \(event)") }
                    seen += changes
                    if seen.count >= count { break }
                }
                return seen
            }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                throw EtcdProcess.Failure("no \(count) changes within \(seconds) s")
            }
            defer { group.cancelAll() }
            return try await group.next() ?? []
        }
    }

    func changesFromARevision() async throws {
        let start = try store.list(prefix: k("w/")).revision
        try store.put(k("w/before"), [1], lease: nil)
        let stream = store.watch(prefix: k("w/"), fromRevision: start + 1)
        try store.put(k("elsewhere"), [9], lease: nil)
        try store.put(k("w/a"), [2], lease: nil)
        try store.delete(k("w/a"))
        let lease = try store.grantLease(ttl: 60)
        #expect(try store.createAll([(k("w/l1"), [3]), (k("w/l2"), [4])], lease: lease).isEmpty)
        try store.revoke(lease)
        let seen = try await Self.collect(stream, changes: 7)
        #expect(seen.map(\.kind) == [.put, .put, .delete, .put, .put, .delete, .delete])
        #expect(seen.map(\.key) == ["w/before", "w/a", "w/a", "w/l1", "w/l2", "w/l1", "w/l2"].map(k))
        #expect(seen.map(\.value) == [[1], [2], [], [3], [4], [], []])
        #expect(seen.map(\.revision) == seen.map(\.revision).sorted() && seen[0].revision == start + 1)
        #expect(seen[3].revision == seen[4].revision, "one transaction, one revision")
    }

    func compactedHistory() async throws {
        try store.put(k("c/old"), [1], lease: nil)
        let old = try store.list(prefix: k("c/")).revision
        try store.put(k("c/new"), [2], lease: nil)
        let now = try store.list(prefix: k("c/")).revision
        try compact(now)
        var first: WatchEvent?
        for try await event in store.watch(prefix: k("c/"), fromRevision: old) {
            first = event
            break
        }
        #expect(first == .compacted(now), "list again, then watch from the list's revision")
    }
}

@Suite struct MemoryStoreWatch {
    private func contract() -> WatchContract {
        let s = MemoryStore()
        return WatchContract(store: s, prefix: "/netform/test/", compact: { s.compact(before: $0) })
    }
    @Test func changesFromARevision() async throws { try await contract().changesFromARevision() }
    @Test func compactedHistory() async throws { try await contract().compactedHistory() }

    @Test func expiredLeasesAreDeletes() async throws {
        let s = MemoryStore()
        let lease = try s.grantLease(ttl: 5)
        try s.put("/h/n1", [1], lease: lease)
        let from = try s.list(prefix: "/h/").revision + 1
        s.advance(seconds: 6)
        let seen = try await WatchContract.collect(s.watch(prefix: "/h/", fromRevision: from), changes: 1)
        #expect(seen == [StoreChange(.delete, key: "/h/n1", revision: from)])
    }
}
