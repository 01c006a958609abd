import Addressing
import Compile
import Model
import Spec

/// One side of a question to `explain`: a container of the spec, the host itself,
/// or the outside world (anything beyond the host's uplink).
public enum Party: Sendable, Hashable, CustomStringConvertible {
    case container(String)
    case host
    case outside

    public init(_ text: String) {
        switch text {
        case "host": self = .host
        case "outside": self = .outside
        default: self = .container(text)
        }
    }

    public var description: String {
        switch self {
        case .container(let c): c
        case .host: "host"
        case .outside: "outside"
        }
    }
}

/// "Does FROM reach TO (on PORT/PROTO)?"
public struct ReachabilityQuestion: Sendable, Hashable {
    public var from: Party
    public var to: Party
    /// nil: an ICMP echo (what `ping` sends).
    public var port: Int?
    public var proto: TransportProtocol

    public init(from: Party, to: Party, port: Int? = nil, proto: TransportProtocol = .tcp) {
        self.from = from
        self.to = to
        self.port = port
        self.proto = proto
    }

    /// `icmp`, or `80/tcp`.
    public var service: String { port.map { "\($0)/\(proto.rawValue)" } ?? "icmp" }
}

/// The answer, with what decides it: a rule of a table (netform's or another
/// tool's), a policy, a setting (icc, IP forwarding), or the topology.
public struct ReachabilityAnswer: Sendable, Equatable {
    public var question: ReachabilityQuestion
    public var reachable: Bool
    /// How the packet would travel (`routed from bridge (docker0) to aislada (nf-…), 172.17.0.2 → 172.18.0.2`).
    public var path: String
    /// What decides it, said plainly.
    public var reason: String
    /// The rule or policy that decided, when a firewall decided.
    public var decision: FilterDecision?
    /// The packet the answer is about, when one crosses the forward hook (what
    /// `--probe` sends).
    public var packet: ForwardedPacket?
    /// Addresses a probe needs: the source's namespace sends to `target`.
    public var target: IPAddress?
    public var uncertain: Bool { decision?.uncertain ?? false }

    /// The answer as JSON (`explain --json`): from, to, service, reachable, path,
    /// reason, decided_by (table, chain, rule, uncertain) or null.
    public var json: JSONValue {
        [
            "from": .string(question.from.description), "to": .string(question.to.description),
            "service": .string(question.service), "reachable": .bool(reachable), "path": .string(path), "reason": .string(reason),
            "decided_by": decision.map { ["table": .string($0.table), "chain": .string($0.chain), "rule": .string($0.rule),
                                          "uncertain": .bool($0.uncertain)] } ?? .null,
        ]
    }
}

/// Why a question cannot be answered.
public struct ExplainError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Answers reachability questions from the spec's topology and the firewall tables
/// of the host (the live ones; the spec's own table when the project is not applied
/// yet), by evaluating the forward chains on the packet (`PacketFilter`). Pure.
public struct Explainer: Sendable {
    public let spec: Spec
    public let endpoints: [Endpoint]
    /// The tables the kernel would apply: every table of the host's namespace, with
    /// the project's own from the kernel when it is there, from the spec otherwise.
    public let tables: [FirewallTable]
    /// True when the project's table came from the spec (not applied yet).
    public let tableFromSpec: Bool
    public let forwarding: [IPFamily: Bool]
    /// The host's uplink (the device of its default route) or `eth0`.
    public let uplink: String

    /// A documentation address (RFC 5737) standing for the outside world.
    public static let outsideV4 = IPAddress("203.0.113.10")!
    public static let outsideV6 = IPAddress("2001:db8::10")!

    /// - Parameter foreignTables: false answers what the spec says (the project's own
    ///   table only), as `apply --probe` checks it; true (the default) predicts what
    ///   the kernel does, every other tool's chains included.
    public init(spec: Spec, compiled: CompiledSpec, observed: HostState, foreignTables: Bool = true) {
        self.spec = spec
        endpoints = compiled.endpoints
        let host = observed[.host]
        let live = (host?.firewall ?? []).filter { foreignTables || $0.belongs(to: spec.project) }
        let mine = live.filter { $0.belongs(to: spec.project) }
        if mine.isEmpty {
            tables = live + (compiled.desired.state[.host]?.firewall ?? [])
            tableFromSpec = true
        } else {
            tables = live
            tableFromSpec = false
        }
        // Not applied yet: the settings apply will make.
        var sysctls = host?.sysctls ?? [:]
        if tableFromSpec { sysctls.merge(compiled.desired.state[.host]?.sysctls ?? [:]) { _, wanted in wanted } }
        var f: [IPFamily: Bool] = [:]
        if let v = sysctls[HostSysctl.ipv4Forwarding] { f[.v4] = v == "1" }
        if let v = sysctls[HostSysctl.ipv6Forwarding] { f[.v6] = v == "1" }
        forwarding = f
        uplink = host?.routes.first { $0.destination == nil && $0.device != nil }?.device ?? "eth0"
    }

