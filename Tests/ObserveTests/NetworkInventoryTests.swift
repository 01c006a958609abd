import Addressing
import Model
import Observe
import Spec
import Testing

// Pure tests (no kernel): `netform network ls/inspect` records built from hand-made
// HostStates, shaped like what Observe reads after `netform apply`.

// MARK: - InventoryScene builders

private func ip(_ s: String) -> IPAddress { IPAddress(s)! }
private func mac(_ s: String) -> MACAddress { MACAddress(s)! }

/// A host namespace and container namespaces, the way `apply` leaves them.
private struct InventoryScene {
    var host = NamespaceState(ref: .host, links: [LinkState(name: "lo", kind: .loopback, mtu: 65536)])
    var namespaces: [NamespaceState] = []

    var state: HostState {
        var s = HostState()
        s[.host] = host
        for ns in namespaces { s[ns.ref] = ns }
        return s
    }

    /// A bridge marked `net/NETWORK`, with addresses `GATEWAY/PREFIX`.
    mutating func bridge(_ project: String, _ network: String, device: String, mtu: Int = 1500, _ gateways: [String]) {
        host.links.append(LinkState(name: device, kind: .bridge, mtu: mtu, alias: OwnerMark.network(project, network).alias))
        for g in gateways {
            let parts = g.split(separator: "/")
            host.addresses.append(AddressState(link: device, address: ip(String(parts[0])), prefixLength: Int(parts[1])!))
        }
    }

    /// A container namespace with a veth on a bridge (`addresses` as `ADDRESS/PREFIX`).
    mutating func container(_ project: String, _ container: String, network: String, bridge: String, interface: String = "eth0",
                            mac m: String, _ addresses: [String], isolated: Bool = false, hostEnd: Bool = true, innerEnd: Bool = true) {
        let mark = OwnerMark.endpoint(project, container: container, network: network).alias
        let veth = "nfv\(container.prefix(6))\(network.prefix(3))"
        let ref = NamespaceRef.named("\(project).\(container)")
        if hostEnd {
            host.links.append(LinkState(name: veth, kind: .veth(peer: VethPeerRef(namespace: ref, name: interface)),
                                        mac: mac("02:4e:46:00:00:01"), master: bridge, alias: mark, isolated: isolated))
        }
        var ns = namespace(project, container)
        if innerEnd {
            ns.links.append(LinkState(name: interface, kind: .veth(peer: VethPeerRef(namespace: .host, name: veth)), mac: mac(m), alias: mark))
            for a in addresses {
                let parts = a.split(separator: "/")
                ns.addresses.append(AddressState(link: interface, address: ip(String(parts[0])), prefixLength: Int(parts[1])!))
            }
        }
        put(ns)
    }

    /// The namespace netform created for a container (`lo` marked `ctr/CONTAINER`).
    func namespace(_ project: String, _ container: String) -> NamespaceState {
        let ref = NamespaceRef.named("\(project).\(container)")
        if let existing = namespaces.first(where: { $0.ref == ref }) { return existing }
        let owner = OwnerMark.container(project, container)
        return NamespaceState(ref: ref, owner: owner, links: [LinkState(name: "lo", kind: .loopback, mtu: 65536, alias: owner.alias)])
    }

    mutating func put(_ ns: NamespaceState) {
        namespaces.removeAll { $0.ref == ns.ref }
        namespaces.append(ns)
    }

    /// Docker's seed after `netform apply Examples/seed.yaml`, plus a foreign bridge.
    static var seed: InventoryScene {
        var s = InventoryScene()
        s.bridge("seed", "bridge", device: "docker0", ["172.17.0.1/16"])
        s.bridge("seed", "aislada", device: "nf-6623926fcb7c", ["172.18.0.1/16"])
        s.container("seed", "container1", network: "bridge", bridge: "docker0", mac: "02:42:ac:11:00:02", ["172.17.0.2/16"])
        s.container("seed", "container2", network: "bridge", bridge: "docker0", mac: "02:42:ac:11:00:03", ["172.17.0.3/16"])
        s.container("seed", "container3", network: "aislada", bridge: "nf-6623926fcb7c", mac: "02:42:ac:12:00:02", ["172.18.0.2/16"])
        s.put(s.namespace("seed", "loner"))
        s.host.links.append(LinkState(name: "br-foreign", kind: .bridge, alias: "someone else's"))
        s.host.addresses.append(AddressState(link: "br-foreign", address: ip("10.254.0.1"), prefixLength: 24))
        return s
    }
}

