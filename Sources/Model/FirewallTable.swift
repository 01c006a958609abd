/// One nftables table in one namespace: its chains in order, each with its rules.
///
/// Why it exists: the firewall is state like links and addresses. A project's table
/// is compiled into the Desired `HostState`, read back from the kernel into the
/// Observed one, diffed by the planner into one atomic replace, applied by the
/// simulated kernel in tests and by libnftables on a host — so the planner's
/// properties (converge, second plan empty, every prefix rolls back) hold for the
/// firewall too. Rules are kept as nft's JSON expressions (`expr`), exactly as
/// libnftables reads and lists them; foreign tables are read the same way so
/// `plan` and `explain` can see what another tool's chains do.
public struct FirewallTable: Sendable, Equatable, Codable {
    /// `inet`, `ip`, `ip6`, `bridge`, …
    public var family: String
    public var name: String
    public var chains: [Chain] {
        didSet { isNormalized = false }
    }
    /// Whether `chains` are known to be in `normalized()` form: set by `normalized()`,
    /// cleared by any change to the chains, not part of the value (`==`, Codable).
    /// A table read from the kernel is normalized once, as it is observed; planning
    /// and fingerprinting then ask for the normalized form four more times.
    private var isNormalized = false

    public init(family: String, name: String, chains: [Chain]) {
        self.family = family
        self.name = name
        self.chains = chains
    }

    private enum CodingKeys: String, CodingKey { case family, name, chains }

    public static func == (a: FirewallTable, b: FirewallTable) -> Bool {
        a.family == b.family && a.name == b.name && a.chains == b.chains
    }

    /// The name of a project's tables (one per family it needs): `netform_PROJECT`,
    /// with `-` written `_` (nft identifiers).
    public static func name(project: String) -> String {
        "netform_" + String(project.map { $0 == "-" ? "_" : $0 })
    }

    /// Whether this is a table of `project`: its name, in a family netform uses.
    public func belongs(to project: String) -> Bool {
        name == Self.name(project: project) && (family == "inet" || family == "bridge")
    }

    /// Whether any project of netform owns it (`netform_*`).
    public var isNetforms: Bool { name.hasPrefix("netform_") }

    /// `inet netform_seed`, as nft names it.
    public var qualifiedName: String { "\(family) \(name)" }

    /// One chain (a base chain when `base` is set).
    public struct Chain: Sendable, Equatable, Codable {
        public var name: String
        /// Base-chain settings; nil for a regular chain (reached by `jump`).
        public var base: Base?
        public var rules: [Rule]

        public init(name: String, base: Base?, rules: [Rule]) {
            self.name = name
            self.base = base
            self.rules = rules
        }

        /// Where a base chain hooks in.
        public struct Base: Sendable, Equatable, Codable {
            /// `filter`, `nat` or `route`.
            public var type: String
            public var hook: String
            public var priority: Int
            public var policy: String

            public init(type: String, hook: String, priority: Int, policy: String) {
                self.type = type
                self.hook = hook
                self.priority = priority
                self.policy = policy
            }
        }
    }

    /// One rule: its statements and a comment saying where it comes from.
    public struct Rule: Sendable, Equatable, Codable {
        /// The statements (nft JSON `expr`).
        public var expr: [JSONValue]
        /// `rule 2: deny proxy -> label:tier=web`; at most 127 bytes (nft's limit).
        public var comment: String

        public init(expr: [JSONValue], comment: String) {
            self.expr = expr
            self.comment = comment
        }

        /// The rule in nft's own syntax (`iifname "docker0" jump project`).
        public var nftText: String { NftText.statements(expr) }
    }

    /// The chain called `name`.
    public func chain(_ name: String) -> Chain? { chains.first { $0.name == name } }

    public var ruleCount: Int { chains.reduce(0) { $0 + $1.rules.count } }

    /// The table object as nft JSON names it.
    public var tableObject: JSONValue { ["table": ["family": .string(family), "name": .string(name)]] }

    /// The atomic replacement: `add table; delete table; add table; add chain…;
    /// add rule…`. A table that did not exist is created and deleted first, so the
    /// same batch works on a fresh host; a failure anywhere applies nothing.
    public var batch: JSONValue {
        var commands: [JSONValue] = [["add": tableObject], ["delete": tableObject], ["add": tableObject]]
        for chain in chains {
            var c: [String: JSONValue] = ["family": .string(family), "table": .string(name), "name": .string(chain.name)]
            if let b = chain.base {
                c["type"] = .string(b.type)
                c["hook"] = .string(b.hook)
                c["prio"] = .int(b.priority)
                c["policy"] = .string(b.policy)
            }
            commands.append(["add": ["chain": .object(c)]])
        }
        for chain in chains {
            for rule in chain.rules {
                commands.append(["add": ["rule": [
                    "family": .string(family), "table": .string(name), "chain": .string(chain.name),
                    "expr": .array(rule.expr), "comment": .string(rule.comment),
                ]]])
            }
        }
        return ["nftables": .array(commands)]
    }

