import Addressing
import Compile
import Firewall
import Model
import Spec
import Testing

/// The rules of a chain as (comment, canonical expr text).
func rules(_ r: FirewallTable, _ chain: String) -> [FirewallTable.Rule] { r.chain(chain)?.rules ?? [] }
func exprText(_ rule: FirewallTable.Rule) -> String { JSONValue.array(rule.expr).rendered }

@Suite struct SeedRuleset {
    @Test func layoutAndDefaults() throws {
        let r = try ruleset("Examples/seed.yaml")
        #expect(r.name == "netform_seed")
        #expect(r.family == "inet")
        #expect(r.chains.map(\.name) == ["forward", "project", "prerouting", "output", "published", "postrouting"])
        #expect(r.chain("forward")?.base == .init(type: "filter", hook: "forward", priority: 0, policy: "accept"))
        #expect(r.chain("project")?.base == nil)
        #expect(r.chain("prerouting")?.base == .init(type: "nat", hook: "prerouting", priority: -100, policy: "accept"))
        #expect(r.chain("output")?.base == .init(type: "nat", hook: "output", priority: -100, policy: "accept"))
        #expect(r.chain("postrouting")?.base == .init(type: "nat", hook: "postrouting", priority: 100, policy: "accept"))

        let aislada = try loadSpec("Examples/seed.yaml").network(named: "aislada")!.device
        let bridges = #"{"set":["docker0","\#(aislada)"]}"#
        // Only the project's bridges are looked at.
        #expect(rules(r, "forward").map(exprText) == [
            #"[{"match":{"left":{"meta":{"key":"iifname"}},"op":"==","right":\#(bridges)}},{"jump":{"target":"project"}}]"#,
            #"[{"match":{"left":{"meta":{"key":"oifname"}},"op":"==","right":\#(bridges)}},{"jump":{"target":"project"}}]"#,
        ])
        // No rules: established first, then the network defaults, then accept.
        #expect(rules(r, "project").map(exprText) == [
            #"[{"match":{"left":{"ct":{"key":"state"}},"op":"in","right":["established","related"]}},{"accept":null}]"#,
            #"[{"match":{"left":{"ct":{"key":"status"}},"op":"in","right":"dnat"}},{"accept":null}]"#,
            #"[{"match":{"left":{"meta":{"key":"iifname"}},"op":"==","right":"docker0"}},{"match":{"left":{"meta":{"key":"oifname"}},"op":"==","right":"docker0"}},{"accept":null}]"#,
            #"[{"match":{"left":{"meta":{"key":"iifname"}},"op":"==","right":"\#(aislada)"}},{"match":{"left":{"meta":{"key":"oifname"}},"op":"==","right":"\#(aislada)"}},{"accept":null}]"#,
            #"[{"match":{"left":{"meta":{"key":"iifname"}},"op":"==","right":\#(bridges)}},{"match":{"left":{"meta":{"key":"oifname"}},"op":"==","right":\#(bridges)}},{"drop":null}]"#,
            #"[{"match":{"left":{"meta":{"key":"iifname"}},"op":"==","right":\#(bridges)}},{"match":{"left":{"meta":{"key":"oifgroup"}},"op":"==","right":{"prefix":{"addr":1313210368,"len":16}}}},{"drop":null}]"#,
            #"[{"match":{"left":{"meta":{"key":"oifname"}},"op":"==","right":\#(bridges)}},{"match":{"left":{"meta":{"key":"iifgroup"}},"op":"==","right":{"prefix":{"addr":1313210368,"len":16}}}},{"drop":null}]"#,
            #"[{"accept":null}]"#,
        ])
        #expect(rules(r, "project").last?.comment == "to and from the outside")
        // Masquerade per network, not out of its own bridge.
        #expect(rules(r, "postrouting").map(exprText) == [
            #"[{"match":{"left":{"payload":{"field":"saddr","protocol":"ip"}},"op":"==","right":{"prefix":{"addr":"172.17.0.0","len":16}}}},{"match":{"left":{"meta":{"key":"oifname"}},"op":"!=","right":"docker0"}},{"masquerade":null}]"#,
            #"[{"match":{"left":{"payload":{"field":"saddr","protocol":"ip"}},"op":"==","right":{"prefix":{"addr":"172.18.0.0","len":16}}}},{"match":{"left":{"meta":{"key":"oifname"}},"op":"!=","right":"\#(aislada)"}},{"masquerade":null}]"#,
        ])
        #expect(rules(r, "published").isEmpty)
        #expect(try compiledFirewall("Examples/seed.yaml").notes.isEmpty)
    }

    @Test func batchReplacesTheTableAtomicallyAndIsDeterministic() throws {
        let a = try ruleset("Examples/seed.yaml")
        let b = try ruleset("Examples/seed.yaml")
        #expect(a.canonicalJSON == b.canonicalJSON)
        let commands = a.batch["nftables"]?.arrayValue ?? []
        let table: JSONValue = ["table": ["family": "inet", "name": "netform_seed"]]
        #expect(Array(commands.prefix(3)) == [["add": table], ["delete": table], ["add": table]])
        // Then every chain, then every rule.
        let kinds = commands.dropFirst(3).map { $0["add"]?["chain"] != nil ? "chain" : $0["add"]?["rule"] != nil ? "rule" : "?" }
        #expect(kinds == Array(repeating: "chain", count: 6) + Array(repeating: "rule", count: a.chains.reduce(0) { $0 + $1.rules.count }))
        #expect(a.canonicalJSON.hasPrefix(#"{"nftables":[{"add":{"table":{"family":"inet","name":"netform_seed"}}},{"delete":"#))
        #expect(!a.canonicalJSON.contains(" :") && !a.canonicalJSON.contains("\n"))
    }
}

