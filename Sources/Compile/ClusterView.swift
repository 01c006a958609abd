import Addressing
import Model
import Spec

/// What the cluster store says that this host's compile needs: the endpoints of
/// other hosts (to program FDB and neighbour entries), the addresses other hosts
/// hold (so IPAM never hands them out), and this host's identity in the cluster.
///
/// Built from the store's keys as observed (`NamespaceState.clusterStore` of the host
/// namespace), so compile stays pure and a plan is a diff of two values.
public struct ClusterView: Sendable, Equatable {
    /// This host's name in the store (`--host-name`, default the system host name).
    public var host: String
    /// The underlay address other hosts send VXLAN to (`--cluster-advertise`).
    public var advertise: IPAddress
    /// The store's keys of the project as read (nil fields: nothing there).
    public var entries: [String: String]
    /// The TTL of the lease this host's registration is held by (`kv.ttl`).
    public var leaseTTL: Int
    /// Why the store could not be read (then `entries` is empty and means nothing).
    public var unreachable: String?

    public init(host: String, advertise: IPAddress, entries: [String: String], leaseTTL: Int = StoreLayout.defaultLeaseTTL,
                unreachable: String? = nil) {
        self.host = host
        self.advertise = advertise
        self.entries = entries
        self.leaseTTL = leaseTTL
        self.unreachable = unreachable
    }

    /// Endpoints other hosts published, by network: only of hosts that are
    /// registered (a host whose lease expired is gone, and so are the FDB and
    /// neighbour entries towards it, in the same reconcile that collects its keys).
    func remoteEndpoints(project: String) -> [String: [StoreLayout.EndpointRecord]] {
        var out: [String: [StoreLayout.EndpointRecord]] = [:]
        for (key, value) in entries {
            guard case .endpoint(let net, let container) = StoreLayout.parse(key, project: project),
                  let r = StoreLayout.EndpointRecord(network: net, container: container, value: value), r.host != host,
                  entries[StoreLayout.host(project: project, host: r.host)] != nil else { continue }
            out[net, default: []].append(r)
        }
        return out.mapValues { $0.sorted { $0.container < $1.container } }
    }

    /// The endpoints other hosts published of containers this spec places elsewhere,
    /// as the firewall's selectors need them (container, network, addresses): a rule
    /// naming `web1` on node2 matches web1's address on node1.
    func ruleEndpoints(spec: Spec, localHost: String?) -> [Endpoint] {
        guard !spec.rules.isEmpty else { return [] }
        return remoteEndpoints(project: spec.project).values.joined().compactMap { r -> Endpoint? in
            guard let c = spec.container(named: r.container), c.host != nil, c.host != localHost,
                  c.attachments.contains(where: { $0.network == r.network }) else { return nil }
            return Endpoint(container: r.container, network: r.network, namespace: .host, interface: "",
                            ipv4: r.ipv4.map { AddressState(link: "", address: $0, prefixLength: 32) },
                            ipv6: r.ipv6.map { AddressState(link: "", address: $0, prefixLength: 128) }, mac: r.mac)
        }.sorted { ($0.container, $0.network) < ($1.container, $1.network) }
    }

    /// Addresses other hosts claimed, by network — also those of a host whose lease
    /// expired: they are freed by the delete of the claim, never in the same plan.
    func claimedElsewhere(project: String) -> [String: Set<IPAddress>] {
        var out: [String: Set<IPAddress>] = [:]
        for (key, value) in entries {
            guard case .claim(let net, let address) = StoreLayout.parse(key, project: project),
                  let ip = IPAddress(address), StoreLayout.owner(of: value) != host else { continue }
            out[net, default: []].insert(ip)
        }
        return out
    }
}

extension Compiler {
    /// The VXLAN device's local address: the advertise address other hosts send to.
    static func setLocal(_ advertise: IPAddress, of vxlan: String, in host: inout NamespaceState) {
        guard let i = host.links.firstIndex(where: { $0.name == vxlan }), case .vxlan(var settings) = host.links[i].kind else { return }
        settings.local = advertise
        host.links[i].kind = .vxlan(settings)
    }

    /// The MAC of a VXLAN flood entry (`bridge fdb append 00:00:00:00:00:00 dev vx dst VTEP`).
    static let floodMAC = MACAddress("00:00:00:00:00:00")!