    /// The batch that deletes the table if it exists (`add` first: no error when absent).
    public var deleteBatch: JSONValue { ["nftables": [["add": tableObject], ["delete": tableObject]]] }

    /// `batch` as canonical JSON text.
    public var canonicalJSON: String { batch.rendered }

    /// Feeds the table's content (chains, bases, rules) to `digest` in a fixed order,
    /// without building its JSON text: what a fingerprint digests.
    public func digest(into digest: inout StreamDigest) {
        digest.feed(family); digest.feed(name)
        for c in chains {
            digest.feed(ascii: UInt8(ascii: "c")); digest.feed(c.name)
            if let b = c.base { digest.feed(b.type); digest.feed(b.hook); digest.feed(String(b.priority)); digest.feed(b.policy) }
            for r in c.rules {
                digest.feed(ascii: UInt8(ascii: "r")); digest.feed(r.comment)
                for e in r.expr { e.digest(into: &digest) }
            }
        }
    }

    /// The same table with every anonymous set's elements in one order. The kernel
    /// keeps set elements in an order of its own (`{"nf-f1…", "nf-77…"}` comes back
    /// from `{"nf-77…", "nf-f1…"}`), and a set means the same in any order.
    ///
    /// The order is that of each element's canonical text (`JSONValue.rendered`).
    /// Cheap when the table is normalized already: only what is out of order is
    /// rebuilt (planning normalizes the same tables several times).
    public func normalized() -> FirewallTable {
        if isNormalized { return self }
        var t = self
        for c in t.chains.indices {
            for r in t.chains[c].rules.indices {
                for e in t.chains[c].rules[r].expr.indices {
                    if let sorted = Self.sortedSets(t.chains[c].rules[r].expr[e]) { t.chains[c].rules[r].expr[e] = sorted }
                }
            }
        }
        t.isNormalized = true
        return t
    }

    static func sortingSets(_ v: JSONValue) -> JSONValue { sortedSets(v) ?? v }

    /// `v` with the elements of its sets in canonical order; nil when they are already.
    static func sortedSets(_ v: JSONValue) -> JSONValue? {
        switch v {
        case .object(let m):
            var out: [String: JSONValue]?
            for (k, x) in m {
                let new: JSONValue?
                if k == "set", case .array(let items) = x {
                    new = sortedElements(items).map(JSONValue.array)
                } else {
                    new = sortedSets(x)
                }
                if let new {
                    if out == nil { out = m }
                    out![k] = new
                }
            }
            return out.map(JSONValue.object)
        case .array(let a):
            var out: [JSONValue]?
            for i in a.indices {
                if let new = sortedSets(a[i]) {
                    if out == nil { out = a }
                    out![i] = new
                }
            }
            return out.map(JSONValue.array)
        default:
            return nil
        }
    }

    /// A set's elements (their own sets sorted too) ordered by canonical text; nil
    /// when nothing changes.
    static func sortedElements(_ items: [JSONValue]) -> [JSONValue]? {
        // Keys: the canonical text, or, for a string of printable ASCII that JSON
        // writes as is between its quotes and that has no byte below `"`+1, the
        // string itself — it sorts exactly as its text does (`"a"` < `"ab"` as `a` <
        // `ab`). Addresses and interface names are such strings: no text is built for
        // them, and a set already in order (a table read back from the kernel is
        // normalized once, as it is observed) costs one comparison per element.
        var keys: [PlainKey] = []
        keys.reserveCapacity(items.count)
        var ordered = true
        for e in items {
            guard case .string(let s) = e, let key = PlainKey(s) else { break }
            if ordered, let p = keys.last, key < p { ordered = false }
            keys.append(key)
        }
        if keys.count == items.count {
            if ordered { return nil }
            var order = Array(items.indices)
            order.sort { keys[$0] < keys[$1] }
            return order.map { items[$0] }
        }
        var elements = items
        var changed = false
        for i in elements.indices {
            if let new = sortedSets(elements[i]) { elements[i] = new; changed = true }
        }
        let texts = elements.map(\.rendered)
        for i in texts.indices.dropFirst() where texts[i] < texts[i - 1] {
            return zip(texts, elements).sorted { $0.0 < $1.0 }.map(\.1)
        }
        return changed ? elements : nil
    }

    /// Printable ASCII from `#` on, without `\` and DEL: written as is in JSON, and
    /// ordered by `<` as its quoted text is.
    static func isPlain(_ s: String) -> Bool { PlainKey(s) != nil }

