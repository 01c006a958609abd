import Addressing
import Model
import Spec

/// The project's firewall as compiled from its spec, and what the spec asks for
/// that it cannot express (said plainly, e.g. a rule whose selectors match no
/// address).
///
/// ## Layout (one `inet` table per project, `FirewallTable.name(project:)`)
/// One table holds both filtering and NAT, so that the whole firewall of a project
/// is one object netform owns, replaced in one atomic batch and deleted by one
/// command; `inet` because one table then serves IPv4 and IPv6 (the kernel has
/// supported `nat` chains in `inet` tables since 5.2). Chains, in this order:
///
/// | chain | kind | what |
/// |---|---|---|
/// | `forward` | filter, hook forward, priority 0, policy accept | `iifname {bridges} jump project`, `oifname {bridges} jump project`: only traffic of the project's bridges is looked at; everything else passes untouched |
/// | `project` | regular | established/related accept; the spec's `rules:` in order (first match wins: allow → accept, deny → drop); the network defaults; a final accept |
/// | `prerouting` | nat, hook prerouting, priority -100 | `fib daddr type local jump published` |
/// | `output` | nat, hook output, priority -100 | the same, for connections made on the host itself |
/// | `published` | regular | one DNAT rule per published port |
/// | `postrouting` | nat, hook postrouting, priority 100 | masquerade per subnet of each non-internal bridge network with `masquerade: true` |
///
/// ## Canonical form
/// The table is deterministic: chains in the order above, rules in spec order,
/// network defaults in spec network order, set elements sorted, a one-element set
/// written as the bare value. Compiling the same spec and endpoints twice gives the
/// same value, so the planner can compare it with what the kernel lists.
public struct CompiledFirewall: Sendable, Equatable {
    /// nil when the project has no bridge on this host (nothing to filter).
    public var table: FirewallTable?
    public var notes: [String]
}

/// Spec + compiled endpoints → the project's nftables table. Pure: no kernel access.
public enum FirewallCompiler {
    /// - Parameter remote: the endpoints of containers on other hosts (from the
    ///   cluster store): the rules' selectors match their addresses too, so a rule
    ///   naming a container of another host holds where its traffic arrives. Only
    ///   selectors use them; nothing else of the table is about other hosts.
    public static func compile(_ spec: Spec, endpoints: [Endpoint], remote: [Endpoint] = []) -> CompiledFirewall {
        var c = Builder(spec: spec, endpoints: endpoints, remote: remote)
        return c.build()
    }
}

// MARK: - Expression helpers (nft JSON)

enum Nft {
    static func match(_ left: JSONValue, _ op: String, _ right: JSONValue) -> JSONValue {
        ["match": ["op": .string(op), "left": left, "right": right]]
    }
    static func match(_ left: JSONValue, _ right: JSONValue) -> JSONValue { match(left, "==", right) }
    static func meta(_ key: String) -> JSONValue { ["meta": ["key": .string(key)]] }
    static func payload(_ proto: String, _ field: String) -> JSONValue {
        ["payload": ["protocol": .string(proto), "field": .string(field)]]
    }
    /// A one-element set is written as its element (as nft lists it).
    static func setOrValue(_ items: [JSONValue]) -> JSONValue {
        items.count == 1 ? items[0] : ["set": .array(items)]
    }
    static let accept: JSONValue = ["accept": nil]
    static let drop: JSONValue = ["drop": nil]
    static func jump(_ chain: String) -> JSONValue { ["jump": ["target": .string(chain)]] }

    static func family(_ f: IPFamily) -> String { f == .v4 ? "ip" : "ip6" }
    static func nfproto(_ f: IPFamily) -> String { f == .v4 ? "ipv4" : "ipv6" }

    /// An address or a prefix as an nft set element.
    static func element(_ n: IPNetwork) -> JSONValue {
        n.prefixLength == n.family.bitWidth ? .string("\(n.network)")
            : ["prefix": ["addr": .string("\(n.network)"), "len": .int(n.prefixLength)]]
    }

