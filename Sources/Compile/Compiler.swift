import Addressing
import Model
import Spec

/// A container's interface on one network, as compiled: what `network inspect`
/// shows and what the veth, addresses and routes are made from.
public struct Endpoint: Sendable, Equatable, Codable {
    public var container: String
    public var network: String
    public var namespace: NamespaceRef
    /// Interface name inside the container.
    public var interface: String
    /// The host end of the veth (bridge and overlay networks).
    public var hostVeth: String?
    public var ipv4: AddressState?
    public var ipv6: AddressState?
    public var mac: MACAddress?
}

/// The result of compiling a spec against a host: the Desired state and the
/// per-container details that produced it.
public struct CompiledSpec: Sendable, Equatable {
    public var desired: DesiredState
    public var endpoints: [Endpoint]
    /// Parts of the spec this version does not enforce yet, said plainly.
    public var unenforced: [String] = []
    /// What the firewall cannot express of the spec (a rule that matches nothing, a
    /// published port without a target), said plainly.
    public var notes: [String] = []
    /// Containers this plan must not build because the cluster store could not be
    /// read and they need a claim there (a new overlay address), with why.
    public var blockedByStore: [String: String] = [:]
}

/// Why a spec cannot be compiled for this host (beyond what `validate` can know).
public struct CompileError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Spec + Observed → Desired: names, addresses, MACs, routes and ownership marks.
///
/// Deterministic: the same spec and the same live state always give the same
/// Desired state. Addresses are sticky — a running container keeps the address it
/// has — so re-applying a spec never renumbers a live container.
public enum Compiler {
    /// - Parameters:
    ///   - localHost: this host's name; containers placed on another host (`host:`)
    ///     are left to that host.
    ///   - namespaceAliases: adopted namespaces given by path or PID that are the
    ///     same namespace as a named one (`/run/netns/NAME`, `ip netns exec NAME ...`)
    ///     or the host's, mapped to that ref. Without this the planner would see one
    ///     namespace under two refs and move netform's interfaces between them.
    ///   - refusedNamespaces: namespaces that may not be adopted (init's), keyed by
    ///     the ref the spec gives, with why; a container adopting one is an error.
    public static func compile(_ spec: Spec, observed: HostState, localHost: String? = nil,
                               namespaceAliases: [NamespaceRef: NamespaceRef] = [:],
                               refusedNamespaces: [NamespaceRef: String] = [:],
                               cluster: ClusterView? = nil) throws(CompileError) -> CompiledSpec {
        let project = spec.project
        var desired = HostState()
        var host = NamespaceState(ref: .host)
        var created = Set<NamespaceRef>()
        var adopted = Set<NamespaceRef>()
        var endpoints: [Endpoint] = []
        let networks = Dictionary(spec.networks.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })

        let placed = spec.containers.filter { c in
            guard c.networking != .host else { return false }
            return c.host == nil || c.host == localHost
        }
        // Sized once: grown by doubling, the host's veths and the endpoints of 50,000
        // containers held up to twice their size.
        let attachments = placed.reduce(0) { $0 + $1.attachments.count }
        endpoints.reserveCapacity(attachments)
        host.links.reserveCapacity(attachments + 2 * spec.networks.count)
        desired.namespaces.reserveCapacity(placed.count + 1)

        // Networks: a bridge (and for overlays a VXLAN port) in the host namespace,
        // holding each subnet's gateway address.
        for net in spec.networks where net.driver != .macvlan {
            let mark = OwnerMark.network(project, net.name)
            host.links.append(LinkState(name: net.device, kind: .bridge, mtu: net.mtu, isUp: true,
                                        mac: Naming.deviceMAC(project: project, device: net.device), alias: mark.alias,
                                        bridgeNetfilter: true))
            for s in net.subnets {
                host.addresses.append(AddressState(link: net.device, address: s.gateway, prefixLength: s.subnet.prefixLength))
            }
            if net.driver == .overlay, let vni = net.vni {
                host.links.append(LinkState(name: Naming.vxlan(project: project, network: net.name),
                                            kind: .vxlan(VXLANSettings(vni: vni)), mtu: net.mtu, isUp: true,
                                            master: net.device, alias: mark.alias))
            }
        }

