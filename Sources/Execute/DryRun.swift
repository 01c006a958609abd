import Model

/// Renders operations as the iproute2 commands that would do the same, for
/// `apply --dry-run` and for error messages: what netform does, in the words an
/// operator already knows. (netform itself talks netlink; it never runs `ip`.)
public enum DryRun {
    public static func commands(for op: Operation) -> [String] {
        switch op {
        case .createNamespace(let name, let owner):
            return ["ip netns add \(name)", "ip -n \(name) link set lo up alias \(q(owner.alias))"]
        case .deleteNamespace(let name):
            return ["ip netns delete \(name)"]
        case .createBridge(let ns, let name, let mtu, let mac, let alias):
            return [ip(ns, "link add \(name)\(mac.map { " address \($0)" } ?? "") mtu \(mtu) type bridge nf_call_iptables 1 nf_call_ip6tables 1"),
                    ip(ns, "link set \(name) alias \(q(alias)) up")]
        case .createVeth(let ns, let name, let mac, let master, let mtu, let alias, let peer, let peerMac, let peerAlias):
            return [ip(ns, "link add \(name)\(mac.map { " address \($0)" } ?? "") mtu \(mtu)\(master.map { " master \($0)" } ?? "") up type veth peer name \(peer.name)"
                        + "\(peerMac.map { " address \($0)" } ?? "") mtu \(mtu) netns \(peer.namespace)"),
                    ip(ns, "link set \(name) alias \(q(alias))"),
                    ip(peer.namespace, "link set \(peer.name) alias \(q(peerAlias)) up")]
        case .createVXLAN(let ns, let name, let s, let master, let mtu, let mac, let alias):
            var line = "link add \(name)\(mac.map { " address \($0)" } ?? "") mtu \(mtu) type vxlan id \(s.vni) dstport \(s.port) nolearning"
            if let l = s.local { line += " local \(l)" }
            if let d = s.device { line += " dev \(d)" }
            return [ip(ns, line), ip(ns, "link set \(name)\(master.map { " master \($0)" } ?? "") alias \(q(alias)) up")]
        case .createMacvlan(let ns, let name, let parent, let mode, let mtu, let mac, let alias):
            return ["ip link add \(name) link \(parent)\(mac.map { " address \($0)" } ?? "") mtu \(mtu)\(ns == .host ? "" : " netns \(ns)") type macvlan mode \(mode)",
                    ip(ns, "link set \(name) alias \(q(alias)) up")]
        case .setLink(let ns, let name, let c):
            var out: [String] = []
            if let mac = c.mac { out += [ip(ns, "link set \(name) down"), ip(ns, "link set \(name) address \(mac)")] }
            var parts: [String] = []
            if let mtu = c.mtu { parts.append("mtu \(mtu)") }
            if let master = c.master { parts.append(master.map { "master \($0)" } ?? "nomaster") }
            if let alias = c.alias { parts.append("alias \(q(alias))") }
            if let group = c.group { parts.append("group \(group)") }
            if let up = c.isUp { parts.append(up ? "up" : "down") } else if c.mac != nil { parts.append("up") }
            if !parts.isEmpty { out.append(ip(ns, "link set \(name) " + parts.joined(separator: " "))) }
            if let nf = c.bridgeNetfilter { out.append(ip(ns, "link set \(name) type bridge nf_call_iptables \(nf ? 1 : 0) nf_call_ip6tables \(nf ? 1 : 0)")) }
            if let iso = c.isolated { out.append(prefix(ns, "bridge") + "link set dev \(name) isolated \(iso ? "on" : "off")") }
            return out
        case .deleteLink(let ns, let name):
            return [ip(ns, "link delete \(name)")]
        case .addAddress(let ns, let a):
            return [ip(ns, "addr add \(a.address)/\(a.prefixLength) dev \(a.link)\(a.address.family == .v6 ? " nodad" : "")")]
        case .deleteAddress(let ns, let a):
            return [ip(ns, "addr del \(a.address)/\(a.prefixLength) dev \(a.link)")]
        case .addRoute(let ns, let r):
            return [ip(ns, "\(r.family == .v6 ? "-6 " : "")route add \(route(r))")]
        case .deleteRoute(let ns, let r):
            return [ip(ns, "\(r.family == .v6 ? "-6 " : "")route del \(route(r))")]
        case .addNeighbour(let ns, let n):
            return [ip(ns, "neigh add \(n.address) lladdr \(n.mac) dev \(n.link) nud permanent")]
        case .deleteNeighbour(let ns, let n):
            return [ip(ns, "neigh del \(n.address) dev \(n.link)")]
        case .addFDBEntry(let ns, let e):
            return [prefix(ns, "bridge") + "fdb append \(e.mac) dev \(e.link)\(e.destination.map { " dst \($0)" } ?? "")"]
        case .deleteFDBEntry(let ns, let e):
            return [prefix(ns, "bridge") + "fdb del \(e.mac) dev \(e.link)\(e.destination.map { " dst \($0)" } ?? "")"]
        case .replaceFirewallTable(let ns, let table):
            // The exact batch libnftables gets (one atomic transaction).
            return [prefix(ns, "nft") + "-j -f - <<'NFT'", table.batch.rendered, "NFT"]
        case .deleteFirewallTable(let ns, let family, let name):
            return [prefix(ns, "nft") + "delete table \(family) \(name)"]
        case .setSysctl(let ns, let key, let value):
            return [prefix(ns, "sysctl") + "-w \(key)=\(value)"]
        case .writeNamespaceFile(let f):
            let dir = "\(NamespaceFile.directory)/\(f.namespace)"
            return ["mkdir -p \(q(dir)) && cat > \(q(f.path)) <<'EOF'"] + f.content.split(separator: "\n", omittingEmptySubsequences: false)
                .dropLast(f.content.hasSuffix("\n") ? 1 : 0).map(String.init) + ["EOF"]
        case .deleteNamespaceFile(let namespace, let name, _):
            let dir = "\(NamespaceFile.directory)/\(namespace)"
            return ["rm -f \(q(dir + "/" + name)); rmdir --ignore-fail-on-non-empty \(q(dir))"]
        case .claimStoreKey(let key, let value):
            return ["store create-if-absent \(key) \(q(value))"]
        case .putStoreKey(let key, let value):
            return ["store put \(key) \(q(value))"]
        case .deleteStoreKey(let key):
            return ["store delete \(key)"]
        case .collectStoreKey(let key, let guardKey):
            return ["store delete \(key) if absent \(guardKey)"]
        case .storeTransaction(let txn):
            return ["store txn <<'TXN'"] + txn.creates.map { "create-if-absent \($0.key) \(q($0.value))" }
                + txn.puts.map { "put \($0.key) \(q($0.value))" } + txn.deletes.map { "delete \($0)" } + ["TXN"]
        }
    }

