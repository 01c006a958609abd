import Addressing
import Compile
import Foundation
import Import
import Model
import Spec
import Reconcile
import Cluster
import Execute
import Testing
@testable import Plan

/// `netform import` without the kernel: every example applied to a simulated host,
/// imported back into YAML, read by the spec loader and planned against the same host
/// — the plan must be empty. The end-to-end tier does the same on a real kernel.
@Suite struct ImportRoundTrip {
    static func example(_ name: String) -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Examples/\(name)")
        return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }

    /// A host with what the examples expect of it: a resolver, macvlan parents and the
    /// namespace macvlan.yaml adopts.
    static func host() -> HostState {
        var h = pristineHost()
        h[.host]!.hostResolver = "nameserver 192.0.2.53\nsearch example.net\n"
        h[.host]!.links += [LinkState(name: "eth1", kind: .other("physical")), LinkState(name: "eth1.20", kind: .other("vlan"))]
        h[.named("legacy")] = NamespaceState(ref: .named("legacy"), links: [LinkState(name: "lo", kind: .loopback, mtu: 65536)])
        return h
    }

    struct Trip {
        var yaml: String
        var notes: [String]
        var imported: Spec?
        var diagnostics: [String]
        var plan: Plan?
    }

    /// Applies `text` to `start` (as `localHost`), imports it and plans the import.
    static func roundTrip(_ text: String, localHost: String? = nil, start: HostState = host()) throws -> Trip {
        let original = try spec(text)
        let before = asObserved(start)
        let compiled = try Compiler.compile(original, observed: before, localHost: localHost)
        let first = Planner.plan(compiled.desired, observed: before)
        #expect(first.conflicts.isEmpty, "\(first.conflicts)")
        let live = asObserved(try applied(first, to: start))
        let result = SpecImporter.importProject(original.project, from: live, localHost: localHost)
        let yaml = SpecWriter.yaml(result.spec)
        let loaded = SpecLoader.load(bytes: Array(yaml.utf8), file: "imported.yaml")
        var trip = Trip(yaml: yaml, notes: result.notes, imported: loaded.spec, diagnostics: loaded.rendered())
        if let imported = loaded.spec {
            let again = try Compiler.compile(imported, observed: live, localHost: localHost)
            trip.plan = Planner.plan(again.desired, observed: live)
        }
        return trip
    }

    @Test(arguments: [("seed.yaml", nil), ("multi-network.yaml", nil), ("dual-stack.yaml", nil), ("macvlan.yaml", nil),
                      ("overlay.yaml", "node1"), ("overlay.yaml", "node3"), ("cluster.yaml", "node1")] as [(String, String?)])
    func everyExampleImportsToASpecThatPlansNoChange(file: String, localHost: String?) throws {
        let trip = try Self.roundTrip(Self.example(file), localHost: localHost)
        #expect(trip.diagnostics.isEmpty, "\(trip.diagnostics)\n\(trip.yaml)")
        let plan = try #require(trip.plan, "\(trip.yaml)")
        #expect(plan.steps.isEmpty, "\(PlanRenderer(color: false).render(plan))\n\(trip.yaml)")
        #expect(plan.conflicts.isEmpty)
    }

    /// The seed comes back as the spec a person would write: defaults left out, the
    /// `none` container kept, addresses a fresh host would give left dynamic.
    @Test func theSeedComesBackMinimal() throws {
        let trip = try Self.roundTrip(Self.example("seed.yaml"))
        #expect(trip.yaml == """
        version: 1
        project: seed

        networks:
          bridge:
            bridge: docker0
            subnets:
              - subnet: 172.17.0.0/16
          aislada:
            subnets:
              - subnet: 172.18.0.0/16

        containers:
          container1:
            networks: [bridge]
          container2:
            networks: [bridge]
          container3:
            networks: [aislada]
          loner:
            networks: [none]

        """)
    }

    /// Labels are read back from the addresses label rules match; static addresses,
    /// MACs, interface names, published ports (with and without host IP), the
    /// network's host_binding_ipv4, internal networks and the resolver settings from
    /// the namespace files.
    @Test func multiNetworkKeepsWhatTheKernelRecords() throws {
        let trip = try Self.roundTrip(Self.example("multi-network.yaml"))
        let s = try #require(trip.imported, "\(trip.diagnostics)")
        #expect(s.network(named: "frontend")?.hostBindingIPv4 == IPv4Address("127.0.0.1"))
        #expect(s.network(named: "db")?.isInternal == true)
        #expect(s.network(named: "db")?.masquerade == false)
        #expect(s.container(named: "web1")?.labels == ["tier": "web"])
        #expect(s.container(named: "api")?.labels == [:], "no rule selects tier=api")
        // [::1]:8443 has no forwarding rule (proxy has no IPv6 address): no trace, not imported.
        #expect(s.container(named: "proxy")?.ports.map(\.description) == ["80:8080/tcp", "0.0.0.0:443:8443/tcp"])
        #expect(s.container(named: "web1")?.attachments.map(\.interface) == ["eth0", "back0"])
        #expect(s.container(named: "web1")?.attachments.first?.mac == MACAddress("02:00:00:01:00:0b"))
        #expect(s.container(named: "toolbox")?.dns.search == ["shop.internal"])
        #expect(s.container(named: "toolbox")?.dns.options == ["ndots:2"])
        #expect(s.container(named: "toolbox")?.extraHosts.map(\.name) == ["registry.shop.internal"])
        #expect(s.rules.count == 8)
        // Dynamic where a fresh host gives the same address, written where it would not.
        #expect(s.container(named: "toolbox")?.attachments.first?.ipv4 == nil, "\(trip.yaml)")
        #expect(s.container(named: "api")?.attachments.map { $0.ipv4.map { "\($0)" } ?? "dynamic" } == ["10.1.1.20", "dynamic"])
        #expect(trip.yaml.contains("      frontend: {ipv4: 10.1.0.10, mac: \"02:00:00:01:00:0a\"}\n"), "\(trip.yaml)")
        #expect(trip.yaml.contains("  - allow: {from: proxy, to: \"label:tier=web\", ports: [80/tcp, 443/tcp]}\n"), "\(trip.yaml)")
    }

    /// An adopted namespace comes back as `netns:`, a macvlan network from its
    /// containers' interfaces; addresses from `ip_range` (lost) are written.
    @Test func macvlanAndAdoptionComeBack() throws {
        let trip = try Self.roundTrip(Self.example("macvlan.yaml"))
        let s = try #require(trip.imported, "\(trip.diagnostics)")
        #expect(s.container(named: "legacy-app")?.netns == .name("legacy"))
        #expect(s.container(named: "legacy-app")?.attachments.first?.ipv4 == IPv4Address("192.168.50.192"))
        #expect(s.network(named: "lan")?.parent == "eth1")
        #expect(s.network(named: "sensors")?.macvlanMode == .private)
        #expect(s.network(named: "sensors")?.subnets == [])
        #expect(s.container(named: "sensor1")?.attachments.first?.mac == MACAddress("02:00:00:14:00:01"))
    }

    /// Nothing of another project is imported, and a host without the project says so
    /// by giving an empty spec.
    @Test func onlyTheProjectsObjectsAreImported() throws {
        var start = Self.host()
        let other = try spec(Self.example("seed.yaml"))
        let c = try Compiler.compile(other, observed: asObserved(start))
        start = try applied(Planner.plan(c.desired, observed: asObserved(start)), to: start)
        let trip = try Self.roundTrip(Self.example("dual-stack.yaml"), start: start)
        #expect(!trip.yaml.contains("docker0") && !trip.yaml.contains("container1"))
        #expect(trip.plan?.steps.isEmpty == true)
        #expect(SpecImporter.projects(in: asObserved(start)) == ["seed"])
        #expect(SpecImporter.importProject("nope", from: asObserved(start)).spec.containers.isEmpty)
    }

    /// With the cluster store, a host's import places its own containers and writes the
    /// other hosts' from their endpoints; the one file then plans no change on any host.
    @Test func anOverlayImportedFromOneHostPlansNoChangeOnEveryHost() throws {
        let store = MemoryStore()
        let text = Self.example("overlay.yaml")
        let hosts = ["node1", "node2", "node3"].enumerated().map { i, name in
            let h = ClusterHost(store)
            return (name, h, h.reconciler(name, advertise: "192.168.50.\(i + 1)"))
        }
        for _ in 0..<2 {  // the second round: every host learns the others' endpoints
            for (_, _, r) in hosts { #expect(try r.apply(try r.plan(try spec(text))).succeeded) }
        }
        let result = try hosts[0].2.importProject(nil)
        #expect(result.project == "swarm")
        #expect(result.reproducesHost, "\(result.check.map { PlanRenderer(color: false).render($0.plan) } ?? "\(result.diagnostics)")\n\(result.yaml)")
        let s = result.spec
        #expect(s.container(named: "lb")?.host == "node1")
        #expect(s.container(named: "web1")?.host == "node2")
        #expect(s.container(named: "cache")?.host == "node3")
        #expect(s.container(named: "cache")?.labels == ["role": "cache"], "from the rules' addresses, through the store")
        #expect(s.network(named: "front")?.vni == 4100)
        for (name, _, r) in hosts.dropFirst() {
            let plan = try r.plan(result.spec).plan
            #expect(plan.steps.isEmpty, "\(name): \(PlanRenderer(color: false).render(plan))\n\(result.yaml)")
        }
    }

    /// No project, an unknown one, or several without a choice: a clear error.
    @Test func nothingToImportIsSaidPlainly() throws {
        let empty = Reconciler(observe: { _, n in asObserved(Self.host(), neighbours: n) }, driver: SimulatedDriver(Self.host()), localHost: nil)
        #expect(throws: ImportError.self) { try empty.importProject(nil) }
        var two = Self.host()
        for file in ["seed.yaml", "dual-stack.yaml"] {
            let c = try Compiler.compile(try spec(Self.example(file)), observed: asObserved(two))
            two = try applied(Planner.plan(c.desired, observed: asObserved(two)), to: two)
        }
        let r = Reconciler(observe: { [two] _, n in asObserved(two, neighbours: n) }, driver: SimulatedDriver(two), localHost: nil)
        do {
            _ = try r.importProject(nil)
            Issue.record("several projects and no choice must fail")
        } catch let e as ImportError {
            #expect(e.message.contains("several netform projects (dualstack, seed)"), "\(e.message)")
        }
        do {
            _ = try r.importProject("nope")
            Issue.record("an unknown project must fail")
        } catch let e as ImportError {
            #expect(e.message == "no objects of project 'nope' on this host; its projects: dualstack, seed")
        }
        let seed = try r.importProject("seed")
        #expect(seed.reproducesHost && seed.yaml.hasPrefix("# Imported by `netform import` from the live host: project seed.\n"))
    }
}

/// `netform import --bridge`: a lab made by hand becomes a project. The namespaces
/// are adopted; the bridge and veths are written as they are and torn down by the
/// user's script; after it, the plan builds everything with no conflict and converges.
@Suite struct ForeignImportPlanning {
    /// br-lab (10.5.0.1/24) with app1 and app2 (named namespaces) on it, and a
    /// sentinel bridge br-other with its own namespace.
    static func handMade() -> HostState {
        var h = pristineHost()
        func lab(_ bridge: String, _ gw: String, _ members: [(String, String, String)]) {
            h[.host]!.links.append(LinkState(name: bridge, kind: .bridge, mac: MACAddress("52:54:00:00:00:01")))
            h[.host]!.addresses.append(AddressState(link: bridge, address: IPAddress(gw)!, prefixLength: 24, proto: 0))
            for (ns, veth, ip) in members {
                h[.host]!.links.append(LinkState(name: veth, kind: .veth(peer: VethPeerRef(namespace: .named(ns), name: "eth0")), master: bridge))
                var n = NamespaceState(ref: .named(ns), links: [
                    LinkState(name: "lo", kind: .loopback, mtu: 65536),
                    LinkState(name: "eth0", kind: .veth(peer: VethPeerRef(namespace: .host, name: veth)), mac: MACAddress("52:54:00:aa:00:0\(ns.last!)")),
                ])
                n.addresses = [AddressState(link: "eth0", address: IPAddress(ip)!, prefixLength: 24, proto: 0)]
                n.routes = [RouteState(destination: nil, family: .v4, gateway: IPAddress(gw), device: "eth0", proto: 3)]
                h[.named(ns)] = n
            }
        }
        lab("br-lab", "10.5.0.1", [("app1", "v-app1", "10.5.0.2"), ("app2", "v-app2", "10.5.0.3")])
        lab("br-other", "10.6.0.1", [("other3", "v-other3", "10.6.0.2")])
        return h
    }

    @Test func aHandMadeBridgeBecomesAProjectThatConverges() throws {
        let start = Self.handMade()
        let r = try SpecImporter.importForeign(project: "lab", bridges: ["br-lab"], from: start)
        #expect(r.teardown.filter { !$0.hasPrefix("#") } == ["set -e",
            "ip link delete v-app1   # veth to eth0 in app1 (10.5.0.2/24)",
            "ip link delete v-app2   # veth to eth0 in app2 (10.5.0.3/24)",
            "ip link delete br-lab   # bridge (10.5.0.1/24)"])
        #expect(r.spec.containers.map(\.name) == ["app1", "app2"])
        #expect(r.spec.containers.map(\.netns) == [.name("app1"), .name("app2")])
        #expect(r.spec.containers[0].attachments == [Attachment(network: "br-lab", ipv4: IPv4Address("10.5.0.2"), mac: MACAddress("52:54:00:aa:00:01"), interface: "eth0")])
        #expect(r.spec.networks.first?.device == "br-lab" && r.spec.networks.first?.masquerade == false)
        // The written file loads; after the teardown it plans with no conflict, and
        // what it builds converges; the sentinel lab is untouched, the namespaces stay.
        let yaml = SpecWriter.yaml(r.spec)
        let imported = try spec(yaml)
        let after = asObserved(r.afterTeardown)
        let compiled = try Compiler.compile(imported, observed: after)
        let plan = Planner.plan(compiled.desired, observed: after)
        #expect(plan.conflicts.isEmpty, "\(plan.conflicts)")
        #expect(!plan.steps.contains { if case .deleteNamespace = $0.operation { true } else { false } })
        let built = try applied(plan, to: r.afterTeardown)
        #expect(Planner.plan(try Compiler.compile(imported, observed: asObserved(built)).desired, observed: asObserved(built)).steps.isEmpty)
        for name in ["br-other", "v-other3"] { #expect(built[.host]?.link(named: name) == start[.host]?.link(named: name)) }
        #expect(built[.named("other3")] == start[.named("other3")])
        #expect(built[.named("app1")]?.addresses.map { "\($0.address)" } == ["10.5.0.2"])
        // Before the teardown, the same spec conflicts with the hand-made links: netform
        // would not take them over.
        let before = Planner.plan(try Compiler.compile(imported, observed: asObserved(start)).desired, observed: asObserved(start))
        #expect(!before.conflicts.isEmpty)
    }

    @Test func whatCannotBeImportedIsRefusedWithWhy() throws {
        var h = Self.handMade()
        func refusal(_ bridges: [String], _ state: HostState) -> String {
            do {
                _ = try SpecImporter.importForeign(project: "lab", bridges: bridges, from: state)
                return "imported"
            } catch { return error.message }
        }
        #expect(refusal(["nope"], h) == "no link 'nope' on this host")
        #expect(refusal(["eth0"], h) == "'eth0' is a physical, not a bridge")
        h[.host]!.links.append(LinkState(name: "eth9", kind: .other("physical"), master: "br-lab"))
        #expect(refusal(["br-lab"], h) == "bridge 'br-lab' has port 'eth9' (physical), not a veth to a namespace; netform can only build veth ports")
        h = Self.handMade()
        h[.host]!.addresses.removeAll { $0.link == "br-lab" }
        #expect(refusal(["br-lab"], h).hasPrefix("bridge 'br-lab' has no address"))
        h = Self.handMade()
        h[.host]!.links[h[.host]!.links.firstIndex { $0.name == "br-lab" }!].alias = "netform:shop/net/x"
        #expect(refusal(["br-lab"], h) == "bridge 'br-lab' is netform's (project shop): import it with `netform import --project shop`")
    }
}