        // Addresses other hosts hold on overlay networks are never handed out here; a
        // static address another host holds is an error naming it.
        let elsewhere = cluster?.claimedElsewhere(project: project) ?? [:]
        for c in placed {
            for a in c.attachments {
                for ip in [a.ipv4.map(IPAddress.v4), a.ipv6.map(IPAddress.v6)].compactMap({ $0 }) where elsewhere[a.network]?.contains(ip) == true {
                    let who = cluster.flatMap { $0.entries[StoreLayout.claim(project: project, network: a.network, address: ip)] }
                        .flatMap(StoreLayout.owner(of:)) ?? "another host"
                    throw CompileError("container '\(c.name)': address \(ip) on network '\(a.network)' is held by host '\(who)' (cluster store)")
                }
            }
        }
        var ipam = AddressAllocator(spec: spec, observed: observed, project: project, containers: placed, aliases: namespaceAliases,
                                    taken: elsewhere)
        var adoptedBy: [NamespaceRef: String] = [:]

        for c in placed {
            let ref = namespaceRef(c, project: project, aliases: namespaceAliases)
            var ns: NamespaceState
            if c.netns == nil {
                let owner = OwnerMark.container(project, c.name)
                ns = NamespaceState(ref: ref, owner: owner,
                                    links: [LinkState(name: "lo", kind: .loopback, mtu: 65536, isUp: true, alias: owner.alias)])
                created.insert(ref)
            } else {
                if let why = refusedNamespaces[namespaceRef(c, project: project, aliases: [:])] {
                    throw CompileError("container '\(c.name)': its netns is \(why)")
                }
                if ref == .host {
                    throw CompileError("container '\(c.name)': its netns is this host's own namespace; use `networks: [host]` to share the host's stack")
                }
                if let other = adoptedBy[ref] {
                    throw CompileError("containers '\(other)' and '\(c.name)' both adopt namespace \(ref)")
                }
                adoptedBy[ref] = c.name
                ns = NamespaceState(ref: ref)
                adopted.insert(ref)
            }

            var defaultRoute: [IPFamily: Bool] = [:]
            for a in c.attachments {
                guard let net = networks[a.network] else { throw CompileError("container '\(c.name)': unknown network '\(a.network)'") }
                let mark = OwnerMark.endpoint(project, container: c.name, network: net.name)
                var ep = Endpoint(container: c.name, network: net.name, namespace: ref, interface: a.interface)
                for family in IPFamily.allCases {
                    guard let sub = net.primarySubnet(family) else { continue }
                    let address = try ipam.address(for: c.name, network: net, family: family, subnet: sub)
                    let state = AddressState(link: a.interface, address: address.address, prefixLength: address.prefixLength)
                    if family == .v4 { ep.ipv4 = state } else { ep.ipv6 = state }
                    ns.addresses.append(state)
                    if defaultRoute[family] == nil, !net.isInternal, let gw = address.gateway {
                        ns.routes.append(RouteState(destination: nil, family: family, gateway: gw, device: a.interface))
                        defaultRoute[family] = true
                    }
                }
                ep.mac = a.mac ?? ep.ipv4.flatMap { if case .v4(let v) = $0.address { MACAddress(derivedFrom: v) } else { nil } }

                switch net.driver {
                case .bridge, .overlay:
                    let veth = Naming.hostVeth(project: project, container: c.name, network: net.name)
                    ep.hostVeth = veth
                    host.links.append(LinkState(name: veth, kind: .veth(peer: VethPeerRef(namespace: ref, name: a.interface)),
                                                mtu: net.mtu, isUp: true, mac: Naming.deviceMAC(project: project, device: veth),
                                                master: net.device, alias: mark.alias, isolated: !net.icc))
                    ns.links.append(LinkState(name: a.interface, kind: .veth(peer: VethPeerRef(namespace: .host, name: veth)),
                                              mtu: net.mtu, isUp: true, mac: ep.mac, alias: mark.alias))
                case .macvlan:
                    ns.links.append(LinkState(name: a.interface, kind: .macvlan(parent: net.parent ?? "", mode: (net.macvlanMode ?? .bridge).rawValue),
                                              mtu: net.mtu, isUp: true, mac: ep.mac, alias: mark.alias))
                }
                endpoints.append(ep)
            }
            desired[ref] = ns
        }
        // Traffic that leaves a bridge (to the outside, between networks a rule joins,
        // to published ports) is routed: the host must forward, as on a Docker host.
        let routed = spec.networks.filter { $0.driver != .macvlan && !$0.isInternal }
        if routed.contains(where: { $0.primarySubnet(.v4) != nil }) { host.sysctls[HostSysctl.ipv4Forwarding] = "1" }
        if routed.contains(where: { $0.primarySubnet(.v6) != nil }) { host.sysctls[HostSysctl.ipv6Forwarding] = "1" }
        // Published ports on a loopback address need the bridge's route_localnet.
        let loopback = loopbackPublishingNetworks(spec, containers: placed)
        for net in spec.networks where loopback.contains(net.name) {
            host.sysctls[HostSysctl.routeLocalnet(net.device)] = "1"
        }
        let firewall = FirewallCompiler.compile(spec, endpoints: endpoints, remote: cluster?.ruleEndpoints(spec: spec, localHost: localHost) ?? [])
        if let table = firewall.table { host.firewall = [table] }
        desired[.host] = host
        // `consume`: the compiled spec holds the only reference to the namespaces, so
        // the files added below go in place (a copy of 50,000 namespaces was 24 MB).
        var compiled = CompiledSpec(desired: DesiredState(project: project, state: consume desired, createdNamespaces: created, adoptedNamespaces: adopted),
                                    endpoints: endpoints, unenforced: cluster == nil ? unenforced(spec) : [], notes: firewall.notes)
        if let cluster { addCluster(cluster, spec: spec, observed: observed, to: &compiled) }
        let reachable = cluster.flatMap { $0.unreachable == nil ? $0 : nil }
        addNamespaceFiles(spec, placed: placed, observed: observed, remote: reachable?.remoteEndpoints(project: project) ?? [:],
                          storeUnread: cluster != nil && reachable == nil, to: &compiled)
        return compiled
    }
}

