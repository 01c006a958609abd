import Addressing
import Testing
@testable import Spec

/// Loads spec text under a file name; the name's stem is the default project.
func load(_ text: String, file: String = "lab.yaml") -> LoadedSpec {
    SpecLoader.load(bytes: Array(text.utf8), file: file)
}

/// The diagnostics as `LINE:COL: severity: message` strings, for exact assertions.
func problems(_ text: String, file: String = "lab.yaml") -> [String] {
    load(text, file: file).diagnostics.map { "\($0.mark.line):\($0.mark.column): \($0.severity.rawValue): \($0.message)" }
}

@Suite struct SeedScenario {
    static let seed = """
    version: 1
    project: seed
    networks:
      bridge:
        driver: bridge
        bridge: docker0
        subnets: [{subnet: 172.17.0.0/16, gateway: 172.17.0.1}]
        icc: true
        masquerade: true
        mtu: 1500
      aislada:
        subnets: [{subnet: 172.18.0.0/16}]
    containers:
      container1: {networks: [bridge]}
      container2: {networks: {bridge: {ipv4: 172.17.0.3}}}
      container3: {networks: [aislada], ports: ["8080:80/tcp"]}
    rules:
      - allow: {from: container1, to: container3, ports: [80/tcp]}
    """

    @Test func decodesEveryPart() throws {
        let r = load(Self.seed)
        #expect(r.diagnostics.isEmpty, "\(r.rendered())")
        let spec = try #require(r.spec)
        #expect(spec.project == "seed")
        #expect(spec.networks.map(\.name) == ["bridge", "aislada"])
        let bridge = try #require(spec.network(named: "bridge"))
        #expect(bridge.device == "docker0")
        #expect(bridge.subnets[0].subnet == IPNetwork("172.17.0.0/16"))
        #expect(bridge.subnets[0].gateway == IPAddress("172.17.0.1"))
        #expect(bridge.icc && bridge.masquerade && !bridge.isInternal && bridge.mtu == 1500)

        let aislada = try #require(spec.network(named: "aislada"))
        #expect(aislada.driver == .bridge)
        #expect(aislada.subnets[0].gateway == IPAddress("172.18.0.1"), "gateway defaults to the first address")
        #expect(aislada.subnets[0].ipRange == IPNetwork("172.18.0.0/16"), "ip_range defaults to the subnet")
        #expect(aislada.device.hasPrefix("nf-") && aislada.device.utf8.count == 15)
        #expect(aislada.hostBindingIPv4 == IPv4Address(0))

        let c2 = try #require(spec.container(named: "container2"))
        #expect(c2.attachments == [Attachment(network: "bridge", ipv4: IPv4Address("172.17.0.3"), interface: "eth0")])
        let c3 = try #require(spec.container(named: "container3"))
        #expect(c3.ports == [PublishedPort(hostPort: 8080, containerPort: 80, proto: .tcp)])
        #expect(spec.rules == [RuleSpec(action: .allow, from: .container("container1"), to: .container("container3"),
                                        ports: [PortRange(lower: 80, upper: 80, proto: .tcp)])])
    }

    @Test func defaultBridgeNameIsStableAndProjectScoped() {
        #expect(defaultBridgeName(project: "lab", network: "a") == defaultBridgeName(project: "lab", network: "a"))
        #expect(defaultBridgeName(project: "lab", network: "a") != defaultBridgeName(project: "lab2", network: "a"))
        #expect(defaultBridgeName(project: "lab", network: "a") != defaultBridgeName(project: "lab", network: "b"))
    }
}

