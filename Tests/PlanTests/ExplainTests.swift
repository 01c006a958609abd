import Addressing
import Compile
import Explain
import Model
import Plan
import Spec
import Testing

/// An explainer for `text` on the host `truth` after applying it (the live table).
func explainer(_ text: String, on truth: HostState = pristineHost(), applied: Bool = true) throws -> Explainer {
    let s = try spec(text)
    var state = truth
    if applied { state = try converge(text, from: truth).1 }
    let observed = asObserved(state)
    let compiled = try Compiler.compile(s, observed: observed)
    return Explainer(spec: s, compiled: compiled, observed: observed)
}

func ask(_ e: Explainer, _ from: String, _ to: String, _ port: Int? = nil, _ proto: TransportProtocol = .tcp) throws -> ReachabilityAnswer {
    try e.explain(ReachabilityQuestion(from: Party(from), to: Party(to), port: port, proto: proto))
}

@Suite struct Explaining {
    @Test func theSeedDocumentsIsolationAndWhatDecidesIt() throws {
        let e = try explainer(seedSpec)
        let c1c2 = try ask(e, "container1", "container2")
        #expect(c1c2.reachable && c1c2.path == "bridged on bridge (docker0), 172.17.0.2 → 172.17.0.3")
        #expect(c1c2.reason == "accepted by inet netform_seed chain project: within network bridge (icc on)")
        let c1c3 = try ask(e, "container1", "container3")
        #expect(!c1c3.reachable)
        #expect(c1c3.reason == "dropped by inet netform_seed chain project: between the project's networks")
        #expect(c1c3.path.hasPrefix("routed from bridge (docker0) to aislada (nf-"))
        #expect(try !ask(e, "container3", "container1", 80).reachable)
        // The matrix: every ordered pair once.
        let m = try e.matrix()
        #expect(m.count == 6)
        #expect(m.filter(\.reachable).map { "\($0.question.from)->\($0.question.to)" } == ["container1->container2", "container2->container1"])
        #expect(try ask(e, "container1", "host").reachable && ask(e, "host", "container3").reachable)
        #expect(try ask(e, "container3", "outside").reachable, "masquerade to the outside")
    }

    @Test func rulesPortsDirectionAndInternal() throws {
        let e = try explainer(seedWithRules)
        let open = try ask(e, "container1", "container3", 80)
        #expect(open.reachable && open.reason == "accepted by inet netform_seed chain project: rule 1: allow container1 -> container3 ports 80/tcp")
        #expect(try !ask(e, "container1", "container3", 81).reachable)
        #expect(try !ask(e, "container1", "container3", 80, .udp).reachable)
        #expect(try !ask(e, "container3", "container1", 80).reachable, "one way")
        #expect(try !ask(e, "container1", "container3").reachable, "icmp is not port 80")

        let internalSpec = """
        version: 1
        project: lab
        networks:
          app: {subnets: [{subnet: 10.0.0.0/24}]}
          db: {internal: true, subnets: [{subnet: 10.0.1.0/24}]}
        containers:
          web: {networks: [app], ports: ["8080:80"]}
          store: {networks: [db]}
          both: {networks: [app, db]}
        """
        let i = try explainer(internalSpec)
        #expect(try ask(i, "store", "outside").reason == "store has no route out: it is on internal networks only (or on none)")
        #expect(try !ask(i, "web", "store").reachable)
        #expect(try ask(i, "both", "store").reachable, "on the internal network itself")
        #expect(try ask(i, "outside", "web", 80).reachable, "published")
        #expect(try ask(i, "outside", "web", 80).path.hasPrefix("published port 8080:80/tcp: DNAT to 10.0.0.2:80"))
        #expect(try !ask(i, "outside", "web", 22).reachable)
        #expect(throws: ExplainError.self) { try ask(i, "nobody", "web") }
    }

    @Test func iccOffAndDenyWithinANetwork() throws {
        let text = """
        version: 1
        project: lab
        networks:
          quiet: {icc: false, subnets: [{subnet: 10.0.0.0/24}]}
          open: {subnets: [{subnet: 10.0.1.0/24}]}
        containers:
          a: {networks: [quiet]}
          b: {networks: [quiet]}
          c: {networks: [open]}
          d: {networks: [open]}
        rules:
          - deny: {from: c, to: d}
        """
        let e = try explainer(text)
        #expect(try ask(e, "a", "b").reason == "icc: false on network quiet: its bridge ports are isolated")
        #expect(try ask(e, "c", "d").reason == "dropped by inet netform_lab chain project: rule 1: deny c -> d")
        #expect(try ask(e, "d", "c").reachable)
    }