    func network(_ name: String) -> NetworkSpec? { spec.network(named: name) }
    func endpoint(_ c: String, _ n: String) -> Endpoint? { endpoints.first { $0.container == c && $0.network == n } }
    func address(_ ep: Endpoint, _ f: IPFamily) -> IPAddress? { (f == .v4 ? ep.ipv4 : ep.ipv6)?.address }
    var group: UInt32 { OwnerMark.linkGroup(project: spec.project) }

    func l4(_ q: ReachabilityQuestion, _ f: IPFamily) -> String {
        q.port == nil ? (f == .v4 ? "icmp" : "ipv6-icmp") : q.proto.rawValue
    }

    /// The endpoints of a container on this host, in attachment order.
    func attachments(_ c: String) throws(ExplainError) -> [Endpoint] {
        guard let spec = spec.container(named: c) else {
            throw ExplainError("no container '\(c)' in project '\(self.spec.project)'; use a container name, host or outside")
        }
        return spec.attachments.compactMap { endpoint(c, $0.network) }
    }

    public func explain(_ q: ReachabilityQuestion) throws(ExplainError) -> ReachabilityAnswer {
        switch (q.from, q.to) {
        case (.host, .host), (.outside, .outside), (.outside, .host), (.host, .outside):
            throw ExplainError("explain answers for the project's containers: one side must be a container")
        case (.container(let a), .host):
            _ = try attachments(a)
            return ReachabilityAnswer(question: q, reachable: true, path: "\(a) to its gateway on the host",
                                      reason: "traffic to the host itself takes the input hook, which netform does not filter")
        case (.host, .container(let b)):
            guard let ep = try attachments(b).first, let addr = address(ep, .v4) ?? address(ep, .v6) else {
                return ReachabilityAnswer(question: q, reachable: false, path: "-", reason: "\(b) has no address on a network of this host")
            }
            return ReachabilityAnswer(question: q, reachable: true, path: "host to \(addr) on \(ep.network)",
                                      reason: "the host reaches its bridges directly (output hook, not filtered by netform)", target: addr)
        case (.container(let a), .container(let b)) where a == b:
            return ReachabilityAnswer(question: q, reachable: true, path: "within \(a)", reason: "the same namespace (loopback)")
        case (.container(let a), .container(let b)):
            return try containerToContainer(q, a, b)
        case (.outside, .container(let b)):
            return try outsideToContainer(q, b)
        case (.container(let a), .outside):
            return try containerToOutside(q, a)
        }
    }

    func filtered(_ q: ReachabilityQuestion, _ p: ForwardedPacket, path: String, routed: Bool,
                  target: IPAddress) -> ReachabilityAnswer {
        if routed, forwarding[p.family] == false {
            let key = p.family == .v4 ? HostSysctl.ipv4Forwarding : HostSysctl.ipv6Forwarding
            return ReachabilityAnswer(question: q, reachable: false, path: path,
                                      reason: "IP forwarding is off (\(key)=0); apply sets it", packet: p, target: target)
        }
        let d = PacketFilter.forward(p, tables: tables)
        let source = d.table.hasPrefix("inet netform_") && tableFromSpec ? " (the spec's table: not applied yet)" : ""
        return ReachabilityAnswer(question: q, reachable: d.accepted, path: path,
                                  reason: "\(d.accepted ? "accepted" : "dropped") by \(d)\(source)" + (d.uncertain ? " (uncertain: a rule on the way uses a match netform does not evaluate)" : ""),
                                  decision: d, packet: p, target: target)
    }

