import Reconcile
import Spec
import Testing

/// The spec's `cluster:` section read as every front end reads it
/// (`LiveHost.loadSpec`): its values are checked by the same parsers as the
/// command line's options, and reported at their position; the command line wins
/// over it setting by setting.
@Suite struct ClusterSectionTests {
    func problems(_ text: String) -> [String] {
        SpecLoader.load(bytes: Array(text.utf8), file: "fleet.yaml", clusterCheck: LiveHost.clusterSectionCheck).diagnostics
            .map { "\($0.mark.line):\($0.mark.column): \($0.message)" }
    }

    @Test func goodSectionsPass() {
        #expect(problems("version: 1\ncluster: {store: 'etcds://[fd00::1]:2379,10.0.0.2', advertise: eth0, options: {kv.ttl: 600, kv.timeout: 3s}}\n") == [])
        #expect(problems("version: 1\ncluster: {store: 'file:/var/lib/netform/store.json'}\n") == [], "advertise may be left to each host")
    }

    @Test func badValuesAreErrorsAtTheValueTheyAreAbout() {
        #expect(problems("version: 1\ncluster:\n  store: etcd://h:x\n") == [
            "3:10: cluster store: 'h:x': port 'x' is not a number from 1 to 65535",
        ])
        #expect(problems("version: 1\ncluster:\n  store: consul://h:8500\n") == [
            "3:10: cluster store: 'consul://h:8500': unknown provider; use etcd://HOST:PORT, etcds://HOST:PORT or file:/PATH",
        ])
        #expect(problems("version: 1\ncluster:\n  store: file:store.json\n") == [
            "3:10: cluster store: 'file:store.json': file: takes an absolute path (file:/var/lib/netform/store.json)",
        ])
        #expect(problems("version: 1\ncluster:\n  store: etcd://h\n  options:\n    kv.ttl: 2\n") == [
            "5:13: cluster option kv.ttl: '2': give the registration's lease TTL in whole seconds, 5 to 31536000",
        ])
        #expect(problems("version: 1\ncluster:\n  store: etcd://h\n  options:\n    kv.timeot: 2\n")
            .first?.hasPrefix("5:16: cluster option kv.timeot: unknown option; known: kv.cacertfile") == true)
        #expect(problems("version: 1\ncluster:\n  store: etcd://h\n  options: {kv.timeout: soon}\n") == [
            "4:25: cluster option kv.timeout: 'soon' is not a number of seconds",
        ])
        #expect(problems("version: 1\ncluster:\n  store: etcd://h\n  options: {kv.certfile: /c.pem}\n") == [
            "4:26: cluster option kv.certfile: TLS files need an etcds:// cluster store (the URL says etcd://, plain HTTP)",
        ])
    }

    @Test func theCommandLineWinsSettingBySettingAndOptionsMergeByKey() {
        let section = ClusterSpec(store: "etcd://a:2379", advertise: "eth0", options: ["kv.ttl": "600", "kv.timeout": "2"])
        #expect(LiveHost.Options().over(section) == LiveHost.Options(clusterStore: "etcd://a:2379", clusterAdvertise: "eth0",
                                                                     clusterStoreOptions: ["kv.timeout=2", "kv.ttl=600"]))
        let cli = LiveHost.Options(hostName: "node1", clusterAdvertise: "10.0.0.1", clusterStoreOptions: ["kv.ttl=30"])
        #expect(cli.over(section) == LiveHost.Options(hostName: "node1", clusterStore: "etcd://a:2379", clusterAdvertise: "10.0.0.1",
                                                      clusterStoreOptions: ["kv.timeout=2", "kv.ttl=30"]))
        #expect(cli.over(nil) == cli)
    }
}