@Suite struct MultiNetworkRuleset {
    let r: FirewallTable
    let spec: Spec
    init() throws {
        r = try ruleset("Examples/multi-network.yaml")
        spec = try loadSpec("Examples/multi-network.yaml")
    }
    func device(_ n: String) -> String { spec.network(named: n)!.device }

    @Test func oneRulePerSpecRuleInOrder() {
        let project = rules(r, "project")
        let ruleComments = project.map(\.comment).filter { $0.hasPrefix("rule ") }
        // IPv4-only containers and ports of one protocol: exactly one nft rule each.
        #expect(ruleComments == [
            "rule 1: allow proxy -> label:tier=web ports 80/tcp,443/tcp",
            "rule 2: deny proxy -> label:tier=web",
            "rule 3: allow label:tier=web -> api ports 8000-8010/tcp",
            "rule 4: deny label:tier=web -> api",
            "rule 5: allow api -> postgres ports 5432/tcp",
            "rule 6: deny any -> network:db",
            "rule 7: allow toolbox -> network:backend protocols icmp,icmpv6",
            "rule 8: deny toolbox -> any",
        ])
        // Rules come right after the established/related accept, before the defaults.
        #expect(project[1].comment.hasPrefix("rule 1:"))
        #expect(project[8].comment.hasPrefix("rule 8:"))
        let webs = #"{"set":["10.1.0.11","10.1.0.12","10.1.1.11","10.1.1.12"]}"#
        #expect(exprText(project[1]) == #"[{"match":{"left":{"payload":{"field":"saddr","protocol":"ip"}},"op":"==","right":"10.1.0.10"}},{"match":{"left":{"payload":{"field":"daddr","protocol":"ip"}},"op":"==","right":\#(webs)}},{"match":{"left":{"payload":{"field":"dport","protocol":"tcp"}},"op":"==","right":{"set":[80,443]}}},{"accept":null}]"#)
        #expect(exprText(project[2]) == #"[{"match":{"left":{"payload":{"field":"saddr","protocol":"ip"}},"op":"==","right":"10.1.0.10"}},{"match":{"left":{"payload":{"field":"daddr","protocol":"ip"}},"op":"==","right":\#(webs)}},{"drop":null}]"#)
        #expect(exprText(project[3]).contains(#"{"match":{"left":{"payload":{"field":"dport","protocol":"tcp"}},"op":"==","right":{"range":[8000,8010]}}},{"accept":null}"#))
        // api has two addresses (backend, db); postgres one.
        #expect(exprText(project[5]) == #"[{"match":{"left":{"payload":{"field":"saddr","protocol":"ip"}},"op":"==","right":{"set":["10.1.1.20","10.1.2.2"]}}},{"match":{"left":{"payload":{"field":"daddr","protocol":"ip"}},"op":"==","right":"10.1.2.3"}},{"match":{"left":{"payload":{"field":"dport","protocol":"tcp"}},"op":"==","right":5432}},{"accept":null}]"#)
        // `any` matches no address; a network is its subnets.
        #expect(exprText(project[6]) == #"[{"match":{"left":{"payload":{"field":"daddr","protocol":"ip"}},"op":"==","right":{"prefix":{"addr":"10.1.2.0","len":24}}}},{"drop":null}]"#)
        // icmpv6 has no IPv4 meaning and nobody here has IPv6.
        #expect(exprText(project[7]).contains(#"{"match":{"left":{"meta":{"key":"l4proto"}},"op":"==","right":"icmp"}},{"accept":null}"#))
    }

    @Test func networkDefaults() {
        let project = rules(r, "project")
        let defaults = Array(project.drop { !$0.comment.hasPrefix("rule 8:") }.dropFirst())
        let db = device("db"), fe = device("frontend"), be = device("backend")
        #expect(defaults.map(\.comment) == [
            "internal network db: nothing leaves it", "internal network db: nothing enters it",
            "published ports (DNAT) are reachable from every network",
            "within network frontend (icc on)", "within network backend (icc on)", "within network db (icc on)",
            "between the project's networks", "to other netform projects' networks", "from other netform projects' networks",
            "to and from the outside",
        ])
        #expect(exprText(defaults[2]) == #"[{"match":{"left":{"ct":{"key":"status"}},"op":"in","right":"dnat"}},{"accept":null}]"#)
        #expect(exprText(defaults[0]) == #"[{"match":{"left":{"meta":{"key":"iifname"}},"op":"==","right":"\#(db)"}},{"match":{"left":{"meta":{"key":"oifname"}},"op":"!=","right":"\#(db)"}},{"drop":null}]"#)
        #expect(exprText(defaults[1]) == #"[{"match":{"left":{"meta":{"key":"oifname"}},"op":"==","right":"\#(db)"}},{"match":{"left":{"meta":{"key":"iifname"}},"op":"!=","right":"\#(db)"}},{"drop":null}]"#)
        let all = JSONValue.array([db, fe, be].sorted().map { .string($0) }).rendered
        #expect(exprText(defaults[6]) == #"[{"match":{"left":{"meta":{"key":"iifname"}},"op":"==","right":{"set":\#(all)}}},{"match":{"left":{"meta":{"key":"oifname"}},"op":"==","right":{"set":\#(all)}}},{"drop":null}]"#)
        // Other projects' bridges, by the netform interface group range 0x4e46xxxx.
        #expect(exprText(defaults[7]) == #"[{"match":{"left":{"meta":{"key":"iifname"}},"op":"==","right":{"set":\#(all)}}},{"match":{"left":{"meta":{"key":"oifgroup"}},"op":"==","right":{"prefix":{"addr":1313210368,"len":16}}}},{"drop":null}]"#)
    }

    @Test func masqueradeSkipsTheInternalNetwork() {
        #expect(rules(r, "postrouting").map(\.comment) == ["masquerade frontend 10.1.0.0/24", "masquerade backend 10.1.1.0/24",
                                                          "hairpin to published ports on frontend 10.1.0.0/24",
                                                          "the host's connections from 127.0.0.1 to published ports on frontend"])
        // route_localnet's guard: only replies reach 127.0.0.0/8 from the bridge.
        #expect(rules(r, "input").map(\.comment) == ["replies to the host's own connections to published ports on 127.0.0.1",
                                                     "nothing else reaches 127.0.0.0/8 from a container"])
        #expect(exprText(rules(r, "postrouting")[0]).contains(#"{"match":{"left":{"meta":{"key":"oifname"}},"op":"!=","right":"\#(device("frontend"))"}},{"masquerade":null}"#))
    }

    @Test func dnatPerPublishedPort() throws {
        let published = rules(r, "published")
        #expect(published.map(exprText) == [
            // "80:8080": the network's host_binding_ipv4 (127.0.0.1)
            #"[{"match":{"left":{"payload":{"field":"daddr","protocol":"ip"}},"op":"==","right":"127.0.0.1"}},{"match":{"left":{"payload":{"field":"dport","protocol":"tcp"}},"op":"==","right":80}},{"dnat":{"addr":"10.1.0.10","family":"ip","port":8080}}]"#,
            // "0.0.0.0:443:8443/tcp": every local IPv4 address
            #"[{"match":{"left":{"meta":{"key":"nfproto"}},"op":"==","right":"ipv4"}},{"match":{"left":{"payload":{"field":"dport","protocol":"tcp"}},"op":"==","right":443}},{"dnat":{"addr":"10.1.0.10","family":"ip","port":8443}}]"#,
        ])
        // "[::1]:8443:8443/tcp": proxy has no IPv6 address, said plainly.
        #expect(try compiledFirewall("Examples/multi-network.yaml").notes == ["published port [::1]:8443:8443/tcp of proxy: the container has no ipv6 address on a non-internal bridge network; not forwarded"])
        for chain in ["prerouting", "output"] {
            #expect(rules(r, chain).map(exprText) == [
                #"[{"match":{"left":{"fib":{"flags":["daddr"],"result":"type"}},"op":"==","right":"local"}},{"jump":{"target":"published"}}]"#,
            ])
        }
    }
}

