import Addressing
import Model
import Spec

/// A spec for a topology built by hand (or by another tool): bridges with their
/// addresses, the namespaces their veths lead to and the addresses there — and the
/// `ip` commands that remove the hand-made links, so that netform can build them
/// again as the project's.
///
/// Why it exists: a lab wired with `ip` scripts has no netform marks, and netform
/// never changes an object it does not own; "adopting" such a bridge in place would
/// mean changing a foreign object. So the import splits the work: what must not be
/// recreated — the namespaces, where the processes live — is adopted (`netns:`) and
/// never touched; what can be recreated — bridges, veths, their addresses and routes
/// — is written into the spec with the same names, addresses and MACs, and listed in
/// a teardown script the user reviews and runs. `apply` then builds them again,
/// marked. netform itself deletes nothing foreign, ever.
public struct ForeignImport: Sendable, Equatable {
    public var spec: Spec
    public var notes: [String]
    /// Shell lines (comments and `ip link delete …`), in the order to run them.
    public var teardown: [String]
    /// The observed state with the teardown done: what `apply` will find.
    public var afterTeardown: HostState
}

/// Why a hand-made bridge cannot be imported.
public struct ForeignImportError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

extension SpecImporter {
    /// The spec of project `project` made of the foreign bridges named, every
    /// namespace their veths lead to (adopted), and the addresses found there.
    public static func importForeign(project: String, bridges: [String], from observed: HostState) throws(ForeignImportError) -> ForeignImport {
        guard let host = observed[.host] else { throw ForeignImportError(message: "the host namespace was not read") }
        var networks: [NetworkSpec] = []
        var containers: [ContainerSpec] = []
        var notes: [String] = []
        var teardown: [String] = ["# Written by `netform import --bridge`: removes the hand-made links that the imported spec",
                                  "# builds again as project \(project)'s. The namespaces stay (the spec adopts them).",
                                  "# Review it, run it, then: netform apply SPEC",
                                  "set -e"]
        var after = observed
        for name in bridges {
            guard let bridge = host.link(named: name) else { throw ForeignImportError(message: "no link '\(name)' on this host") }
            guard bridge.kind == .bridge else { throw ForeignImportError(message: "'\(name)' is a \(bridge.kind.name), not a bridge") }
            if let owner = bridge.owner {
                throw ForeignImportError(message: "bridge '\(name)' is netform's (project \(owner.project)): import it with `netform import --project \(owner.project)`")
            }
            let subnets: [SubnetSpec] = host.addresses.filter { $0.link == name && !isLinkLocal($0.address) }.compactMap { a in
                guard let net = a.subnet else { return nil }
                return SubnetSpec(subnet: net, gateway: a.address, ipRange: net)
            }
            guard !subnets.isEmpty else {
                throw ForeignImportError(message: "bridge '\(name)' has no address: a netform network needs a subnet and its gateway on the bridge (add one with `ip addr add`)")
            }
            let ports = host.links.filter { $0.master == name }
            var isolated = 0
            var portLines: [String] = []
            for port in ports {
                guard case .veth(let peer) = port.kind else {
                    throw ForeignImportError(message: "bridge '\(name)' has port '\(port.name)' (\(port.kind.name)), not a veth to a namespace; netform can only build veth ports")
                }
                guard let peer, peer.namespace != .host, let ns = observed[peer.namespace], let end = ns.link(named: peer.name) else {
                    throw ForeignImportError(message: "bridge '\(name)': the other end of port '\(port.name)' is in a namespace netform cannot see (give it with --netns PATH)")
                }
                if end.owner != nil || port.owner != nil {
                    throw ForeignImportError(message: "bridge '\(name)': port '\(port.name)' is marked netform's; it is not hand-made")
                }
                if port.isolated { isolated += 1 }
                let own = ns.addresses.filter { $0.link == end.name && !isLinkLocal($0.address) }
                var a = Attachment(network: name, interface: end.name)
                a.mac = end.mac
                for addr in own {
                    guard subnets.contains(where: { $0.subnet.contains(addr.address) && $0.subnet.prefixLength == addr.prefixLength }) else {
                        notes.append("\(peer.namespace) \(end.name): address \(addr.address)/\(addr.prefixLength) is outside \(name)'s subnets; it goes with the veth")
                        continue
                    }
                    switch addr.address {
                    case .v4(let v) where a.ipv4 == nil: a.ipv4 = v
                    case .v6(let v) where a.ipv6 == nil: a.ipv6 = v
                    default: notes.append("\(peer.namespace) \(end.name): a second address \(addr.address) is not imported (one per family)")
                    }
                }
                // Routes through the veth go with it. netform makes the default route
                // through a gateway again, and the kernel the subnet's own route; any
                // other is said.
                for r in ns.routes where r.device == end.name {
                    if let d = r.destination, subnets.contains(where: { $0.subnet == d }) { continue }
                    if r.destination == nil, subnets.contains(where: { $0.gateway == r.gateway }) { continue }
                    notes.append("\(peer.namespace): route \(r) goes with the veth and is not recreated")
                }
                let containerName = containerName(for: peer.namespace)
                if let i = containers.firstIndex(where: { $0.name == containerName }) {
                    containers[i].networking = .attached(containers[i].attachments + [a])
                } else {
                    var c = ContainerSpec(name: containerName, networking: .attached([a]))
                    c.netns = reference(peer.namespace)
                    containers.append(c)
                }
                let addrs = own.map { "\($0.address)/\($0.prefixLength)" }.joined(separator: " ")
                portLines.append("ip link delete \(shellWord(port.name))   # veth to \(end.name) in \(peer.namespace)\(addrs.isEmpty ? "" : " (\(addrs))")")
                after[.host]?.links.removeAll { $0.name == port.name }
                after[.host]?.addresses.removeAll { $0.link == port.name }
                after[peer.namespace]?.links.removeAll { $0.name == end.name }
                after[peer.namespace]?.addresses.removeAll { $0.link == end.name }
                after[peer.namespace]?.routes.removeAll { $0.device == end.name }
                after[peer.namespace]?.neighbours.removeAll { $0.link == end.name }
            }
            networks.append(NetworkSpec(name: name, device: name, subnets: subnets, icc: ports.isEmpty || isolated < ports.count,
                                        masquerade: false, mtu: bridge.mtu))
            teardown += portLines
            teardown.append("ip link delete \(shellWord(name))   # bridge (\(subnets.map { "\($0.gateway)/\($0.subnet.prefixLength)" }.joined(separator: " ")))")
            after[.host]?.links.removeAll { $0.name == name }
            after[.host]?.addresses.removeAll { $0.link == name }
            after[.host]?.routes.removeAll { $0.device == name }
            after[.host]?.fdb.removeAll { $0.link == name }
        }
        // Containers' default routes: netform gives one through the first network of
        // each family; a hand-made default route elsewhere is said.
        for c in containers {
            guard let ref = c.netns.map(namespaceRef), let ns = observed[ref] else { continue }
            for r in ns.routes where r.destination == nil {
                let via = c.attachments.first { $0.interface == r.device }
                let net = via.flatMap { a in networks.first { $0.name == a.network } }
                if net == nil || net?.subnets.contains(where: { $0.gateway == r.gateway }) != true {
                    notes.append("container '\(c.name)': its default route (\(r)) is not through a bridge's gateway; netform routes through \(c.attachments.first?.network ?? "-")'s")
                }
            }
        }
        notes.append("the bridges come back with netform's fixed MAC addresses (containers re-learn them by ARP) and new host-side veth names (nfv…)")
        notes.append("masquerade is off on the imported networks (the hand-made setup's own NAT rules, if any, stay as they are); netform's table isolates them from other networks as Docker does")
        return ForeignImport(spec: Spec(project: project, networks: networks, containers: containers),
                             notes: notes, teardown: teardown, afterTeardown: after)
    }