private func loadSpec(_ text: String) throws -> Spec {
    let loaded = SpecLoader.load(bytes: Array(text.utf8), file: "lab.yaml")
    #expect(!loaded.hasErrors, "\(loaded.rendered())")
    return try #require(loaded.spec)
}

private func record(_ records: [NetworkRecord], _ name: String) throws -> NetworkRecord {
    try #require(records.first { $0.name == name }, "no network \(name) in \(records.map(\.name))")
}

// MARK: - Tests

@Suite("network inventory (pure)")
struct NetworkInventoryTests {
    @Test("the seed's bridge network prints exactly Docker's document")
    func seedBridgeDocument() throws {
        let records = NetworkInventory.records(of: InventoryScene.seed.state)
        let bridge = try record(records, "bridge")
        let c1 = NetworkInventory.containerID(project: "seed", container: "container1")
        let c2 = NetworkInventory.containerID(project: "seed", container: "container2")
        let e1 = NetworkInventory.endpointID(project: "seed", container: "container1", network: "bridge")
        let e2 = NetworkInventory.endpointID(project: "seed", container: "container2", network: "bridge")
        let entry1 = """
                    "\(c1)": {
                        "Name": "container1",
                        "EndpointID": "\(e1)",
                        "MacAddress": "02:42:ac:11:00:02",
                        "IPv4Address": "172.17.0.2/16",
                        "IPv6Address": ""
                    }
        """
        let entry2 = """
                    "\(c2)": {
                        "Name": "container2",
                        "EndpointID": "\(e2)",
                        "MacAddress": "02:42:ac:11:00:03",
                        "IPv4Address": "172.17.0.3/16",
                        "IPv6Address": ""
                    }
        """
        let expected = """
        [
            {
                "Name": "bridge",
                "Id": "\(NetworkInventory.networkID(project: "seed", network: "bridge"))",
                "Scope": "local",
                "Driver": "bridge",
                "EnableIPv6": false,
                "IPAM": {
                    "Driver": "default",
                    "Options": null,
                    "Config": [
                        {
                            "Subnet": "172.17.0.0/16",
                            "Gateway": "172.17.0.1"
                        }
                    ]
                },
                "Internal": false,
                "Attachable": false,
                "Ingress": false,
                "ConfigFrom": {
                    "Network": ""
                },
                "ConfigOnly": false,
                "Containers": {
        \(c1 < c2 ? entry1 + ",\n" + entry2 : entry2 + ",\n" + entry1)
                },
                "Options": {
                    "com.docker.network.bridge.default_bridge": "true",
                    "com.docker.network.bridge.enable_icc": "true",
                    "com.docker.network.bridge.enable_ip_masquerade": "true",
                    "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                    "com.docker.network.bridge.name": "docker0",
                    "com.docker.network.driver.mtu": "1500"
                },
                "Labels": {}
            }
        ]
        """
        #expect(OrderedJSON.array([bridge.document]).pretty() == expected)
    }

    @Test("ls --filter: Docker's keys; values of one key are alternatives, keys all match")
    func filters() throws {
        let records = NetworkInventory.records(of: InventoryScene.seed.state)
        func names(_ f: [String]) throws -> [String] { try NetworkInventory.filter(records, f).map(\.name) }
        #expect(try names([]) == ["aislada", "bridge", "host", "none"])
        #expect(try names(["name=isla"]) == ["aislada"])
        #expect(try names(["name=bridge", "name=none"]) == ["bridge", "none"])
        #expect(try names(["driver=bridge"]) == ["aislada", "bridge"])
        #expect(try names(["driver=bridge", "name=br"]) == ["bridge"])
        #expect(try names(["type=builtin"]) == ["host", "none"])
        #expect(try names(["type=custom"]) == ["aislada", "bridge"])
        let bridgeID = try record(records, "bridge").id
        #expect(try names(["id=\(bridgeID.prefix(6))"]) == ["bridge"])
        #expect(try names(["label=nope"]).isEmpty)
        #expect(throws: NetworkInventory.FilterError.self) { try names(["colour=red"]) }
        #expect(throws: NetworkInventory.FilterError.self) { try names(["type=other"]) }
        #expect(try NetworkInventory.filter(records, []).map(\.name).count == 4)
    }