    static func addresses(_ nets: [IPNetwork], elements: [IPNetwork: JSONValue] = [:]) -> JSONValue {
        let sorted = Set(nets).sorted { ($0.network, $0.prefixLength) < ($1.network, $1.prefixLength) }
        return setOrValue(sorted.map { elements[$0] ?? element($0) })
    }

    static func names(_ names: [String]) -> JSONValue { setOrValue(Set(names).sorted().map { .string($0) }) }

    /// A comment cut to nft's 128 bytes (on a character boundary).
    static func comment(_ s: String) -> String {
        if s.utf8.count <= 127 { return s }
        var out = ""
        for ch in s {
            if out.utf8.count + String(ch).utf8.count > 127 { break }
            out.append(ch)
        }
        return out
    }
}

// MARK: - The compiler

private struct Builder {
    let spec: Spec
    let endpoints: [Endpoint]
    var notes: [String] = []
    /// What the rules' selectors resolve through, built once when there are rules
    /// (a label selector names ~100 containers of 1000; each rule has two, per family).
    let selectors: SelectorIndex
    /// A selector's addresses as a set, per family: label and network selectors
    /// recur across rules.
    var addressSets: [SelectorKey: Addresses] = [:]
    /// Networks whose published ports the host reaches on 127.0.0.1 (their bridges
    /// get `route_localnet`).
    let loopbackNetworks: [NetworkSpec]

    /// What a selector matches in one family.
    enum Addresses {
        /// `any`: no match needed.
        case anything
        /// No address: a rule with it cannot match in that family.
        case nothing
        /// The addresses, as an nft set (or a single value).
        case set(JSONValue)
    }

    struct SelectorKey: Hashable {
        var kind: Int
        var name: String
        var value: String
        var family: IPFamily
    }

    /// Networks with a bridge on this host (bridge and overlay drivers), spec order.
    var bridged: [NetworkSpec] { spec.networks.filter { $0.driver != .macvlan } }

    init(spec: Spec, endpoints: [Endpoint], remote: [Endpoint]) {
        self.spec = spec
        self.endpoints = endpoints
        selectors = spec.rules.isEmpty ? SelectorIndex() : SelectorIndex(spec: spec, endpoints: endpoints + remote)
        addressSets.reserveCapacity(spec.rules.count * 4)  // from and to, per family
        let publishing = spec.containers.filter { !$0.ports.isEmpty }
        if publishing.isEmpty {
            loopbackNetworks = []
        } else {
            let placed = Set(endpoints.map(\.container))
            let names = loopbackPublishingNetworks(spec, containers: publishing.filter { placed.contains($0.name) })
            loopbackNetworks = spec.networks.filter { names.contains($0.name) }
        }
    }

    /// Containers' host addresses by family, containers by label, and each address's
    /// set element, so a selector resolves without scanning every endpoint.
    struct SelectorIndex {
        /// Container → its host addresses (`/32`, `/128`) on its endpoints, per family.
        var v4: [String: [IPNetwork]] = [:]
        var v6: [String: [IPNetwork]] = [:]
        /// Label key → value → the containers carrying it, spec order.
        var labelled: [String: [String: [String]]] = [:]
        /// Each host address as a set element (its text built once).
        var elements: [IPNetwork: JSONValue] = [:]

        init() {}

        init(spec: Spec, endpoints: [Endpoint]) {
            v4.reserveCapacity(endpoints.count)
            elements.reserveCapacity(endpoints.count)
            for ep in endpoints {
                if let a = ep.ipv4, let n = IPNetwork(address: a.address, prefixLength: 32) {
                    v4[ep.container, default: []].append(n)
                    elements[n] = Nft.element(n)  // the same value for the same address
                }
                if let a = ep.ipv6, let n = IPNetwork(address: a.address, prefixLength: 128) {
                    v6[ep.container, default: []].append(n)
                    elements[n] = Nft.element(n)
                }
            }
            for c in spec.containers {
                for (key, value) in c.labels { labelled[key, default: [:]][value, default: []].append(c.name) }
            }
        }