/// Rule expansion on a small dual-stack spec built in code.
@Suite struct RuleExpansion {
    static let specText = """
    version: 1
    project: dual-x
    networks:
      app:
        subnets: [{subnet: 10.40.0.0/24}, {subnet: "fd00:40::/64"}]
        icc: false
    containers:
      a: {networks: [app], labels: {role: a}}
      b: {networks: [app]}
    rules:
      - allow: {from: a, to: b, ports: [80/tcp, 53/udp, 443/tcp]}
      - deny: {from: "label:role=nobody", to: b}
      - allow: {protocols: [icmp, icmpv6]}
    """

    func compiled() throws -> CompiledFirewall {
        let loaded = SpecLoader.load(bytes: Array(Self.specText.utf8), file: "dual.yaml")
        let spec = try #require(loaded.spec)
        #expect(!loaded.hasErrors, "\(loaded.rendered())")
        let c = try Compiler.compile(spec, observed: HostState())
        return FirewallCompiler.compile(spec, endpoints: c.endpoints)
    }

    @Test func familiesAndProtocolsSplit() throws {
        let c = try compiled()
        let r = try #require(c.table)
        #expect(r.name == "netform_dual_x")
        let project = rules(r, "project").filter { $0.comment.hasPrefix("rule ") }
        // rule 1: (v4, v6) x (tcp, udp); rule 2 matches nobody; rule 3: one rule for both families.
        #expect(project.map(\.comment.first!).count == 5)
        let texts = project.map(exprText)
        #expect(texts[0].contains(#""protocol":"ip""#) && texts[0].contains(#""protocol":"tcp"}},"op":"==","right":{"set":[80,443]}"#))
        #expect(texts[1].contains(#""protocol":"ip""#) && texts[1].contains(#""protocol":"udp"}},"op":"==","right":53}"#))
        #expect(texts[2].contains(#""protocol":"ip6""#) && texts[2].contains(#""right":{"set":[80,443]}"#))
        #expect(texts[3].contains(#""protocol":"ip6""#) && texts[3].contains(#""protocol":"udp""#))
        #expect(texts[4] == #"[{"match":{"left":{"meta":{"key":"l4proto"}},"op":"==","right":{"set":["icmp","ipv6-icmp"]}}},{"accept":null}]"#)
        #expect(c.notes == ["rule 2: deny label:role=nobody -> b: its selectors match no address, so it matches nothing"])
        // icc off: routed traffic back into the same bridge is dropped.
        #expect(rules(r, "project").contains { $0.comment == "within network app (icc off)" && exprText($0).hasSuffix(#"{"drop":null}]"#) })
        // One network: no "between networks" rule; masquerade for both subnets.
        #expect(!rules(r, "project").contains { $0.comment == "between the project's networks" })
        #expect(rules(r, "postrouting").count == 2)
        #expect(exprText(rules(r, "postrouting")[1]).contains(#"{"payload":{"field":"saddr","protocol":"ip6"}},"op":"==","right":{"prefix":{"addr":"fd00:40::","len":64}}"#))
    }
}

@Suite struct JSONText {
    @Test func canonicalRenderingAndParsing() throws {
        let v: JSONValue = ["b": [1, -2, "x\"\\\n\u{1}"], "a": nil, "c": ["z": true, "y": false]]
        #expect(v.rendered == #"{"a":null,"b":[1,-2,"x\"\\\n\u0001"],"c":{"y":false,"z":true}}"#)
        #expect(try JSONValue.parse(" \(v.rendered) ") == v)
        #expect(try JSONValue.parse(#"{"k": [ {"u": "\u00e9"} ]}"#) == ["k": [["u": "é"]]])
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse("{\"a\": 1.5}") }
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse("[1,]") }
    }
}