/// What the spec asks for and this run cannot give: users must not believe an
/// overlay spans hosts when no cluster store joins them.
func unenforced(_ spec: Spec) -> [String] {
    var out: [String] = []
    if spec.networks.contains(where: { $0.driver == .overlay }) { out.append("overlay networks span this host only: no cluster store is given (--cluster-store, or a cluster: section in the spec)") }
    return out
}

/// The networks through which a container publishes a port the host can reach on
/// 127.0.0.1 (a host IP in 127.0.0.0/8, or 0.0.0.0: every local address): their
/// bridges need `route_localnet`, and the firewall the rules that go with it. Linear
/// in the containers that publish ports.
public func loopbackPublishingNetworks(_ spec: Spec, containers: [ContainerSpec]) -> Set<String> {
    var out = Set<String>()
    for c in containers where !c.ports.isEmpty {
        // A port is forwarded to the first non-internal bridge network of its container.
        guard let net = c.attachments.lazy.compactMap({ spec.network(named: $0.network) })
            .first(where: { $0.driver == .bridge && !$0.isInternal }) else { continue }
        let onLoopback = c.ports.contains { p in
            let ip: IPAddress = p.hostIP ?? .v4(net.hostBindingIPv4)
            if case .v4(let v) = ip { return v.value >> 24 == 127 || v.value == 0 }
            return false
        }
        if onLoopback { out.insert(net.name) }
    }
    return out
}

extension Compiler {
    /// The namespace a placed container lives in: its own `PROJECT.CONTAINER`, or the
    /// one it adopts (by name, path or PID), after `aliases`.
    static func namespaceRef(_ c: ContainerSpec, project: String, aliases: [NamespaceRef: NamespaceRef]) -> NamespaceRef {
        let ref: NamespaceRef = switch c.netns {
        case nil: .named(Naming.namespace(project: project, container: c.name))
        case .name(let n)?: .named(n)
        case .path(let p)?: .path(p)
        case .pid(let pid)?: .path("/proc/\(pid)/ns/net")
        }
        return aliases[ref] ?? ref
    }
}

