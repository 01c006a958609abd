import Addressing

/// The first packet of a connection as the forward hook sees it: what netform's
/// (and everyone's) forward chains match on.
public struct ForwardedPacket: Sendable, Equatable {
    public var family: IPFamily
    public var iifname: String
    public var oifname: String
    public var iifgroup: UInt32
    public var oifgroup: UInt32
    public var saddr: IPAddress
    public var daddr: IPAddress
    /// `tcp`, `udp`, `sctp`, `icmp` or `ipv6-icmp` (nft's names).
    public var l4proto: String
    /// The destination port (after DNAT), for tcp, udp and sctp.
    public var dport: Int?
    /// The connection was DNAT'ed (a published port).
    public var dnat: Bool

    public init(family: IPFamily, iifname: String, oifname: String, iifgroup: UInt32 = 0, oifgroup: UInt32 = 0,
                saddr: IPAddress, daddr: IPAddress, l4proto: String, dport: Int? = nil, dnat: Bool = false) {
        self.family = family
        self.iifname = iifname
        self.oifname = oifname
        self.iifgroup = iifgroup
        self.oifgroup = oifgroup
        self.saddr = saddr
        self.daddr = daddr
        self.l4proto = l4proto
        self.dport = dport
        self.dnat = dnat
    }
}

/// What decided a packet's fate: a rule (by its table, chain and comment or text),
/// or a chain's policy.
public struct FilterDecision: Sendable, Equatable, CustomStringConvertible {
    public var accepted: Bool
    public var table: String
    public var chain: String
    /// The rule's comment, or its nft text; "policy accept/drop" for a policy.
    public var rule: String
    /// Some expression on the way could not be evaluated (another tool's rule using
    /// a match netform does not model); the answer may be wrong.
    public var uncertain: Bool

    public init(accepted: Bool, table: String, chain: String, rule: String, uncertain: Bool) {
        self.accepted = accepted
        self.table = table
        self.chain = chain
        self.rule = rule
        self.uncertain = uncertain
    }

    public var description: String { "\(table) chain \(chain): \(rule)" }
}

/// Evaluates nftables forward chains on a packet, the way the kernel does for the
/// expressions netform writes and the common ones other tools write (interface
/// names and groups, addresses, prefixes, sets, ranges, protocols, ports, conntrack
/// state and status). Pure: `explain` uses it to say which rule decides, and the
/// tests check it against real traffic (`explain --probe`).
///
/// Every base chain on the forward hook of a family that sees the packet runs, in
/// priority order; a drop anywhere drops the packet, an accept ends only its own
/// base chain (as in the kernel).
public enum PacketFilter {
    public static func forward(_ p: ForwardedPacket, tables: [FirewallTable]) -> FilterDecision {
        let families: Set<String> = p.family == .v4 ? ["inet", "ip"] : ["inet", "ip6"]
        var bases: [(FirewallTable, FirewallTable.Chain, Int)] = []
        for t in tables where families.contains(t.family) {
            for c in t.chains {
                if let b = c.base, b.hook == "forward", b.type == "filter" { bases.append((t, c, b.priority)) }
            }
        }
        bases.sort { $0.2 < $1.2 }
        var last: FilterDecision?
        var uncertain = false
        for (t, c, _) in bases {
            var e = Evaluation(packet: p, table: t)
            var d = e.run(c) ?? FilterDecision(accepted: c.base!.policy != "drop", table: t.qualifiedName, chain: c.name,
                                               rule: "policy \(c.base!.policy)", uncertain: false)
            uncertain = uncertain || e.uncertain
            d.uncertain = uncertain
            if !d.accepted { return d }
            // The deciding accept of the project's own table is the interesting one.
            if last == nil || t.isNetforms { last = d }
        }
        return last ?? FilterDecision(accepted: true, table: "-", chain: "-", rule: "no forward chain", uncertain: false)
    }

    private struct Evaluation {
        let packet: ForwardedPacket
        let table: FirewallTable
        var uncertain = false
        var depth = 0

        /// The verdict of `chain`, or nil when the packet falls off its end.
        mutating func run(_ chain: FirewallTable.Chain) -> FilterDecision? {
            depth += 1
            defer { depth -= 1 }
            guard depth < 16 else { uncertain = true; return nil }
            for rule in chain.rules {
                var matched = true
                for s in rule.expr {
                    guard case .object(let m) = s, m.count == 1, let (key, body) = m.first else { continue }
                    func decide(_ accepted: Bool) -> FilterDecision {
                        FilterDecision(accepted: accepted, table: table.qualifiedName, chain: chain.name,
                                       rule: rule.comment.isEmpty ? rule.nftText : rule.comment, uncertain: uncertain)
                    }
                    switch key {
                    case "match":
                        switch matches(body) {
                        case true?: continue
                        case false?: matched = false
                        case nil: uncertain = true; matched = false
                        }
                    case "accept": return decide(true)
                    case "drop", "reject": return decide(false)
                    case "jump", "goto":
                        guard let target = body["target"]?.stringValue, let c = table.chain(target) else { uncertain = true; matched = false; break }
                        if let d = run(c) { return d }
                        if key == "goto" { return nil }
                        continue
                    case "return": return nil
                    case "counter", "log", "limit", "comment", "meta", "ct", "mangle", "notrack", "queue":
                        continue
                    default:
                        // A statement we do not model (xt, dnat in a filter chain, …).
                        uncertain = true
                        continue
                    }
                    if !matched { break }
                }
                _ = matched
            }
            return nil
        }