    /// Adds what an overlay needs across hosts to a compiled spec: the VXLAN devices'
    /// local address, static FDB entries (remote MAC → remote VTEP) and neighbour
    /// entries in each local container for every remote endpoint (no flooding, no
    /// learning), and the store keys this host must hold: its registration, the
    /// overlay networks it uses (create-if-absent: the first definition wins), a claim
    /// per address and an endpoint record per local container.
    static func addCluster(_ view: ClusterView, spec: Spec, observed: HostState, to compiled: inout CompiledSpec) {
        if let why = view.unreachable {
            addClusterUnread(why, view: view, spec: spec, observed: observed, to: &compiled)
            return
        }
        let project = spec.project
        var host = compiled.desired.state[.host] ?? NamespaceState(ref: .host)
        var store: [String: String] = [StoreLayout.host(project: project, host: view.host): StoreLayout.hostRecord(advertise: view.advertise, ttl: view.leaseTTL)]
        let remote = view.remoteEndpoints(project: project)
        for net in spec.networks where net.driver == .overlay {
            let vxlan = Naming.vxlan(project: project, network: net.name)
            setLocal(view.advertise, of: vxlan, in: &host)
            if let vni = net.vni {
                store[StoreLayout.network(project: project, network: net.name)] = StoreLayout.networkRecord(vni: vni, subnets: net.subnets.map(\.subnet))
            }
            for r in remote[net.name] ?? [] {
                host.fdb.append(FDBEntryState(link: vxlan, mac: r.mac, destination: r.vtep))
            }
            // Flood entries (all-zero MAC) towards every other VTEP with an endpoint on
            // the network: broadcast and unknown unicast (DHCP, a MAC not published yet)
            // reach the other hosts by head-end replication, as Docker's overlay does.
            for vtep in Set((remote[net.name] ?? []).map(\.vtep)).sorted(by: { $0.description < $1.description }) {
                host.fdb.append(FDBEntryState(link: vxlan, mac: Self.floodMAC, destination: vtep))
            }
            for ep in compiled.endpoints where ep.network == net.name {
                guard var ns = compiled.desired.state[ep.namespace] else { continue }
                for r in remote[net.name] ?? [] {
                    for address in [r.ipv4, r.ipv6].compactMap({ $0 }) {
                        ns.neighbours.append(NeighbourState(link: ep.interface, address: address, mac: r.mac))
                    }
                }
                compiled.desired.state[ep.namespace] = ns
                for a in [ep.ipv4, ep.ipv6].compactMap({ $0 }) {
                    store[StoreLayout.claim(project: project, network: net.name, address: a.address)] =
                        StoreLayout.claimRecord(host: view.host, container: ep.container)
                }
                if let mac = ep.mac {
                    store[StoreLayout.endpoint(project: project, network: net.name, container: ep.container)] =
                        StoreLayout.EndpointRecord(network: net.name, container: ep.container, host: view.host, vtep: view.advertise,
                                                   mac: mac, ipv4: ep.ipv4?.address, ipv6: ep.ipv6?.address).value
                }
            }
        }
        host.clusterStore = store
        compiled.desired.state[.host] = host
        compiled.desired.storeHost = view.host
    }
}

extension Compiler {
    /// The store could not be read: nothing that depends on it changes. The VXLAN
    /// devices' FDB entries and the containers' neighbour entries towards other hosts
    /// stay as the kernel has them (an unread store is not an empty one: deleting them
    /// would cut every container off the other hosts), no store key is written or
    /// deleted, and an overlay address the kernel does not hold yet — a new
    /// container, or one whose interface is gone — would need a claim, so its
    /// container is blocked (`CompiledSpec.blockedByStore`) and the plan refuses it.
    /// Everything local (bridges, other networks, the firewall) is planned as usual.
    static func addClusterUnread(_ why: String, view: ClusterView, spec: Spec, observed: HostState, to compiled: inout CompiledSpec) {
        let project = spec.project
        var host = compiled.desired.state[.host] ?? NamespaceState(ref: .host)
        let seen = observed[.host]
        for net in spec.networks where net.driver == .overlay {
            let vxlan = Naming.vxlan(project: project, network: net.name)
            setLocal(view.advertise, of: vxlan, in: &host)
            host.fdb += seen?.fdb.filter { $0.link == vxlan } ?? []
            for ep in compiled.endpoints where ep.network == net.name {
                guard var ns = compiled.desired.state[ep.namespace] else { continue }
                let live = observed[ep.namespace]
                ns.neighbours += live?.neighbours.filter { $0.link == ep.interface } ?? []
                compiled.desired.state[ep.namespace] = ns
                let held = Set(live?.addresses.filter { $0.link == ep.interface }.map(\.address) ?? [])
                let unclaimed = [ep.ipv4, ep.ipv6].compactMap { $0?.address }.filter { !held.contains($0) }
                if !unclaimed.isEmpty {
                    compiled.blockedByStore[ep.container] = "needs an address on overlay network \(net.name) "
                        + "(\(unclaimed.map(\.description).joined(separator: ", "))), claimed in the cluster store, which could not be read: \(why)"
                }
            }
        }
        // Rules naming containers of other hosts match addresses only the store knows:
        // the table stays as the kernel has it until the store answers.
        let elsewhere = spec.containers.contains { $0.host != nil && $0.host != view.host }
        let name = FirewallTable.name(project: project)
        if !spec.rules.isEmpty, elsewhere, let live = seen?.firewall.first(where: { $0.family == "inet" && $0.name == name }) {
            if host.firewall != [live] {
                compiled.notes.append("the firewall table \(name) is kept as it is: its rules name containers on other hosts, whose addresses are in the cluster store")
            }
            host.firewall = [live]
        }
        host.clusterStore = nil
        compiled.desired.state[.host] = host
        compiled.desired.storeHost = nil
        compiled.notes.append("the cluster store could not be read (\(why)): the other hosts' endpoints, the address claims and this "
            + "host's records there were not checked; the FDB and neighbour entries towards other hosts are kept as they are")
    }
}
