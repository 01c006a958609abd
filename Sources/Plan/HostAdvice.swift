import Model

/// What on the host, outside netform's own objects, will stop the spec's traffic:
/// said in `plan` and `apply` before anyone relies on the result.
///
/// Why it exists: another tool's base chain on the forward hook with a drop policy
/// (Docker sets `iptables -P FORWARD DROP`, i.e. `table ip filter`, chain `FORWARD`,
/// through iptables-nft) drops packets the project's own table accepted — an accept in
/// one base chain does not override a drop in another. netform never edits that
/// table; it names it and the fix its owner knows.
public enum HostAdvice {
    public static func warnings(desired: DesiredState, observed: HostState) -> [String] {
        guard let want = desired.state[.host], !want.firewall.isEmpty, let have = observed[.host] else { return [] }
        let bridges = want.links.filter { $0.kind == .bridge }.map(\.name)
        guard !bridges.isEmpty else { return [] }
        // What a container sends to a neighbour on its own network, as the forward hook
        // sees it (netform's bridges pass bridged traffic to netfilter).
        let group = OwnerMark.linkGroup(project: desired.project)
        let probes: [ForwardedPacket] = want.addresses.compactMap { a in
            guard bridges.contains(a.link), a.address.family == .v4 else { return nil }
            return ForwardedPacket(family: .v4, iifname: a.link, oifname: a.link, iifgroup: group, oifgroup: group,
                                   saddr: a.address, daddr: a.address, l4proto: "icmp")
        }
        var out: [String] = []
        for table in have.firewall where !table.isNetforms && ["ip", "ip6", "inet", "bridge"].contains(table.family) {
            for chain in table.chains {
                guard let base = chain.base, base.hook == "forward", base.type == "filter", base.policy == "drop" else { continue }
                // Its rules may already let netform's bridges through (DOCKER-USER accepts).
                if !probes.isEmpty, probes.allSatisfy({ PacketFilter.forward($0, tables: [table]).accepted }) { continue }
                var text = "table \(table.qualifiedName), chain \(chain.name) (hook forward, policy drop) belongs to another tool and drops forwarded traffic that netform's rules allow "
                    + "(between networks where a rule allows it, published ports, traffic to the outside; with br_netfilter also traffic within a network)"
                if table.family == "ip" || table.family == "ip6", table.name == "filter" {
                    let chains = Set(table.chains.map(\.name))
                    let target = chains.contains("DOCKER-USER") ? "DOCKER-USER" : chain.name
                    let cmd = table.family == "ip6" ? "ip6tables" : "iptables"
                    text += ". If Docker or iptables manages it, let netform's bridges through: "
                        + bridges.map { "\(cmd) -I \(target) -i \($0) -j ACCEPT; \(cmd) -I \(target) -o \($0) -j ACCEPT" }.joined(separator: "; ")
                }
                out.append(text)
            }
        }
        return out
    }
}