    static func isLinkLocal(_ a: IPAddress) -> Bool {
        if case .v6(let v) = a { return v.high >> 54 == 0x3fa }
        return false
    }

    /// An adopted namespace's container name: its `ip netns` name, or `pidN`.
    static func containerName(for ref: NamespaceRef) -> String {
        switch ref {
        case .named(let n): return n
        case .path(let p):
            if p.hasPrefix("/proc/"), p.hasSuffix("/ns/net") { return "pid" + p.dropFirst(6).dropLast(7) }
            return String(p.split(separator: "/").last ?? "ns")
        case .host: return "host"
        }
    }

    static func reference(_ ref: NamespaceRef) -> NamespaceReference {
        switch ref {
        case .named(let n): return .name(n)
        case .path(let p):
            if p.hasPrefix("/proc/"), p.hasSuffix("/ns/net"), let pid = Int32(p.dropFirst(6).dropLast(7)) { return .pid(pid) }
            return .path(p)
        case .host: return .path("/proc/self/ns/net")
        }
    }

    static func namespaceRef(_ r: NamespaceReference) -> NamespaceRef {
        switch r {
        case .name(let n): .named(n)
        case .path(let p): .path(p)
        case .pid(let pid): .path("/proc/\(pid)/ns/net")
        }
    }

    /// A word the shell reads as itself (interface names are mostly plain).
    static func shellWord(_ s: String) -> String {
        s.allSatisfy { $0.isLetter || $0.isNumber || "_.-@".contains($0) } ? s : "'" + s.replacingAll("'", "'\\''") + "'"
    }
}

extension String {
    func replacingAll(_ a: Character, _ b: String) -> String { map { $0 == a ? b : String($0) }.joined() }
}