    @Test("ls lists the project's networks, host and none, sorted by name; foreign bridges are left out")
    func listing() throws {
        let records = NetworkInventory.records(of: InventoryScene.seed.state)
        #expect(records.map(\.name) == ["aislada", "bridge", "host", "none"])
        #expect(records.map(\.driver) == ["bridge", "bridge", "host", "null"])
        #expect(records.allSatisfy { $0.scope == "local" })
        let aislada = try record(records, "aislada")
        #expect(aislada.options["com.docker.network.bridge.default_bridge"] == nil, "only the network named bridge is the default")
        #expect(aislada.options["com.docker.network.bridge.name"] == "nf-6623926fcb7c")
        #expect(aislada.containers.map(\.name) == ["container3"])
        #expect(aislada.containers.first?.ipv4Address == "172.18.0.2/16")
        let none = try record(records, "none")
        #expect(none.containers.map(\.name) == ["loner"], "a created namespace with no endpoint is on none")
        #expect(none.containers.first?.macAddress == "" && none.containers.first?.ipv4Address == "")
        #expect(try record(records, "host").containers.isEmpty)
        #expect(records.allSatisfy { $0.id.count == 64 })
    }

    @Test("the ls table is laid out as Docker's tabwriter does it")
    func table() throws {
        let records = NetworkInventory.records(of: InventoryScene.seed.state)
        let id = { (n: String) in try record(records, n).shortID }
        let expected = """
        NETWORK ID     NAME      DRIVER    SCOPE
        \(try id("aislada"))   aislada   bridge    local
        \(try id("bridge"))   bridge    bridge    local
        \(try id("host"))   host      host      local
        \(try id("none"))   none      null      local

        """
        #expect(NetworkInventory.table(records) == expected)
        let long = NetworkInventory.table(records, noTrunc: true)
        #expect(long.hasPrefix("NETWORK ID" + String(repeating: " ", count: 57) + "NAME"))
    }

    @Test("ls --format json prints Docker's keys, all strings")
    func listJSON() throws {
        let r = try record(NetworkInventory.records(of: InventoryScene.seed.state), "bridge")
        #expect(r.listDocument().compact
                == #"{"Driver":"bridge","ID":"\#(r.shortID)","IPv6":"false","Internal":"false","Labels":"","Name":"bridge","Scope":"local"}"#)
        #expect(r.listDocument(noTrunc: true).compact.contains(#""ID":"\#(r.id)""#))
    }

    @Test("enable_icc is false when the bridge's ports are isolated")
    func isolatedPorts() throws {
        var s = InventoryScene()
        s.bridge("lab", "quiet", device: "nf-quiet", ["10.1.0.1/24"])
        s.container("lab", "a", network: "quiet", bridge: "nf-quiet", mac: "02:42:0a:01:00:02", ["10.1.0.2/24"], isolated: true)
        s.container("lab", "b", network: "quiet", bridge: "nf-quiet", mac: "02:42:0a:01:00:03", ["10.1.0.3/24"], isolated: true)
        s.bridge("lab", "loud", device: "nf-loud", ["10.2.0.1/24"])
        s.container("lab", "c", network: "loud", bridge: "nf-loud", mac: "02:42:0a:02:00:02", ["10.2.0.2/24"])
        s.bridge("lab", "empty", device: "nf-empty", ["10.3.0.1/24"])
        let records = NetworkInventory.records(of: s.state)
        #expect(try record(records, "quiet").options["com.docker.network.bridge.enable_icc"] == "false")
        #expect(try record(records, "loud").options["com.docker.network.bridge.enable_icc"] == "true")
        #expect(try record(records, "empty").options["com.docker.network.bridge.enable_icc"] == "true", "no ports: the default")

        // With no ports, the spec's icc decides.
        let spec = try loadSpec("""
        version: 1
        project: lab
        networks:
          empty: {bridge: nf-empty, subnets: [{subnet: 10.3.0.0/24}], icc: false}
        containers: {}
        """)
        let withSpec = NetworkInventory.records(of: s.state, spec: spec)
        #expect(try record(withSpec, "empty").options["com.docker.network.bridge.enable_icc"] == "false")
    }