@Suite struct Defaults {
    @Test func containerWithoutNetworksJoinsBridge() throws {
        let spec = try #require(load("""
        version: 1
        networks:
          bridge: {subnets: [{subnet: 10.0.0.0/24}]}
        containers:
          c1:
          c2: {}
          none1: {networks: []}
          none2: {networks: [none]}
          hostnet: {networks: [host]}
        """).spec)
        #expect(spec.project == "lab", "the project defaults to the file's stem")
        #expect(spec.container(named: "c1")?.attachments.map(\.network) == ["bridge"])
        #expect(spec.container(named: "c2")?.attachments.map(\.network) == ["bridge"])
        #expect(spec.container(named: "none1")?.networking == .attached([]))
        #expect(spec.container(named: "none2")?.networking == .attached([]))
        #expect(spec.container(named: "hostnet")?.networking == .host)
    }

    @Test func interfacesAreNumberedInOrder() throws {
        let spec = try #require(load("""
        version: 1
        networks:
          a: {subnets: [{subnet: 10.0.0.0/24}]}
          b: {subnets: [{subnet: 10.0.1.0/24}]}
        containers:
          c: {networks: {a: null, b: {interface: backend0}}}
          d: {networks: [b, a]}
        """).spec)
        #expect(spec.container(named: "c")?.attachments.map(\.interface) == ["eth0", "backend0"])
        #expect(spec.container(named: "d")?.attachments.map(\.interface) == ["eth0", "eth1"])
    }

    @Test func driverDefaults() throws {
        let spec = try #require(load("""
        version: 1
        networks:
          o: {driver: overlay, subnets: [{subnet: 10.1.0.0/24}]}
          o2: {driver: overlay, vni: 4100, subnets: [{subnet: 10.2.0.0/24}]}
          m: {driver: macvlan, parent: eth0, subnets: [{subnet: 192.168.50.0/24}]}
          i: {internal: true, subnets: [{subnet: 10.3.0.0/24}]}
        """).spec)
        let o = try #require(spec.network(named: "o"))
        #expect(o.mtu == 1450)
        #expect((4096...16_777_215).contains(o.vni ?? 0))
        #expect(o.vni == defaultVNI(project: "lab", network: "o"))
        #expect(spec.network(named: "o2")?.vni == 4100)
        #expect(spec.network(named: "m")?.macvlanMode == .bridge)
        #expect(spec.network(named: "m")?.parent == "eth0")
        #expect(spec.network(named: "i")?.masquerade == false, "internal networks never masquerade")
    }

    @Test func dualStack() throws {
        let spec = try #require(load("""
        version: 1
        networks:
          ds:
            subnets:
              - {subnet: 10.5.0.0/24, ip_range: 10.5.0.128/25, aux_addresses: {router: 10.5.0.254}}
              - {subnet: "fd00:5::/64", gateway: "fd00:5::fffe"}
        containers:
          c: {networks: {ds: {ipv4: 10.5.0.10, ipv6: "fd00:5::10", mac: "02:00:00:00:00:10"}}}
        """).spec)
        let ds = try #require(spec.network(named: "ds"))
        #expect(ds.primarySubnet(.v6)?.gateway == IPAddress("fd00:5::fffe"))
        #expect(ds.primarySubnet(.v4)?.ipRange == IPNetwork("10.5.0.128/25"))
        #expect(ds.primarySubnet(.v4)?.auxAddresses == ["router": IPAddress("10.5.0.254")!])
        let a = try #require(spec.container(named: "c")?.attachments.first)
        #expect(a.ipv6 == IPv6Address("fd00:5::10"))
        #expect(a.mac == MACAddress("02:00:00:00:00:10"))
    }

    @Test func portsAndSelectors() throws {
        let spec = try #require(load("""
        version: 1
        networks:
          bridge: {subnets: [{subnet: 10.0.0.0/24}]}
        containers:
          web: {ports: ["127.0.0.1:8080:80", "5353:53/udp", "[::1]:8443:443/tcp"], labels: {tier: web}}
          db: {netns: {name: legacy}}
          p: {netns: {pid: 4242}, networks: []}
        rules:
          - deny: {from: "network:bridge", to: "label:tier=web", ports: ["8000-8100/udp", 22]}
          - allow: {to: web, protocols: [icmp]}
          - deny: {}
        """).spec)
        let web = try #require(spec.container(named: "web"))
        #expect(web.ports.map(\.description) == ["127.0.0.1:8080:80/tcp", "5353:53/udp", "[::1]:8443:443/tcp"])
        #expect(spec.container(named: "db")?.netns == .name("legacy"))
        #expect(spec.container(named: "p")?.netns == .pid(4242))
        #expect(spec.rules[0] == RuleSpec(action: .deny, from: .network("bridge"), to: .label(key: "tier", value: "web"),
                                          ports: [PortRange(lower: 8000, upper: 8100, proto: .udp), PortRange(lower: 22, upper: 22, proto: .tcp)]))
        #expect(spec.rules[1] == RuleSpec(action: .allow, from: .any, to: .container("web"), protocols: [.icmp]))
        #expect(spec.rules[2] == RuleSpec(action: .deny))
    }
}
