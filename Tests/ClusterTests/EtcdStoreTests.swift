import Cluster
import Foundation
import Glibc
import Testing
import TestSupport

/// `EtcdStore` against a real etcd 3.4 that each test starts itself on 127.0.0.1
/// (its own ports and data directory, stopped by PID): the store contract, failover,
/// TLS with client certificates, users and passwords. Kernel tier: only inside
/// Scripts/sandbox, where 127.0.0.1 is the sandbox's own loopback.
@Suite("Kernel: etcd store", .enabled(if: KernelSandbox.isActive, "kernel test: run under Scripts/sandbox as root"))
struct EtcdStoreTests {
    private func contract(_ etcd: EtcdProcess, options: [String] = []) throws -> (EtcdStore, StoreContract) {
        let store = try EtcdStore(EtcdConfiguration(clusterStore: etcd.url, options: options))
        return (store, StoreContract(store: store, prefix: "/netform/test/", pass: { Thread.sleep(forTimeInterval: Double($0)) }))
    }

    @Test func contractBasicsAndCreates() throws {
        let etcd = try EtcdProcess()
        defer { etcd.stop() }
        let (store, c) = try contract(etcd)
        defer { store.close() }
        try c.basics()
        try c.binaryValues()
        try c.createIfAbsent()
        try c.concurrentCreates(contenders: 20)
        try c.transactions()
        // What the contract wrote is what etcd's own client reads.
        let out = try etcd.ctl(["get", "/netform/test/claim/10.0.0.2", "--print-value-only"])
        #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "n2")
    }

    @Test func contractLeases() throws {
        let etcd = try EtcdProcess()
        defer { etcd.stop() }
        let (store, c) = try contract(etcd)
        defer { store.close() }
        try c.leases()
        try c.timeToLiveAndGuardedDeletes()
        try c.hostRegistration()
    }

    /// Watches: the watch contract against etcd (history from a revision, deletes by
    /// revoke, a compacted history), and a lease that expires shows as deletes.
    @Test func watches() async throws {
        let etcd = try EtcdProcess()
        defer { etcd.stop() }
        let store = try EtcdStore(EtcdConfiguration(clusterStore: etcd.url))
        defer { store.close() }
        let c = WatchContract(store: store, prefix: "/netform/test/", compact: { try etcd.ctl(["compact", String($0)]) })
        try await c.changesFromARevision()
        try await c.compactedHistory()

        let lease = try store.grantLease(ttl: 2)
        try store.put("/netform/h/n1", [1], lease: lease)
        let from = try store.list(prefix: "/netform/h/").revision + 1
        let seen = try await WatchContract.collect(store.watch(prefix: "/netform/h/", fromRevision: from), changes: 1, seconds: 15)
        #expect(seen.map(\.kind) == [.delete] && seen.map(\.key) == ["/netform/h/n1"], "expired")
    }

    /// Three members on loopback; the one the store talks to (the first endpoint, the
    /// last that answered) is killed by PID: reads, writes, claims and leases go on
    /// through the others. With every member gone the store says unavailable and names
    /// each endpoint.
    @Test func failoverWhenAMemberDies() throws {
        let etcd = try EtcdProcess(members: 3)
        defer { etcd.stop() }
        let store = try EtcdStore(EtcdConfiguration(clusterStore: etcd.url, options: ["kv.timeout=3"]))
        defer { store.close() }
        try store.put("/netform/f/before", [1], lease: nil)
        #expect(try store.get("/netform/f/before")?.value == [1])   // served by m0, the first endpoint

        etcd.kill(member: 0)
        // If m0 led, the others elect a new leader first (etcd's business, not the
        // store's: during an election the store may say unavailable, and callers retry).
        try etcd.waitHealthy(members: [1, 2])
        var start = Date()
        #expect(try store.get("/netform/f/before")?.value == [1], "read through another member")
        #expect(Date().timeIntervalSince(start) < 1.5, "a refused connection moves on at once, not after kv.timeout")
        try store.put("/netform/f/after", [2], lease: nil)
        #expect(try store.create("/netform/f/claim", [3], lease: nil))
        #expect(try !store.create("/netform/f/claim", [4], lease: nil))
        let lease = try store.grantLease(ttl: 30)
        #expect(try store.keepAlive(lease) > 0)
        #expect(try store.list(prefix: "/netform/f/").entries.map(\.key) == ["/netform/f/after", "/netform/f/before", "/netform/f/claim"])

        // A fresh store whose first endpoint is the dead one still works.
        let fresh = try EtcdStore(EtcdConfiguration(clusterStore: etcd.url, options: ["kv.timeout=3"]))
        defer { fresh.close() }
        #expect(try fresh.get("/netform/f/after")?.value == [2])

        etcd.kill(member: 1)
        etcd.kill(member: 2)
        start = Date()
        do { _ = try store.get("/netform/f/before"); Issue.record("answered with every member dead") } catch {
            #expect(error.kind == .unavailable)
            #expect(Date().timeIntervalSince(start) < 1.5, "three refused connections cost no timeout")
            for m in etcd.members {
                #expect(error.message.contains("127.0.0.1:\(m.clientPort): connection refused"), "\(error.message)")
            }
        }
    }