    /// One short line for an operation, for error messages and progress (a firewall
    /// batch is named, not printed whole).
    public static func describe(_ op: Operation) -> String {
        if case .replaceFirewallTable(let ns, let table) = op {
            return prefix(ns, "nft") + "-j -f - (replace table \(table.qualifiedName): \(table.chains.count) chains, \(table.ruleCount) rules)"
        }
        if case .writeNamespaceFile(let f) = op {
            return "write \(f.path) (\(f.lineCount) lines)"
        }
        if case .storeTransaction(let txn) = op {
            return "store txn (\(txn.creates.count) create-if-absent, \(txn.puts.count) put, \(txn.deletes.count) delete: \(txn.keys.first ?? "")…)"
        }
        return commands(for: op).joined(separator: "; ")
    }

    static func route(_ r: RouteState) -> String {
        var s = r.destination?.description ?? "default"
        if let g = r.gateway { s += " via \(g)" }
        if let d = r.device { s += " dev \(d)" }
        s += " proto \(r.proto)"
        if r.table != 254 { s += " table \(r.table)" }
        return s
    }

    static func ip(_ ns: NamespaceRef, _ rest: String) -> String { prefix(ns, "ip") + rest }

    static func prefix(_ ns: NamespaceRef, _ tool: String) -> String {
        switch ns {
        case .host: "\(tool) "
        case .named(let n): tool == "ip" ? "ip -n \(n) " : "ip netns exec \(n) \(tool) "
        case .path(let p): "nsenter --net=\(p) \(tool) "
        }
    }

    static func q(_ s: String) -> String {
        s.allSatisfy { $0.isLetter || $0.isNumber || "-_./:".contains($0) } ? s : "'\(s)'"
    }
}