        func hosts(_ containers: [String], _ family: IPFamily) -> [IPNetwork] {
            let byContainer = family == .v4 ? v4 : v6
            return containers.flatMap { byContainer[$0] ?? [] }
        }
    }

    mutating func build() -> CompiledFirewall {
        let table = FirewallTable.name(project: spec.project)
        guard !bridged.isEmpty else { return CompiledFirewall(table: nil, notes: []) }
        let filter = FirewallTable.Chain.Base(type: "filter", hook: "forward", priority: 0, policy: "accept")
        let chains: [FirewallTable.Chain] = [
            .init(name: "forward", base: filter, rules: forwardRules()),
            .init(name: "project", base: nil, rules: projectRules()),
            .init(name: "prerouting", base: .init(type: "nat", hook: "prerouting", priority: -100, policy: "accept"),
                  rules: natEntry()),
            .init(name: "output", base: .init(type: "nat", hook: "output", priority: -100, policy: "accept"),
                  rules: natEntry()),
            .init(name: "published", base: nil, rules: publishedRules()),
            .init(name: "postrouting", base: .init(type: "nat", hook: "postrouting", priority: 100, policy: "accept"),
                  rules: masqueradeRules()),
        ] + loopbackGuard()
        return CompiledFirewall(table: FirewallTable(family: "inet", name: table, chains: chains), notes: notes)
    }

    // MARK: forward

    /// Only packets entering or leaving one of the project's bridges go to `project`;
    /// traffic netform does not own is never matched. A packet from one of the
    /// project's bridges that `project` did not decide cannot come back here: `project`
    /// ends with an accept.
    func forwardRules() -> [FirewallTable.Rule] {
        let devices = bridged.map(\.device)
        guard !devices.isEmpty else { return [] }
        return [
            .init(expr: [Nft.match(Nft.meta("iifname"), Nft.names(devices)), Nft.jump("project")],
                  comment: "from the project's bridges"),
            .init(expr: [Nft.match(Nft.meta("oifname"), Nft.names(devices)), Nft.jump("project")],
                  comment: "to the project's bridges"),
        ]
    }

    /// Traffic of the project's bridges, first match wins: replies; the spec's rules;
    /// internal networks; published ports (DNAT'ed connections: public, from any
    /// network); within a network (`icc`); between the project's networks (drop); to
    /// and from other netform projects' networks (drop); the outside (accept).
    ///
    /// Traffic between two containers on one bridge is bridged, not routed; netform's
    /// bridges hand it to these hooks themselves (`nf_call_iptables` on the bridge),
    /// so the same rules decide it whether or not the host enables br_netfilter's
    /// `bridge-nf-call-iptables`. `icc: false` also sets the ports `isolated`.
    mutating func projectRules() -> [FirewallTable.Rule] {
        var rules: [FirewallTable.Rule] = [
            .init(expr: [Nft.match(["ct": ["key": "state"]], "in", ["established", "related"]), Nft.accept],
                  comment: "replies and related traffic"),
        ]
        for (i, rule) in spec.rules.enumerated() {
            rules += compile(rule, number: i + 1)
        }
        // Internal networks: no way out, and no way in from outside the network.
        for net in bridged where net.isInternal {
            rules.append(.init(expr: [Nft.match(Nft.meta("iifname"), .string(net.device)),
                                      Nft.match(Nft.meta("oifname"), "!=", .string(net.device)), Nft.drop],
                               comment: Nft.comment("internal network \(net.name): nothing leaves it")))
            rules.append(.init(expr: [Nft.match(Nft.meta("oifname"), .string(net.device)),
                                      Nft.match(Nft.meta("iifname"), "!=", .string(net.device)), Nft.drop],
                               comment: Nft.comment("internal network \(net.name): nothing enters it")))
        }
        // Published ports are public: a DNAT'ed connection (to this project's published
        // ports, or from this project's containers to another's) passes between
        // networks too; the spec's rules, before, still apply to it.
        if !bridged.isEmpty {
            rules.append(.init(expr: [Nft.match(["ct": ["key": "status"]], "in", "dnat"), Nft.accept],
                               comment: "published ports (DNAT) are reachable from every network"))
        }
        // Within a network: bridged traffic between its containers, and traffic routed
        // back into the bridge it came from: accepted with icc, dropped without (as
        // Docker's `-i br -o br -j DROP` for icc=false).
        for net in bridged {
            rules.append(.init(expr: [Nft.match(Nft.meta("iifname"), .string(net.device)),
                                      Nft.match(Nft.meta("oifname"), .string(net.device)), net.icc ? Nft.accept : Nft.drop],
                               comment: Nft.comment("within network \(net.name) (icc \(net.icc ? "on" : "off"))")))
        }
        // Between two of the project's networks: dropped (Docker's isolation).
        let devices = bridged.map(\.device)
        if devices.count > 1 {
            rules.append(.init(expr: [Nft.match(Nft.meta("iifname"), Nft.names(devices)),
                                      Nft.match(Nft.meta("oifname"), Nft.names(devices)), Nft.drop],
                               comment: "between the project's networks"))
        }
        if !devices.isEmpty {
            // Other netform projects' networks: their bridges carry a netform interface
            // group (0x4e46xxxx); ours were decided above. Their own tables drop the
            // other direction the same way.
            let netformGroups: JSONValue = ["prefix": ["addr": .int(Int(OwnerMark.linkGroup(project: "") & 0xffff_0000)), "len": 16]]
            rules.append(.init(expr: [Nft.match(Nft.meta("iifname"), Nft.names(devices)),
                                      Nft.match(Nft.meta("oifgroup"), netformGroups), Nft.drop],
                               comment: "to other netform projects' networks"))
            rules.append(.init(expr: [Nft.match(Nft.meta("oifname"), Nft.names(devices)),
                                      Nft.match(Nft.meta("iifgroup"), netformGroups), Nft.drop],
                               comment: "from other netform projects' networks"))
            rules.append(.init(expr: [Nft.accept], comment: "to and from the outside"))
        }
        return rules
    }