/// IPAM for one compile: static addresses first, then each running container keeps
/// its address (sticky), then new ones take the lowest free address of `ip_range`,
/// never the network, broadcast, gateway or an aux address.
struct AddressAllocator {
    struct Allocation {
        var address: IPAddress
        var prefixLength: Int
        var gateway: IPAddress?
    }

    private var used: [String: Set<IPAddress>] = [:]
    private var assigned: [String: IPAddress] = [:]  // "network/container/family"

    init(spec: Spec, observed: HostState, project: String, containers: [ContainerSpec], aliases: [NamespaceRef: NamespaceRef] = [:],
         taken: [String: Set<IPAddress>] = [:]) {
        let networks = Dictionary(spec.networks.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        // 0. Addresses other hosts hold (cluster store claims).
        for (network, ips) in taken { used[network, default: []].formUnion(ips) }
        // 1. Static addresses are reserved before anything else.
        for c in containers {
            for a in c.attachments {
                if let v4 = a.ipv4 { reserve(.v4(v4), network: a.network, container: c.name) }
                if let v6 = a.ipv6 { reserve(.v6(v6), network: a.network, container: c.name) }
            }
        }
        // 2. Sticky: a container keeps the address its interface has now, if it is
        //    still valid for the network and nobody else claimed it.
        for c in containers {
            guard let ns = observed[Compiler.namespaceRef(c, project: project, aliases: aliases)] else { continue }
            for a in c.attachments {
                guard let net = networks[a.network] else { continue }
                let mark = OwnerMark.endpoint(project, container: c.name, network: net.name)
                guard ns.link(named: a.interface)?.owner == mark else { continue }
                for family in IPFamily.allCases {
                    let key = "\(net.name)/\(c.name)/\(family.rawValue)"
                    guard assigned[key] == nil, let sub = net.primarySubnet(family) else { continue }
                    // netform's own (marked) address first; an unmarked one only when no
                    // marked one is there (a host where netform predates address marks).
                    let candidates = ns.addresses.filter { $0.link == a.interface && sub.subnet.contains($0.address) }
                    let current = candidates.first(where: \.isMarked) ?? candidates.first { $0.proto == 0 }
                    guard let current, isAssignable(current.address, sub), !(used[net.name]?.contains(current.address) ?? false) else { continue }
                    reserve(current.address, network: net.name, container: c.name)
                }
            }
        }
    }

    private mutating func reserve(_ ip: IPAddress, network: String, container: String) {
        used[network, default: []].insert(ip)
        assigned["\(network)/\(container)/\(ip.family.rawValue)"] = ip
    }

    private func isAssignable(_ ip: IPAddress, _ sub: SubnetSpec) -> Bool {
        guard sub.subnet.contains(ip), ip != sub.subnet.network, ip != sub.gateway else { return false }
        if sub.subnet.family == .v4, ip == sub.subnet.last { return false }
        return !sub.auxAddresses.values.contains(ip)
    }

    mutating func address(for container: String, network: NetworkSpec, family: IPFamily, subnet: SubnetSpec) throws(CompileError) -> Allocation {
        let key = "\(network.name)/\(container)/\(family.rawValue)"
        let gateway: IPAddress? = network.driver == .macvlan && network.subnets.isEmpty ? nil : subnet.gateway
        if let ip = assigned[key] {
            let sub = network.subnets.first { $0.subnet.contains(ip) } ?? subnet
            return Allocation(address: ip, prefixLength: sub.subnet.prefixLength, gateway: sub.gateway)
        }
        // 3. The lowest free address of ip_range.
        let range = subnet.ipRange
        var offset: UInt128 = 0
        let taken = used[network.name] ?? []
        while let candidate = range.address(at: offset) {
            if isAssignable(candidate, subnet), !taken.contains(candidate) {
                reserve(candidate, network: network.name, container: container)
                return Allocation(address: candidate, prefixLength: subnet.subnet.prefixLength, gateway: gateway)
            }
            // Ends: within |taken| + |aux| + 4 steps a free address turns up, or the range ends.
            offset += 1
        }
        throw CompileError("network '\(network.name)': no free \(family == .v4 ? "IPv4" : "IPv6") address in \(range) for container '\(container)'")
    }
}