    @Test func aForeignDropAndForwardingOffAreNamed() throws {
        var host = pristineHost()
        host[.host]!.firewall.append(FirewallTable(family: "ip", name: "filter", chains: [
            .init(name: "FORWARD", base: .init(type: "filter", hook: "forward", priority: 0, policy: "drop"), rules: []),
        ]))
        let e = try explainer(seedSpec, on: host)
        let a = try ask(e, "container1", "container2")
        #expect(!a.reachable && a.reason == "dropped by ip filter chain FORWARD: policy drop", "\(a.reason)")

        var off = try converge(seedSpec, from: pristineHost()).1
        off[.host]!.sysctls[HostSysctl.ipv4Forwarding] = "0"
        let s = try spec(seedSpec)
        let compiled = try Compiler.compile(s, observed: asObserved(off))
        let x = Explainer(spec: s, compiled: compiled, observed: asObserved(off))
        #expect(try x.explain(ReachabilityQuestion(from: .container("container3"), to: .outside)).reason
                == "IP forwarding is off (net.ipv4.ip_forward=0); apply sets it")
        #expect(try x.explain(ReachabilityQuestion(from: .container("container1"), to: .container("container2"))).reachable,
                "bridged traffic does not need forwarding")
    }

    @Test func beforeApplyTheSpecsTableIsUsedAndSaidSo() throws {
        let e = try explainer(seedSpec, applied: false)
        #expect(e.tableFromSpec)
        #expect(try ask(e, "container1", "container3").reason.hasSuffix("(the spec's table: not applied yet)"))
    }
}

/// The evaluator on its own: sets, prefixes, ranges, groups, negation, jumps.
@Suite struct PacketFiltering {
    let packet = ForwardedPacket(family: .v4, iifname: "br0", oifname: "br1", iifgroup: 0x4e46_1234, oifgroup: 7,
                                 saddr: IPAddress("10.0.0.5")!, daddr: IPAddress("10.1.0.9")!, l4proto: "tcp", dport: 8005)
    func table(_ rules: [FirewallTable.Rule], policy: String = "accept") -> FirewallTable {
        FirewallTable(family: "inet", name: "t", chains: [
            .init(name: "f", base: .init(type: "filter", hook: "forward", priority: 0, policy: policy), rules: [
                .init(expr: [["jump": ["target": "sub"]]], comment: "to sub"),
            ]),
            .init(name: "sub", base: nil, rules: rules),
        ])
    }
    func m(_ left: JSONValue, _ op: String, _ right: JSONValue) -> JSONValue { ["match": ["left": left, "op": .string(op), "right": right]] }
    func m(_ left: JSONValue, _ right: JSONValue) -> JSONValue { m(left, "==", right) }

    @Test func matchesWhatNetformWrites() {
        let iif: JSONValue = ["meta": ["key": "iifname"]]
        let saddr: JSONValue = ["payload": ["protocol": "ip", "field": "saddr"]]
        let dport: JSONValue = ["payload": ["protocol": "tcp", "field": "dport"]]
        let group: JSONValue = ["meta": ["key": "iifgroup"]]
        let cases: [(JSONValue, Bool)] = [
            (m(iif, ["set": ["br1", "br0"]]), true),
            (m(iif, "!=", "br0"), false),
            (m(saddr, ["prefix": ["addr": "10.0.0.0", "len": 24]]), true),
            (m(saddr, ["prefix": ["addr": "10.0.1.0", "len": 24]]), false),
            (m(dport, ["range": [8000, 8010]]), true),
            (m(dport, ["set": [80, 443]]), false),
            (m(group, ["prefix": ["addr": 1313210368, "len": 16]]), true),
            (m(["payload": ["protocol": "udp", "field": "dport"]], 8005), false),
            (m(["payload": ["protocol": "ip6", "field": "saddr"]], "!=", "::1"), true),
            (m(["ct": ["key": "state"]], "in", ["established", "related"]), false),
        ]
        for (match, hit) in cases {
            let d = PacketFilter.forward(packet, tables: [table([.init(expr: [match, ["drop": nil]], comment: "x")])])
            #expect(d.accepted == !hit, "\(match)")
            #expect(!d.uncertain)
        }
        // Falling off a regular chain returns to the base chain, whose policy decides.
        let d = PacketFilter.forward(packet, tables: [table([], policy: "drop")])
        #expect(d == FilterDecision(accepted: false, table: "inet t", chain: "f", rule: "policy drop", uncertain: false))
        // An expression the evaluator does not know makes the answer uncertain.
        let u = PacketFilter.forward(packet, tables: [table([.init(expr: [["xt": ["type": "match", "name": "addrtype"]], ["drop": nil]], comment: "")])])
        #expect(u.uncertain)
    }
}