    /// A plain string's sort key: its first 16 bytes as two big-endian integers
    /// (zero-padded: every plain byte is above zero, so a prefix sorts first, as with
    /// `<`), the whole string compared only when both are longer. Plain strings are
    /// ASCII, where `String`'s `<` is the order of the bytes; this order is the same,
    /// without `String`'s comparison per pair (set elements are addresses and
    /// interface names, at most 16 bytes for IPv4 and most IPv6 hosts).
    struct PlainKey: Comparable {
        var high: UInt64
        var low: UInt64
        /// The string itself when it has more than 16 bytes.
        var long: String?

        init?(_ s: String) {
            guard let (high, low, count) = s.utf8.withContiguousStorageIfAvailable(Self.pack) ?? Array(s.utf8).withUnsafeBufferPointer(Self.pack)
            else { return nil }
            self.high = high
            self.low = low
            long = count > 16 ? s : nil
        }

        /// The first 16 bytes packed, and the length; nil when a byte is not plain.
        private static func pack(_ bytes: UnsafeBufferPointer<UInt8>) -> (UInt64, UInt64, Int)? {
            var high: UInt64 = 0, low: UInt64 = 0
            for i in bytes.indices {
                let b = bytes[i]
                guard b > 0x22, b < 0x7f, b != 0x5c else { return nil }
                if i < 8 { high |= UInt64(b) &<< UInt64(56 - 8 * i) } else if i < 16 { low |= UInt64(b) &<< UInt64(120 - 8 * i) }
            }
            return (high, low, bytes.count)
        }

        static func < (a: PlainKey, b: PlainKey) -> Bool {
            if a.high != b.high { return a.high < b.high }
            if a.low != b.low { return a.low < b.low }
            guard let x = a.long, let y = b.long else { return a.long == nil && b.long != nil }
            return x.utf8.lexicographicallyPrecedes(y.utf8)
        }
    }
}

/// One line of a firewall diff: a rule (or a chain's settings) added or removed.
public struct FirewallRuleChange: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case added, removed }
    public var kind: Kind
    public var chain: String
    /// nft syntax, with the rule's comment; `chain` is "chain" for a chain's own
    /// settings (then `text` names the chain).
    public var text: String
}

extension FirewallTable {
    /// What changes from `old` to `self`, chain by chain, rule by rule (a rule that
    /// moved shows as removed and added): what `plan` prints under a firewall step.
    public func changes(from old: FirewallTable?) -> [FirewallRuleChange] {
        let old = old?.normalized()
        let new = normalized()
        var out: [FirewallRuleChange] = []
        var names: [String] = new.chains.map(\.name)
        for c in old?.chains ?? [] where !names.contains(c.name) { names.append(c.name) }
        for name in names {
            let a = old?.chain(name)
            let b = new.chain(name)
            if a?.base != b?.base || (a == nil) != (b == nil) {
                if let a { out.append(.init(kind: .removed, chain: "chain", text: Self.describe(chainOf: a))) }
                if let b { out.append(.init(kind: .added, chain: "chain", text: Self.describe(chainOf: b))) }
            }
            let before = a?.rules ?? []
            let after = b?.rules ?? []
            for (kind, rule) in Self.ruleDiff(before, after) {
                out.append(.init(kind: kind, chain: name, text: "\(rule.nftText)" + (rule.comment.isEmpty ? "" : "  # \(rule.comment)")))
            }
        }
        return out
    }

    static func describe(chainOf c: Chain) -> String {
        guard let b = c.base else { return c.name }
        return "\(c.name) { type \(b.type) hook \(b.hook) priority \(b.priority); policy \(b.policy); }"
    }

    /// Removed and added rules, by a longest common subsequence (rule lists are
    /// short; above 4M comparisons, a plain multiset difference).
    static func ruleDiff(_ a: [Rule], _ b: [Rule]) -> [(FirewallRuleChange.Kind, Rule)] {
        if a == b { return [] }
        if a.count * b.count > 4_000_000 {
            var out: [(FirewallRuleChange.Kind, Rule)] = []
            var rest = b
            for r in a {
                if let i = rest.firstIndex(of: r) { rest.remove(at: i) } else { out.append((.removed, r)) }
            }
            return out + rest.map { (.added, $0) }
        }
        let n = a.count, m = b.count
        var lcs = Array(repeating: Array(repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var out: [(FirewallRuleChange.Kind, Rule)] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n, j < m, a[i] == b[j] { i += 1; j += 1 }
            else if j < m, i == n || lcs[i][j + 1] >= lcs[i + 1][j] { out.append((.added, b[j])); j += 1 }
            else { out.append((.removed, a[i])); i += 1 }
        }
        return out
    }
}

/// nft JSON statements written in nft's own syntax, for people (`plan`, `explain`).
/// Only for display: what netform sends is always the JSON.
public enum NftText {
    public static func statements(_ expr: [JSONValue]) -> String {
        expr.map(statement).joined(separator: " ")
    }