    /// A member that accepts connections and never answers costs one timeout, then
    /// the next endpoint serves, and keeps serving first.
    @Test func timeoutMovesToTheNextEndpoint() throws {
        let etcd = try EtcdProcess()
        defer { etcd.stop() }
        let (silent, port) = try EtcdProcess.listener()
        defer { close(silent) }
        let store = try EtcdStore(EtcdConfiguration(clusterStore: "etcd://127.0.0.1:\(port),\(etcd.endpoints)", options: ["kv.timeout=0.5"]))
        defer { store.close() }
        let start = Date()
        try store.put("/netform/t/a", [1], lease: nil)
        let first = Date().timeIntervalSince(start)
        #expect(first >= 0.4 && first < 4, "one timeout, then the live member: \(first) s")
        let again = Date()
        #expect(try store.get("/netform/t/a")?.value == [1])
        #expect(Date().timeIntervalSince(again) < 0.4, "the member that answered is tried first")

        let deaf = try EtcdStore(EtcdConfiguration(clusterStore: "etcd://127.0.0.1:\(port)", options: ["kv.timeout=0.5"]))
        defer { deaf.close() }
        do { _ = try deaf.get("/x"); Issue.record("a silent endpoint answered") } catch {
            #expect(error.kind == .unavailable && error.message.contains("kv.timeout"), "\(error.message)")
        }
    }

    /// etcd with `--client-cert-auth`: the store works with the client certificate
    /// the test made, and is refused without it, with one from another CA, and when
    /// it does not trust the server's CA.
    @Test func tlsWithClientCertificates() throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let etcd = try EtcdProcess(tls: .init(caFile: certs.ca, certFile: certs.serverCert, keyFile: certs.serverKey))
        defer { etcd.stop() }
        let good = ["kv.cacertfile=\(certs.ca)", "kv.certfile=\(certs.clientCert)", "kv.keyfile=\(certs.clientKey)"]
        let store = try EtcdStore(EtcdConfiguration(clusterStore: etcd.url, options: good))
        defer { store.close() }
        #expect(etcd.url.hasPrefix("etcds://"))
        try store.put("/netform/tls/a", [7], lease: nil)
        #expect(try store.get("/netform/tls/a")?.value == [7])
        #expect(try store.create("/netform/tls/b", [1], lease: nil))

        for (what, options, says) in [
            ("no client certificate", ["kv.cacertfile=\(certs.ca)"], "refused this host's client certificate"),
            ("a client certificate of another CA", ["kv.cacertfile=\(certs.ca)", "kv.certfile=\(certs.strangerCert)", "kv.keyfile=\(certs.strangerKey)"],
             "refused this host's client certificate"),
            ("the server's CA not trusted", ["kv.certfile=\(certs.clientCert)", "kv.keyfile=\(certs.clientKey)"], "kv.cacertfile"),
        ] {
            let refused = try EtcdStore(EtcdConfiguration(clusterStore: etcd.url, options: options + ["kv.timeout=3"]))
            defer { refused.close() }
            do { _ = try refused.get("/netform/tls/a"); Issue.record("\(what): answered") } catch {
                #expect(error.kind == .unavailable, "\(what): \(error)")
                #expect(error.message.contains("TLS failed") && error.message.contains(says), "\(what): \(error.message)")
            }
        }
        let plain = try EtcdStore(EtcdConfiguration(clusterStore: "etcd://" + etcd.endpoints, options: ["kv.timeout=3"]))
        defer { plain.close() }
        #expect(throws: StoreError.self, "plain HTTP to a TLS port") { try plain.get("/netform/tls/a") }
    }

    /// Auth enabled with etcdctl (root, and a user whose role may write the project's
    /// prefix): the store logs in and works; a wrong password, no credentials, and a
    /// key outside the role's prefix are refused as unauthorized; an expired token is
    /// renewed by logging in again.
    @Test func usersAndPasswords() throws {
        let etcd = try EtcdProcess(extra: ["--auth-token", "simple", "--auth-token-ttl", "2"])
        defer { etcd.stop() }
        for command in [
            ["user", "add", "root:rootpw", "--interactive=false"], ["user", "grant-role", "root", "root"],
            ["role", "add", "netform"], ["role", "grant-permission", "netform", "--prefix=true", "readwrite", "/netform/"],
            ["user", "add", "alice:alice pw", "--interactive=false"], ["user", "grant-role", "alice", "netform"],
            ["auth", "enable"],
        ] { try etcd.ctl(command) }

        let store = try EtcdStore(EtcdConfiguration(clusterStore: etcd.url, options: ["kv.username=alice", "kv.password=alice pw"]))
        defer { store.close() }
        try store.put("/netform/auth/a", [1], lease: nil)
        #expect(try store.create("/netform/auth/b", [2], lease: nil))
        let lease = try store.grantLease(ttl: 30)
        try store.put("/netform/auth/c", [3], lease: lease)
        #expect(try store.list(prefix: "/netform/auth/").entries.count == 3)
        do { try store.put("/elsewhere", [1], lease: nil); Issue.record("wrote outside the role's prefix") } catch {
            #expect(error.kind == .unauthorized && error.message.contains("permission denied"), "\(error)")
        }
        Thread.sleep(forTimeInterval: 3.5)   // the simple token (TTL 2 s) has expired
        #expect(try store.get("/netform/auth/a")?.value == [1], "logged in again")
        try store.revoke(lease)

        for (what, options, says) in [
            ("a wrong password", ["kv.username=alice", "kv.password=wrong"], "logging in to etcd as kv.username 'alice'"),
            ("an unknown user", ["kv.username=mallory", "kv.password=alice pw"], "authentication failed"),
            ("no credentials", [], "set kv.username and kv.password"),
        ] {
            let refused = try EtcdStore(EtcdConfiguration(clusterStore: etcd.url, options: options))
            defer { refused.close() }
            do { _ = try refused.get("/netform/auth/a"); Issue.record("\(what): answered") } catch {
                #expect(error.kind == .unauthorized && error.message.contains(says), "\(what): \(error)")
            }
        }
    }
}