    @Test("dual stack: IPv6 gateway on the bridge enables IPv6; v4 config first; container IPv6Address")
    func dualStack() throws {
        var s = InventoryScene()
        s.bridge("lab", "app", device: "nf-app", mtu: 1400, ["fd00:40::1/64", "10.40.0.1/24"])
        s.container("lab", "web", network: "app", bridge: "nf-app", mac: "02:42:0a:28:00:02", ["fd00:40::2/64", "10.40.0.2/24"])
        let app = try record(NetworkInventory.records(of: s.state), "app")
        #expect(app.enableIPv6)
        #expect(app.ipam == [
            NetworkRecord.IPAMConfig(subnet: "10.40.0.0/24", gateway: "10.40.0.1"),
            NetworkRecord.IPAMConfig(subnet: "fd00:40::/64", gateway: "fd00:40::1"),
        ])
        #expect(app.containers.first?.ipv4Address == "10.40.0.2/24")
        #expect(app.containers.first?.ipv6Address == "fd00:40::2/64")
        #expect(app.options["com.docker.network.driver.mtu"] == "1400")
    }

    @Test("a bridge with a VXLAN port of the same mark is an overlay, scope global")
    func overlay() throws {
        var s = InventoryScene()
        s.bridge("lab", "backend", device: "nf-backend", mtu: 1450, ["10.10.0.1/24"])
        s.host.links.append(LinkState(name: "nfx0123", kind: .vxlan(VXLANSettings(vni: 4100)), mtu: 1450, master: "nf-backend",
                                      alias: OwnerMark.network("lab", "backend").alias))
        s.container("lab", "web", network: "backend", bridge: "nf-backend", mac: "02:42:0a:0a:00:02", ["10.10.0.2/24"])
        let records = NetworkInventory.records(of: s.state)
        let backend = try record(records, "backend")
        #expect(backend.driver == "overlay" && backend.scope == "global")
        #expect(backend.options == [
            "com.docker.network.bridge.enable_icc": "true",
            "com.docker.network.bridge.name": "nf-backend",
            "com.docker.network.driver.mtu": "1450",
            "com.docker.network.driver.overlay.vxlanid_list": "4100",
        ])
        #expect(backend.containers.map(\.name) == ["web"])
        #expect(records.count == 3, "the VXLAN device is not a network of its own")
    }

    @Test("names several projects share show as PROJECT/NAME; lookup by name, PROJECT/NAME, id and prefix")
    func clashesAndLookup() throws {
        var s = InventoryScene()
        s.bridge("alpha", "bridge", device: "br-alpha", ["10.1.0.1/24"])
        s.bridge("beta", "bridge", device: "br-beta", ["10.2.0.1/24"])
        s.bridge("beta", "only", device: "br-only", ["10.3.0.1/24"])
        let records = NetworkInventory.records(of: s.state)
        #expect(records.map(\.name) == ["alpha/bridge", "beta/bridge", "host", "none", "only"])

        func found(_ q: String, preferring p: String? = nil) -> String? {
            try? NetworkInventory.lookup(q, in: records, preferring: p).get().name
        }
        #expect(found("alpha/bridge") == "alpha/bridge")
        #expect(found("beta/only") == "only")
        #expect(found("only") == "only")
        #expect(found("none") == "none")
        #expect(found("bridge", preferring: "beta") == "beta/bridge")
        #expect(NetworkInventory.lookup("bridge", in: records) == .failure(.ambiguous("bridge", ["alpha/bridge", "beta/bridge"])))
        #expect(NetworkInventory.lookup("nope", in: records) == .failure(.notFound("nope")))
        let alpha = try record(records, "alpha/bridge")
        #expect(found(alpha.id) == "alpha/bridge")
        #expect(found(String(alpha.id.prefix(12))) == "alpha/bridge")
        #expect(NetworkInventory.lookup("nope", in: records).failureDescription == "No such network: nope")

        // One project only: no clash, bare names.
        let beta = NetworkInventory.records(of: s.state, project: "beta")
        #expect(beta.map(\.name) == ["bridge", "host", "none", "only"])
        #expect(try record(beta, "bridge").project == "beta")
    }

    @Test("the spec supplies Internal, masquerade, host binding, labels, IP range and aux addresses")
    func specFields() throws {
        var s = InventoryScene()
        s.bridge("lab", "front", device: "nf-front", ["10.40.0.1/24"])
        s.container("lab", "c1", network: "front", bridge: "nf-front", mac: "02:42:0a:28:00:80", ["10.40.0.128/24"])
        s.bridge("other", "front2", device: "nf-front2", ["10.41.0.1/24"])
        let spec = try loadSpec("""
        version: 1
        project: lab
        networks:
          front:
            bridge: nf-front
            subnets: [{subnet: 10.40.0.0/24, ip_range: 10.40.0.128/25, aux_addresses: {router: 10.40.0.254}}]
            masquerade: false
            host_binding_ipv4: 127.0.0.1
            labels: {com.example.team: blue, a: "1"}
          db: {internal: true, subnets: [{subnet: 10.50.0.0/24}]}
        containers:
          c1: {networks: [front]}
        """)
        let records = NetworkInventory.records(of: s.state, spec: spec)
        let front = try record(records, "front")
        #expect(front.options["com.docker.network.bridge.enable_ip_masquerade"] == "false")
        #expect(front.options["com.docker.network.bridge.host_binding_ipv4"] == "127.0.0.1")
        #expect(front.labels == ["com.example.team": "blue", "a": "1"])
        #expect(front.ipam == [NetworkRecord.IPAMConfig(subnet: "10.40.0.0/24", ipRange: "10.40.0.128/25", gateway: "10.40.0.1",
                                                        auxiliaryAddresses: ["router": "10.40.0.254"])])
        #expect(front.listDocument().compact.contains(#""Labels":"a=1,com.example.team=blue""#))
        let doc = front.document.pretty()
        #expect(doc.contains("""
                        "Subnet": "10.40.0.0/24",
                        "IPRange": "10.40.0.128/25",
                        "Gateway": "10.40.0.1",
                        "AuxiliaryAddresses": {
                            "router": "10.40.0.254"
                        }
        """))
        #expect(doc.contains(#""Labels": {"# + "\n" + #"        "a": "1","#))
        #expect(records.first { $0.network == "db" } == nil, "a spec network that is not live is not listed")
        // Another project's network takes the defaults, not this spec's values.
        let other = try record(records, "front2")
        #expect(other.options["com.docker.network.bridge.enable_ip_masquerade"] == "true")
        #expect(other.labels.isEmpty && !other.isInternal)

        // Internal comes from the spec too.
        s.bridge("lab", "db", device: "nf-db", ["10.50.0.1/24"])
        #expect(try record(NetworkInventory.records(of: s.state, spec: spec), "db").isInternal)
        #expect(try !record(NetworkInventory.records(of: s.state), "db").isInternal)
    }

    @Test("macvlan networks: from container links without a spec, from the spec even without containers")
    func macvlan() throws {
        var s = InventoryScene()
        var ns = s.namespace("lab", "m1")
        let mark = OwnerMark.endpoint("lab", container: "m1", network: "lan").alias
        ns.links.append(LinkState(name: "eth0", kind: .macvlan(parent: "eth9", mode: "bridge"), mac: mac("02:42:c0:a8:32:02"), alias: mark))
        ns.addresses.append(AddressState(link: "eth0", address: ip("192.168.50.2"), prefixLength: 24))
        ns.routes.append(RouteState(destination: nil, family: .v4, gateway: ip("192.168.50.1"), device: "eth0"))
        s.put(ns)
        let lan = try record(NetworkInventory.records(of: s.state), "lan")
        #expect(lan.driver == "macvlan" && lan.scope == "local")
        #expect(lan.ipam == [NetworkRecord.IPAMConfig(subnet: "192.168.50.0/24", gateway: "192.168.50.1")])
        #expect(lan.options == ["parent": "eth9", "macvlan_mode": "bridge"])
        #expect(lan.containers.map(\.macAddress) == ["02:42:c0:a8:32:02"])
        #expect(lan.containers.map(\.ipv4Address) == ["192.168.50.2/24"])
        #expect(try record(NetworkInventory.records(of: s.state), "none").containers.isEmpty, "m1 has an endpoint")

        let spec = try loadSpec("""
        version: 1
        project: lab
        networks:
          lan: {driver: macvlan, parent: eth0, mode: vepa, subnets: [{subnet: 192.168.50.0/24, gateway: 192.168.50.254}]}
          lan2: {driver: macvlan, parent: eth1, subnets: [{subnet: 192.168.60.0/24}], labels: {x: y}}
        containers:
          m1: {networks: [lan]}
        """)
        let records = NetworkInventory.records(of: s.state, spec: spec)
        let lanSpec = try record(records, "lan")
        #expect(lanSpec.options == ["parent": "eth0", "macvlan_mode": "vepa"], "the spec's declaration wins")
        #expect(lanSpec.ipam == [NetworkRecord.IPAMConfig(subnet: "192.168.50.0/24", gateway: "192.168.50.254")])
        let lan2 = try record(records, "lan2")
        #expect(lan2.containers.isEmpty && lan2.labels == ["x": "y"] && lan2.options["parent"] == "eth1")
    }

    @Test("host and none containers with a spec; placement on other hosts is respected")
    func builtInContainers() throws {
        var s = InventoryScene.seed
        // container1's namespace lost its endpoint (drift): without a spec it looks like none.
        s.namespaces.removeAll { $0.ref == .named("seed.container1") }
        s.put(s.namespace("seed", "container1"))
        s.host.links.removeAll { $0.owner?.path == "ep/container1/bridge" }
        #expect(try Set(record(NetworkInventory.records(of: s.state), "none").containers.map(\.name)) == ["loner", "container1"])

        let spec = try loadSpec("""
        version: 1
        project: seed
        networks:
          bridge: {bridge: docker0, subnets: [{subnet: 172.17.0.0/16}]}
        containers:
          container1: {}
          loner: {networks: [none]}
          hostnet: {networks: [host]}
          away: {host: node9, networks: [host]}
        """)
        let records = NetworkInventory.records(of: s.state, spec: spec, localHost: "node1")
        #expect(try record(records, "none").containers.map(\.name) == ["loner"], "the spec says container1 is on bridge")
        let hostNet = try record(records, "host")
        #expect(hostNet.containers.map(\.name) == ["hostnet"])
        #expect(hostNet.containers.first?.endpointID == NetworkInventory.endpointID(project: "seed", container: "hostnet", network: "host"))
        #expect(try record(NetworkInventory.records(of: s.state, spec: spec, localHost: "node9"), "host").containers.count == 2)
    }

    @Test("an endpoint whose container end is missing is listed with empty fields")
    func missingInnerEnd() throws {
        var s = InventoryScene()
        s.bridge("lab", "n", device: "nf-n", ["10.9.0.1/24"])
        s.container("lab", "gone", network: "n", bridge: "nf-n", mac: "02:42:0a:09:00:02", ["10.9.0.2/24"], innerEnd: false)
        let n = try record(NetworkInventory.records(of: s.state), "n")
        #expect(n.containers.map(\.name) == ["gone"])
        #expect(n.containers.first?.macAddress == "" && n.containers.first?.ipv4Address == "")
    }

    @Test("ids are 64 hex digits, stable, and differ between names and projects")
    func ids() {
        let a = NetworkInventory.networkID(project: "seed", network: "bridge")
        #expect(a == NetworkInventory.networkID(project: "seed", network: "bridge"))
        #expect(a.count == 64 && a.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        let others = [NetworkInventory.networkID(project: "seed", network: "bridgf"),
                      NetworkInventory.networkID(project: "seee", network: "bridge"),
                      NetworkInventory.networkID(project: nil, network: "bridge"),
                      NetworkInventory.containerID(project: "seed", container: "bridge")]
        for o in others { #expect(o.prefix(12) != a.prefix(12)) }
        #expect(NetworkInventory.hexID("") != NetworkInventory.hexID("a"))
    }

    @Test("the ordered JSON writer keeps key order and escapes strings")
    func orderedJSON() {
        let v = OrderedJSON.object([.init("z", .int(1)), .init("a", .array([])), .init("m", .object([])),
                                    .init("s", .string("q\"b\\s/\n\u{1}é")), .init("n", .null), .init("b", .bool(true))])
        #expect(v.compact == #"{"z":1,"a":[],"m":{},"s":"q\"b\\s/\n\u0001é","n":null,"b":true}"#)
        #expect(OrderedJSON.array([.int(1), .object([.init("k", .array([.bool(false)]))])]).pretty() == """
        [
            1,
            {
                "k": [
                    false
                ]
            }
        ]
        """)
        #expect(OrderedJSON.array([]).pretty() == "[]")
    }
}

extension Result where Failure: CustomStringConvertible {
    fileprivate var failureDescription: String? {
        if case .failure(let e) = self { return e.description }
        return nil
    }
}