    static func statement(_ s: JSONValue) -> String {
        guard case .object(let m) = s, m.count == 1, let (key, body) = m.first else { return s.rendered }
        switch key {
        case "match":
            let left = expression(body["left"] ?? .null)
            let right = expression(body["right"] ?? .null)
            let op = body["op"]?.stringValue ?? "=="
            switch op {
            case "==", "in": return "\(left) \(right)"
            default: return "\(left) \(op) \(right)"
            }
        case "accept", "drop", "return", "continue": return key
        case "masquerade": return "masquerade"
        case "counter": return "counter"
        case "jump", "goto": return "\(key) \(body["target"]?.stringValue ?? "?")"
        case "dnat", "snat":
            let family = body["family"]?.stringValue.map { "\($0) " } ?? ""
            var to = body["addr"].map(expression) ?? ""
            if let p = body["port"] { to += ":\(expression(p))" }
            return "\(key) \(family)to \(to)"
        case "reject": return "reject"
        case "log": return "log" + (body["prefix"]?.stringValue.map { " prefix \"\($0)\"" } ?? "")
        default: return s.rendered
        }
    }

    /// nft prints keywords and addresses bare, names (interfaces, comments) quoted.
    static func bare(_ s: String) -> Bool {
        if s.isEmpty { return false }
        if ["ipv4", "ipv6", "ipv6-icmp", "icmpv6"].contains(s) { return true }
        if s.allSatisfy({ ("a"..."z").contains($0) || $0 == "-" }) { return true }
        return (s.contains(".") || s.contains(":")) && s.allSatisfy { $0.isHexDigit || $0 == "." || $0 == ":" }
    }

    static func expression(_ e: JSONValue) -> String {
        switch e {
        case .string(let s): return bare(s) ? s : "\"\(s)\""
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .array(let items): return items.map(expression).joined(separator: ",")
        case .object(let m):
            if let meta = m["meta"] { return meta["key"]?.stringValue ?? meta.rendered }
            if let p = m["payload"] {
                return "\(p["protocol"]?.stringValue ?? "?") \(p["field"]?.stringValue ?? "?")"
            }
            if let ct = m["ct"] { return "ct \(ct["key"]?.stringValue ?? "?")" }
            if let fib = m["fib"] {
                let flags = fib["flags"]?.arrayValue.compactMap(\.stringValue) ?? fib["flags"]?.stringValue.map { [$0] } ?? []
                return "fib \(flags.joined(separator: " . ")) \(fib["result"]?.stringValue ?? "?")"
            }
            if let set = m["set"] {
                if case .array(let items) = set { return "{ " + items.map(expression).joined(separator: ", ") + " }" }
                return expression(set)
            }
            if let p = m["prefix"] { return "\(p["addr"].map(expression) ?? "?")/\(p["len"]?.intValue ?? 0)" }
            if let r = m["range"] { let a = r.arrayValue; return a.count == 2 ? "\(expression(a[0]))-\(expression(a[1]))" : r.rendered }
            return e.rendered
        }
    }
}

extension FirewallTable {
    /// The tables of an `nft -j list ruleset` (or `list table`) listing, chains and
    /// rules in the kernel's order. Handles are dropped (they change with every
    /// replace); sets, maps and other objects of foreign tables are not kept.
    public static func tables(fromListing listing: JSONValue) -> [FirewallTable] {
        var tables: [FirewallTable] = []
        var index: [String: Int] = [:]
        func key(_ family: String, _ name: String) -> String { family + " " + name }
        for item in listing["nftables"]?.arrayValue ?? listing.arrayValue {
            if let t = item["table"], let f = t["family"]?.stringValue, let n = t["name"]?.stringValue {
                index[key(f, n)] = tables.count
                tables.append(FirewallTable(family: f, name: n, chains: []))
            } else if let c = item["chain"], let f = c["family"]?.stringValue, let t = c["table"]?.stringValue,
                      let n = c["name"]?.stringValue, let i = index[key(f, t)] {
                var base: Chain.Base?
                if let type = c["type"]?.stringValue, let hook = c["hook"]?.stringValue {
                    base = Chain.Base(type: type, hook: hook, priority: c["prio"]?.intValue ?? 0,
                                      policy: c["policy"]?.stringValue ?? "accept")
                }
                tables[i].chains.append(Chain(name: n, base: base, rules: []))
            } else if let r = item["rule"], let f = r["family"]?.stringValue, let t = r["table"]?.stringValue,
                      let chain = r["chain"]?.stringValue, let i = index[key(f, t)],
                      let c = tables[i].chains.firstIndex(where: { $0.name == chain }) {
                tables[i].chains[c].rules.append(Rule(expr: r["expr"]?.arrayValue ?? [], comment: r["comment"]?.stringValue ?? ""))
            }
        }
        return tables
    }
}