    /// What a selector matches in one family: nil for `any` (no match needed), else
    /// the addresses/prefixes (possibly none: then the rule cannot match this family).
    func resolve(_ selector: Selector, _ family: IPFamily) -> [IPNetwork]? {
        switch selector {
        case .any: return nil
        case .container(let name): return selectors.hosts([name], family)
        case .network(let name):
            return spec.network(named: name)?.subnets.map(\.subnet).filter { $0.family == family } ?? []
        case .label(let key, let value):
            return selectors.hosts(selectors.labelled[key]?[value] ?? [], family)
        }
    }

    /// `resolve` as an nft set (or single value), remembered per selector and family.
    mutating func addressSet(_ selector: Selector, _ family: IPFamily) -> Addresses {
        let key: SelectorKey
        switch selector {
        case .any: return .anything
        case .container(let n): key = SelectorKey(kind: 0, name: n, value: "", family: family)
        case .network(let n): key = SelectorKey(kind: 1, name: n, value: "", family: family)
        case .label(let k, let v): key = SelectorKey(kind: 2, name: k, value: v, family: family)
        }
        if let known = addressSets[key] { return known }
        let nets = resolve(selector, family) ?? []
        let found: Addresses = nets.isEmpty ? .nothing : .set(Nft.addresses(nets, elements: selectors.elements))
        addressSets[key] = found
        return found
    }

