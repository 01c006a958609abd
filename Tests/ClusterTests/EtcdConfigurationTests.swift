import Cluster
import Foundation
import Testing

/// `--cluster-store` URLs and `--cluster-store-opt` options as Docker's users write
/// them; every mistake names its option and says why.
@Suite struct EtcdConfigurationTests {
    typealias Endpoint = EtcdConfiguration.Endpoint

    @Test func endpointsAndSchemes() throws {
        let one = try EtcdConfiguration(clusterStore: "etcd://10.0.0.1:2379")
        #expect(one.endpoints == [Endpoint(host: "10.0.0.1", port: 2379)] && !one.tls && one.timeout == 5)
        let many = try EtcdConfiguration(clusterStore: "etcds://a.example:1,[fd00::1]:2,b, 10.0.0.1:1/")
        #expect(many.tls)
        #expect(many.endpoints == [Endpoint(host: "a.example", port: 1), Endpoint(host: "fd00::1", port: 2),
                                   Endpoint(host: "b", port: 2379), Endpoint(host: "10.0.0.1", port: 1)])
        #expect(many.endpoints.map(\.description) == ["a.example:1", "[fd00::1]:2", "b:2379", "10.0.0.1:1"])
        #expect(try EtcdConfiguration(clusterStore: "ETCD://h:1,h:1").endpoints.count == 1, "a repeated endpoint counts once")
    }

    @Test func options() throws {
        let c = try EtcdConfiguration(clusterStore: "etcds://h:2379", options: [
            "kv.cacertfile=/etc/ca.pem", "kv.certfile=/etc/c.pem", "kv.keyfile=/etc/k.pem",
            "kv.username=alice", "kv.password=a=b", "kv.timeout=2.5",
        ])
        #expect(c.caCertificateFile == "/etc/ca.pem" && c.certificateFile == "/etc/c.pem" && c.keyFile == "/etc/k.pem")
        #expect(c.username == "alice" && c.password == "a=b", "only the first = separates")
        #expect(c.timeout == 2.5)
        #expect(try EtcdConfiguration(clusterStore: "etcd://h", options: ["kv.timeout=10s"]).timeout == 10)
    }

    @Test(arguments: [
        ("10.0.0.1:2379", [String](), "--cluster-store", "not a URL"),
        ("consul://h:8500", [], "--cluster-store", "not supported"),
        ("http://h:2379", [], "--cluster-store", "unknown scheme"),
        ("etcd://", [], "--cluster-store", "empty endpoint"),
        ("etcd://a:1,,b:2", [], "--cluster-store", "empty endpoint"),
        ("etcd://h:0", [], "--cluster-store", "port '0'"),
        ("etcd://h:70000", [], "--cluster-store", "1 to 65535"),
        ("etcd://h:x", [], "--cluster-store", "port 'x'"),
        ("etcd://fd00::1:2379", [], "--cluster-store", "brackets"),
        ("etcd://[fd00::1", [], "--cluster-store", "unterminated"),
        ("etcd://[zz]:1", [], "--cluster-store", "not an IPv6"),
        ("etcd://h:1/netform", [], "--cluster-store", "path"),
        ("etcd://user:pw@h:1", [], "--cluster-store", "user info"),
        ("etcd://h o:1", [], "--cluster-store", "not a host"),
        ("etcd://h:1", ["kv.timeout"], "--cluster-store-opt", "KEY=VALUE"),
        ("etcd://h:1", ["kv.tiemout=3"], "kv.tiemout", "unknown option"),
        ("etcd://h:1", ["kv.timeout=3", "kv.timeout=4"], "kv.timeout", "twice"),
        ("etcd://h:1", ["kv.timeout=soon"], "kv.timeout", "not a number"),
        ("etcd://h:1", ["kv.timeout=0"], "kv.timeout", "out of range"),
        ("etcd://h:1", ["kv.timeout=nan"], "kv.timeout", "not a number"),
        ("etcd://h:1", ["kv.cacertfile=/ca"], "kv.cacertfile", "etcds://"),
        ("etcds://h:1", ["kv.certfile=/c"], "kv.certfile", "kv.keyfile"),
        ("etcds://h:1", ["kv.keyfile=/k"], "kv.keyfile", "kv.certfile"),
        ("etcd://h:1", ["kv.username=u"], "kv.username", "kv.password"),
        ("etcd://h:1", ["kv.password=p"], "kv.password", "kv.username"),
        ("etcd://h:1", ["kv.username="], "kv.username", "empty"),
    ])
    func mistakes(url: String, options: [String], option: String, reason: String) {
        do {
            let c = try EtcdConfiguration(clusterStore: url, options: options)
            Issue.record("accepted: \(c)")
        } catch {
            #expect(error.option == option, "\(error)")
            #expect(error.reason.contains(reason), "\(error)")
            #expect(error.description.hasPrefix("\(option): "))
        }
    }

    /// The TLS files are read when the store is made: a missing or wrong file is an
    /// error about that option, before any connection.
    @Test func unreadableTLSFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("netform-tlsfiles-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let garbage = dir.appendingPathComponent("garbage.pem").path
        try "not a certificate\n".write(toFile: garbage, atomically: true, encoding: .utf8)
        let missing = dir.appendingPathComponent("missing.pem").path
        for (options, option, reason) in [
            (["kv.cacertfile=\(missing)"], "kv.cacertfile", "no such file"),
            (["kv.cacertfile=\(dir.path)"], "kv.cacertfile", "directory"),
            (["kv.cacertfile=\(garbage)"], "kv.cacertfile", "PEM"),
            (["kv.certfile=\(garbage)", "kv.keyfile=\(garbage)"], "kv.certfile", "PEM"),
        ] {
            let config = try EtcdConfiguration(clusterStore: "etcds://127.0.0.1:1", options: options)
            do {
                let store = try EtcdStore(config)
                store.close()
                Issue.record("accepted \(options)")
            } catch {
                #expect(error.option == option && error.reason.contains(reason), "\(error)")
            }
        }
    }

    /// A store can be made and closed without ever connecting, and a closed store
    /// refuses calls as unavailable (no client left to leak).
    @Test func closedStoreRefuses() throws {
        let store = try EtcdStore(EtcdConfiguration(clusterStore: "etcd://127.0.0.1:1"))
        store.close()
        store.close()
        do { _ = try store.get("/x"); Issue.record("a closed store answered") } catch {
            #expect(error.kind == .unavailable && error.message.contains("closed"))
        }
        _ = try EtcdStore(EtcdConfiguration(clusterStore: "etcd://127.0.0.1:1"))   // deinit shuts it down
    }
}

/// The CLI's `ClusterSettings` become the same configuration as the URL and options.
@Suite struct EtcdConfigurationFromSettings {
    @Test func etcdSettings() throws {
        let settings = try ClusterSettings(store: "etcds://10.0.0.1:2379,10.0.0.2:2379", advertise: "10.0.0.9",
                                           options: ["kv.username=alice", "kv.password=pw", "kv.timeout=3"])
        let c = try #require(try EtcdConfiguration(settings))
        #expect(c == (try EtcdConfiguration(clusterStore: "etcds://10.0.0.1:2379,10.0.0.2:2379",
                                            options: ["kv.username=alice", "kv.password=pw", "kv.timeout=3"])))
        let file = try ClusterSettings(store: "file:/tmp/s.json", advertise: "10.0.0.9", options: [])
        #expect(try EtcdConfiguration(file) == nil)
        let half = try ClusterSettings(store: "etcd://h:1", advertise: "10.0.0.9", options: ["kv.certfile=/c"])
        #expect(throws: EtcdConfigurationError("kv.certfile", "TLS files need an etcds:// cluster store (the URL says etcd://, plain HTTP)")) {
            try EtcdConfiguration(half)
        }
    }
}