        /// Whether a match holds; nil when it cannot be evaluated.
        func matches(_ body: JSONValue) -> Bool? {
            guard let left = body["left"], let right = body["right"] else { return nil }
            let op = body["op"]?.stringValue ?? "=="
            guard let value = self.value(left) else { return nil }
            if case .absent = value { return op == "!=" }
            guard let hit = contains(right, value) else { return nil }
            return op == "!=" ? !hit : hit
        }

        enum Value {
            case string(String), int(Int), address(IPAddress), flags(Set<String>)
            /// The field does not exist in this packet (a TCP port of a UDP packet):
            /// `==` fails, `!=` holds.
            case absent
        }

        func value(_ e: JSONValue) -> Value? {
            if let meta = e["meta"]?["key"]?.stringValue {
                switch meta {
                case "iifname": return .string(packet.iifname)
                case "oifname": return .string(packet.oifname)
                case "iifgroup": return .int(Int(packet.iifgroup))
                case "oifgroup": return .int(Int(packet.oifgroup))
                case "l4proto": return .string(packet.l4proto)
                case "nfproto": return .string(packet.family == .v4 ? "ipv4" : "ipv6")
                case "protocol": return .string(packet.family == .v4 ? "ip" : "ip6")
                default: return nil
                }
            }
            if let p = e["payload"], let proto = p["protocol"]?.stringValue, let field = p["field"]?.stringValue {
                switch (proto, field) {
                case ("ip", "saddr"), ("ip6", "saddr"):
                    return (proto == "ip") == (packet.family == .v4) ? .address(packet.saddr) : .absent
                case ("ip", "daddr"), ("ip6", "daddr"):
                    return (proto == "ip") == (packet.family == .v4) ? .address(packet.daddr) : .absent
                case (_, "dport") where ["tcp", "udp", "sctp"].contains(proto):
                    guard proto == packet.l4proto, let port = packet.dport else { return .absent }
                    return .int(port)
                case ("th", "dport"):
                    guard let port = packet.dport else { return .absent }
                    return .int(port)
                default: return nil
                }
            }
            if let ct = e["ct"]?["key"]?.stringValue {
                switch ct {
                case "state": return .flags(["new"])
                case "status": return .flags(packet.dnat ? ["dnat"] : [])
                default: return nil
                }
            }
            return nil
        }

        /// Whether `right` (a value, a set, a prefix, a range, a list of flags) holds `v`.
        func contains(_ right: JSONValue, _ v: Value) -> Bool? {
            switch (right, v) {
            case (.object(let m), _) where m["set"] != nil:
                var unknown = false
                for item in m["set"]!.arrayValue.isEmpty ? [m["set"]!] : m["set"]!.arrayValue {
                    switch contains(item, v) {
                    case true?: return true
                    case nil: unknown = true
                    default: break
                    }
                }
                return unknown ? nil : false
            case (.array(let items), .flags(let f)):
                return items.contains { $0.stringValue.map(f.contains) ?? false }
            case (.string(let s), .flags(let f)): return f.contains(s)
            case (.string(let s), .string(let x)): return s == x
            case (.string(let s), .address(let a)): return IPAddress(s).map { $0 == a }
            case (.int(let i), .int(let x)): return i == x
            case (.object(let m), .address(let a)) where m["prefix"] != nil:
                guard let addr = m["prefix"]?["addr"]?.stringValue.flatMap(IPAddress.init), let len = m["prefix"]?["len"]?.intValue,
                      let net = IPNetwork(containing: addr, prefixLength: len) else { return nil }
                return net.contains(a)
            case (.object(let m), .int(let x)) where m["prefix"] != nil:
                // A prefix of an integer (interface groups): the top `len` of 32 bits.
                guard let addr = m["prefix"]?["addr"]?.intValue, let len = m["prefix"]?["len"]?.intValue, (0...32).contains(len) else { return nil }
                let mask = len == 0 ? 0 : UInt32.max << UInt32(32 - len)
                return UInt32(truncatingIfNeeded: x) & mask == UInt32(truncatingIfNeeded: addr) & mask
            case (.object(let m), .int(let x)) where m["range"] != nil:
                let r = m["range"]!.arrayValue
                guard r.count == 2, let lo = r[0].intValue, let hi = r[1].intValue else { return nil }
                return (lo...hi).contains(x)
            case (.object(let m), .address(let a)) where m["range"] != nil:
                let r = m["range"]!.arrayValue
                guard r.count == 2, let lo = r[0].stringValue.flatMap(IPAddress.init), let hi = r[1].stringValue.flatMap(IPAddress.init) else { return nil }
                return lo <= a && a <= hi
            default:
                return nil
            }
        }
    }
}