    /// One spec rule → nft rules: one per address family its selectors have addresses
    /// in (both selectors `any`: one rule for both families), times one per transport
    /// protocol of its ports. A family a selector has no address in gets no rule (the
    /// spec rule cannot match there); a rule that matches nothing at all compiles to
    /// nothing, and says so in `notes`.
    mutating func compile(_ rule: RuleSpec, number: Int) -> [FirewallTable.Rule] {
        let verdict = rule.action == .allow ? Nft.accept : Nft.drop
        var text = "rule \(number): \(rule.action.rawValue) \(rule.from) -> \(rule.to)"
        if !rule.ports.isEmpty { text += " ports " + rule.ports.map(\.description).joined(separator: ",") }
        if !rule.protocols.isEmpty { text += " protocols " + rule.protocols.map(\.rawValue).joined(separator: ",") }
        let comment = Nft.comment(text)

        let families: [IPFamily?] = (rule.from == .any && rule.to == .any) ? [nil] : [.v4, .v6]
        var out: [FirewallTable.Rule] = []
        for family in families {
            var expr: [JSONValue] = []
            if let family {
                let src = addressSet(rule.from, family)
                let dst = addressSet(rule.to, family)
                if case .nothing = src { continue }
                if case .nothing = dst { continue }
                if case .set(let set) = src { expr.append(Nft.match(Nft.payload(Nft.family(family), "saddr"), set)) }
                if case .set(let set) = dst { expr.append(Nft.match(Nft.payload(Nft.family(family), "daddr"), set)) }
            }
            if !rule.protocols.isEmpty {
                let names = rule.protocols.compactMap { p -> String? in
                    switch p {
                    case .tcp, .udp, .sctp: p.rawValue
                    case .icmp: family == .v6 ? nil : "icmp"
                    case .icmpv6: family == .v4 ? nil : "ipv6-icmp"
                    }
                }
                if names.isEmpty { continue }
                out.append(.init(expr: expr + [Nft.match(Nft.meta("l4proto"), Nft.names(Array(Set(names)).sorted())), verdict],
                                 comment: comment))
            } else if !rule.ports.isEmpty {
                var order: [TransportProtocol] = []
                for p in rule.ports where !order.contains(p.proto) { order.append(p.proto) }
                for proto in order {
                    let ranges = Set(rule.ports.filter { $0.proto == proto }.map { [Int($0.lower), Int($0.upper)] })
                        .sorted { $0.lexicographicallyPrecedes($1) }
                    let items: [JSONValue] = ranges.map { r in
                        r[0] == r[1] ? .int(r[0]) : ["range": [.int(r[0]), .int(r[1])]]
                    }
                    out.append(.init(expr: expr + [Nft.match(Nft.payload(proto.rawValue, "dport"), Nft.setOrValue(items)), verdict],
                                     comment: comment))
                }
            } else {
                out.append(.init(expr: expr + [verdict], comment: comment))
            }
        }
        if out.isEmpty {
            notes.append("\(text): its selectors match no address, so it matches nothing")
        }
        return out
    }

    // MARK: nat

    /// Connections to one of the host's own addresses (from outside, and from the host
    /// itself) look for a published port.
    func natEntry() -> [FirewallTable.Rule] {
        [.init(expr: [Nft.match(["fib": ["result": "type", "flags": ["daddr"]]], "==", "local"), Nft.jump("published")],
               comment: "to a local address: published ports")]
    }

    /// One DNAT per published port: to the container's address on its first
    /// non-internal bridge network that has an address of the host IP's family. The
    /// host IP is the port's own, else that network's `host_binding_ipv4`; `0.0.0.0`
    /// (the default) means every local IPv4 address.
    mutating func publishedRules() -> [FirewallTable.Rule] {
        var rules: [FirewallTable.Rule] = []
        for container in spec.containers {
            for port in container.ports {
                let candidates = container.attachments.compactMap { a -> (NetworkSpec, Endpoint)? in
                    guard let net = spec.network(named: a.network), net.driver == .bridge, !net.isInternal,
                          let ep = endpoints.first(where: { $0.container == container.name && $0.network == a.network })
                    else { return nil }
                    return (net, ep)
                }
                let hostIP: IPAddress = port.hostIP ?? candidates.first.map { .v4($0.0.hostBindingIPv4) } ?? .v4(IPv4Address(0))
                let family = hostIP.family
                guard let (_, ep) = candidates.first(where: { (family == .v4 ? $0.1.ipv4 : $0.1.ipv6) != nil }),
                      let target = (family == .v4 ? ep.ipv4 : ep.ipv6)?.address else {
                    notes.append("published port \(port) of \(container.name): the container has no \(family.rawValue) address on a non-internal bridge network; not forwarded")
                    continue
                }
                var expr: [JSONValue] = []
                let unspecified = hostIP == .v4(IPv4Address(0)) || hostIP == IPAddress("::")
                if unspecified {
                    expr.append(Nft.match(Nft.meta("nfproto"), .string(Nft.nfproto(family))))
                } else {
                    expr.append(Nft.match(Nft.payload(Nft.family(family), "daddr"), .string("\(hostIP)")))
                }
                expr.append(Nft.match(Nft.payload(port.proto.rawValue, "dport"), .int(Int(port.hostPort))))
                expr.append(["dnat": ["family": .string(Nft.family(family)), "addr": .string("\(target)"),
                                      "port": .int(Int(port.containerPort))]])
                rules.append(.init(expr: expr, comment: Nft.comment("published \(port) -> \(container.name) \(target)")))
            }
        }
        return rules
    }