    func containerToContainer(_ q: ReachabilityQuestion, _ a: String, _ b: String) throws(ExplainError) -> ReachabilityAnswer {
        let from = try attachments(a)
        let to = try attachments(b)
        guard !to.isEmpty else {
            return ReachabilityAnswer(question: q, reachable: false, path: "-", reason: "\(b) has no network on this host")
        }
        // A network both are on: bridged.
        for dst in to {
            guard let src = from.first(where: { $0.network == dst.network }), let net = network(dst.network) else { continue }
            for f in IPFamily.allCases {
                guard let s = address(src, f), let d = address(dst, f) else { continue }
                let path = "bridged on \(net.name) (\(net.device)), \(s) → \(d)"
                if net.driver == .macvlan {
                    return ReachabilityAnswer(question: q, reachable: true, path: "macvlan on \(net.name), \(s) → \(d)",
                                              reason: "macvlan traffic is not filtered by netform", target: d)
                }
                if !net.icc {
                    return ReachabilityAnswer(question: q, reachable: false, path: path,
                                              reason: "icc: false on network \(net.name): its bridge ports are isolated", target: d)
                }
                let p = ForwardedPacket(family: f, iifname: net.device, oifname: net.device, iifgroup: group, oifgroup: group,
                                        saddr: s, daddr: d, l4proto: l4(q, f), dport: q.port)
                return filtered(q, p, path: path, routed: false, target: d)
            }
        }
        // Routed: out of the source's default-route network, into the target's first.
        for f in IPFamily.allCases {
            guard let dst = to.first(where: { address($0, f) != nil }), let d = address(dst, f), let dnet = network(dst.network) else { continue }
            guard let src = from.first(where: { ep in address(ep, f) != nil && network(ep.network).map { !$0.isInternal } == true }),
                  let s = address(src, f), let snet = network(src.network) else {
                if from.contains(where: { address($0, f) != nil }) {
                    return ReachabilityAnswer(question: q, reachable: false, path: "-",
                                              reason: "\(a) has no route to \(dnet.name): its networks are internal (no default route)", target: d)
                }
                continue
            }
            let p = ForwardedPacket(family: f, iifname: snet.device, oifname: dnet.device, iifgroup: group, oifgroup: group,
                                    saddr: s, daddr: d, l4proto: l4(q, f), dport: q.port)
            return filtered(q, p, path: "routed from \(snet.name) (\(snet.device)) to \(dnet.name) (\(dnet.device)), \(s) → \(d)",
                            routed: true, target: d)
        }
        return ReachabilityAnswer(question: q, reachable: false, path: "-", reason: "\(a) and \(b) have no address family in common")
    }

    func outsideToContainer(_ q: ReachabilityQuestion, _ b: String) throws(ExplainError) -> ReachabilityAnswer {
        let to = try attachments(b)
        guard let port = q.port, let c = spec.container(named: b),
              let published = c.ports.first(where: { Int($0.containerPort) == port && $0.proto == q.proto }) else {
            return ReachabilityAnswer(question: q, reachable: false, path: "-",
                                      reason: "the outside reaches a container only through a published port, and \(b) publishes none for \(q.service)")
        }
        let family: IPFamily = published.hostIP?.family ?? .v4
        guard let ep = to.first(where: { ep in address(ep, family) != nil && network(ep.network).map { $0.driver == .bridge && !$0.isInternal } == true }),
              let d = address(ep, family), let net = network(ep.network) else {
            return ReachabilityAnswer(question: q, reachable: false, path: "-", reason: "published port \(published) has no target address")
        }
        let s = family == .v4 ? Self.outsideV4 : Self.outsideV6
        let p = ForwardedPacket(family: family, iifname: uplink, oifname: net.device, iifgroup: 0, oifgroup: group,
                                saddr: s, daddr: d, l4proto: q.proto.rawValue, dport: port, dnat: true)
        return filtered(q, p, path: "published port \(published): DNAT to \(d):\(port) on \(net.name) (\(net.device)), from \(uplink)",
                        routed: true, target: d)
    }

    func containerToOutside(_ q: ReachabilityQuestion, _ a: String) throws(ExplainError) -> ReachabilityAnswer {
        let from = try attachments(a)
        for f in IPFamily.allCases {
            guard let src = from.first(where: { ep in address(ep, f) != nil && network(ep.network).map { !$0.isInternal } == true }),
                  let s = address(src, f), let net = network(src.network) else { continue }
            let d = f == .v4 ? Self.outsideV4 : Self.outsideV6
            let p = ForwardedPacket(family: f, iifname: net.device, oifname: uplink, iifgroup: group, oifgroup: 0,
                                    saddr: s, daddr: d, l4proto: l4(q, f), dport: q.port)
            var answer = filtered(q, p, path: "routed from \(net.name) (\(net.device)) to \(uplink), \(s) → \(d)", routed: true, target: d)
            if answer.reachable && !net.masquerade {
                answer.reason += "; masquerade is off on \(net.name): replies come back only if the outside routes \(net.subnets.map(\.subnet.description).joined(separator: ", ")) to this host"
            }
            return answer
        }
        return ReachabilityAnswer(question: q, reachable: false, path: "-",
                                  reason: "\(a) has no route out: it is on internal networks only (or on none)")
    }

    /// Every ordered pair of the containers placed on this host (ICMP, or the port given).
    public func matrix(port: Int? = nil, proto: TransportProtocol = .tcp) throws(ExplainError) -> [ReachabilityAnswer] {
        let names = spec.containers.filter { c in endpoints.contains { $0.container == c.name } }.map(\.name)
        var out: [ReachabilityAnswer] = []
        for a in names {
            for b in names where a != b {
                out.append(try explain(ReachabilityQuestion(from: .container(a), to: .container(b), port: port, proto: proto)))
            }
        }
        return out
    }
}