    /// `route_localnet` would let a container send to the host's 127.0.0.1 services
    /// through its bridge (CVE-2020-8558); only replies may come in that way.
    func loopbackGuard() -> [FirewallTable.Chain] {
        let devices = loopbackNetworks.map(\.device)
        guard !devices.isEmpty else { return [] }
        let toLoopback: [JSONValue] = [Nft.match(Nft.meta("iifname"), Nft.names(devices)),
                                       Nft.match(Nft.payload("ip", "daddr"), ["prefix": ["addr": "127.0.0.0", "len": 8]])]
        return [.init(name: "input", base: .init(type: "filter", hook: "input", priority: 0, policy: "accept"), rules: [
            .init(expr: toLoopback + [Nft.match(["ct": ["key": "state"]], "in", ["established", "related"]), Nft.accept],
                  comment: "replies to the host's own connections to published ports on 127.0.0.1"),
            .init(expr: toLoopback + [Nft.drop], comment: "nothing else reaches 127.0.0.0/8 from a container"),
        ])]
    }

    /// Masquerade what leaves a non-internal bridge network with `masquerade: true`
    /// by another interface, per subnet (IPv4 and IPv6 alike); and hairpin: a
    /// container reaching a published port of a neighbour on its own network is
    /// masqueraded, so the reply comes back through the host, not straight from the
    /// neighbour (whose address the client never asked for).
    func masqueradeRules() -> [FirewallTable.Rule] {
        var rules: [FirewallTable.Rule] = []
        for net in spec.networks where net.driver == .bridge && net.masquerade && !net.isInternal {
            for s in net.subnets {
                rules.append(.init(expr: [Nft.match(Nft.payload(Nft.family(s.subnet.family), "saddr"), Nft.element(s.subnet)),
                                          Nft.match(Nft.meta("oifname"), "!=", .string(net.device)), ["masquerade": nil]],
                                   comment: Nft.comment("masquerade \(net.name) \(s.subnet)")))
            }
        }
        let published = Set(spec.containers.filter { !$0.ports.isEmpty }.flatMap { $0.attachments.map(\.network) })
        for net in spec.networks where net.driver == .bridge && !net.isInternal && published.contains(net.name) {
            for s in net.subnets {
                rules.append(.init(expr: [Nft.match(Nft.meta("oifname"), .string(net.device)),
                                          Nft.match(Nft.payload(Nft.family(s.subnet.family), "saddr"), Nft.element(s.subnet)),
                                          Nft.match(["ct": ["key": "status"]], "in", "dnat"), ["masquerade": nil]],
                                   comment: Nft.comment("hairpin to published ports on \(net.name) \(s.subnet)")))
            }
        }
        // The host's own connections to 127.0.0.1 leave the bridge with a loopback
        // source: masqueraded to the bridge's address, so the reply can come back.
        for net in loopbackNetworks {
            rules.append(.init(expr: [Nft.match(Nft.meta("oifname"), .string(net.device)),
                                      Nft.match(Nft.payload("ip", "saddr"), ["prefix": ["addr": "127.0.0.0", "len": 8]]), ["masquerade": nil]],
                               comment: Nft.comment("the host's connections from 127.0.0.1 to published ports on \(net.name)")))
        }
        return rules
    }
}
