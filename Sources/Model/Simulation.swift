/// Applies operations to a `HostState` value: the model of what the kernel does.
///
/// The planner is tested against this without root (`apply(plan(d, o), o) == d`), and
/// a dry run can show the state a plan would leave. It follows the kernel's rules
/// that matter to planning: deleting a namespace removes everything in it, deleting
/// one end of a veth removes the other, deleting a link removes its addresses, routes,
/// neighbours and FDB entries, and creating what exists fails. Deleting what is not
/// there succeeds and changes nothing, as in the kernel driver: an object already
/// gone is a delete done.
public struct SimulationError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension HostState {
    public mutating func apply(_ op: Operation) throws(SimulationError) {
        switch op {
        case .createNamespace(let name, let owner):
            let ref = NamespaceRef.named(name)
            guard namespaces[ref] == nil else { throw SimulationError("namespace \(name) exists") }
            namespaces[ref] = NamespaceState(ref: ref, owner: owner,
                                             links: [LinkState(name: "lo", kind: .loopback, mtu: 65536, isUp: true, alias: owner.alias)])
        case .deleteNamespace(let name):
            let ref = NamespaceRef.named(name)
            guard let ns = namespaces.removeValue(forKey: ref) else { return }
            // veth ends whose peer lived in the deleted namespace disappear too.
            for link in ns.links {
                if case .veth(let peer?) = link.kind { removeLink(peer.name, in: peer.namespace) }
            }
            for (r, other) in namespaces {
                for link in other.links {
                    if case .veth(let peer?) = link.kind, peer.namespace == ref { removeLink(link.name, in: r) }
                }
            }
        case .createBridge(let ns, let name, let mtu, let mac, let alias):
            try addLink(LinkState(name: name, kind: .bridge, mtu: mtu, isUp: true, mac: mac, alias: alias, bridgeNetfilter: true), in: ns)
            // A new interface starts with the default configuration.
            namespaces[ns]!.sysctls[HostSysctl.routeLocalnet(name)] = "0"
        case .createVeth(let ns, let name, let mac, let master, let mtu, let alias, let peer, let peerMac, let peerAlias):
            guard namespaces[peer.namespace] != nil else { throw SimulationError("no namespace \(peer.namespace)") }
            if let master { guard namespaces[ns]?.link(named: master) != nil else { throw SimulationError("no bridge \(master)") } }
            guard namespaces[peer.namespace]?.link(named: peer.name) == nil else { throw SimulationError("\(peer.name) exists in \(peer.namespace)") }
            try addLink(LinkState(name: name, kind: .veth(peer: peer), mtu: mtu, isUp: true, mac: mac, master: master, alias: alias), in: ns)
            try addLink(LinkState(name: peer.name, kind: .veth(peer: VethPeerRef(namespace: ns, name: name)), mtu: mtu, isUp: true,
                                  mac: peerMac, alias: peerAlias), in: peer.namespace)
        case .createVXLAN(let ns, let name, let settings, let master, let mtu, let mac, let alias):
            try addLink(LinkState(name: name, kind: .vxlan(settings), mtu: mtu, isUp: true, mac: mac, master: master, alias: alias), in: ns)
        case .createMacvlan(let ns, let name, let parent, let mode, let mtu, let mac, let alias):
            guard namespaces[.host]?.link(named: parent) != nil else { throw SimulationError("no parent \(parent)") }
            try addLink(LinkState(name: name, kind: .macvlan(parent: parent, mode: mode), mtu: mtu, isUp: true, mac: mac, alias: alias), in: ns)
        case .setLink(let ns, let name, let change):
            guard let i = namespaces[ns]?.links.firstIndex(where: { $0.name == name }) else { throw SimulationError("no link \(name) in \(ns)") }
            var link = namespaces[ns]!.links[i]
            if let v = change.mtu { link.mtu = v }
            if let v = change.isUp { link.isUp = v }
            if let v = change.mac { link.mac = v }
            if let v = change.master { link.master = v }
            if let v = change.alias { link.alias = v }
            if let v = change.isolated { link.isolated = v }
            if let v = change.bridgeNetfilter { link.bridgeNetfilter = v }
            if let v = change.group { link.group = v }
            namespaces[ns]!.links[i] = link
        case .deleteLink(let ns, let name):
            guard let link = namespaces[ns]?.link(named: name) else { return }
            removeLink(name, in: ns)
            if case .veth(let peer?) = link.kind { removeLink(peer.name, in: peer.namespace) }
        case .addAddress(let ns, let a):
            guard namespaces[ns]?.link(named: a.link) != nil else { throw SimulationError("no link \(a.link) in \(ns)") }
            guard !(namespaces[ns]!.addresses.contains { $0.sameAddress(as: a) }) else { throw SimulationError("address \(a) exists") }
            namespaces[ns]!.addresses.append(a)
        case .deleteAddress(let ns, let a):
            guard let i = namespaces[ns]?.addresses.firstIndex(where: { $0.sameAddress(as: a) }) else { return }
            namespaces[ns]!.addresses.remove(at: i)
        case .addRoute(let ns, let r):
            guard namespaces[ns] != nil else { throw SimulationError("no namespace \(ns)") }
            if let dev = r.device { guard namespaces[ns]!.link(named: dev) != nil else { throw SimulationError("no device \(dev)") } }
            guard !namespaces[ns]!.routes.contains(where: { $0.destination == r.destination && $0.family == r.family && $0.table == r.table }) else {
                throw SimulationError("route \(r) exists")
            }
            namespaces[ns]!.routes.append(r)
        case .deleteRoute(let ns, let r):
            guard let i = namespaces[ns]?.routes.firstIndex(of: r) else { return }
            namespaces[ns]!.routes.remove(at: i)
        case .addNeighbour(let ns, let n):
            guard namespaces[ns]?.link(named: n.link) != nil else { throw SimulationError("no link \(n.link) in \(ns)") }
            namespaces[ns]!.neighbours.append(n)
        case .deleteNeighbour(let ns, let n):
            guard let i = namespaces[ns]?.neighbours.firstIndex(of: n) else { return }
            namespaces[ns]!.neighbours.remove(at: i)
        case .addFDBEntry(let ns, let e):
            guard namespaces[ns]?.link(named: e.link) != nil else { throw SimulationError("no link \(e.link) in \(ns)") }
            namespaces[ns]!.fdb.append(e)
        case .deleteFDBEntry(let ns, let e):
            guard let i = namespaces[ns]?.fdb.firstIndex(of: e) else { return }
            namespaces[ns]!.fdb.remove(at: i)
        case .replaceFirewallTable(let ns, let table):
            guard namespaces[ns] != nil else { throw SimulationError("no namespace \(ns)") }
            namespaces[ns]!.firewall.removeAll { $0.family == table.family && $0.name == table.name }
            namespaces[ns]!.firewall.append(table)
        case .claimStoreKey(let key, let value):
            guard namespaces[.host] != nil else { throw SimulationError("no host namespace") }
            var store = namespaces[.host]!.clusterStore ?? [:]
            guard store[key] == nil else { throw SimulationError("store key \(key) is taken") }
            store[key] = value
            namespaces[.host]!.clusterStore = store
        case .putStoreKey(let key, let value):
            guard namespaces[.host] != nil else { throw SimulationError("no host namespace") }
            namespaces[.host]!.clusterStore = (namespaces[.host]!.clusterStore ?? [:]).merging([key: value]) { _, new in new }
        case .deleteStoreKey(let key):
            namespaces[.host]?.clusterStore?[key] = nil
        case .storeTransaction(let txn):
            guard namespaces[.host] != nil else { throw SimulationError("no host namespace") }
            var store = namespaces[.host]!.clusterStore ?? [:]
            if let taken = txn.creates.first(where: { store[$0.key] != nil }) { throw SimulationError("store key \(taken.key) is taken") }
            for e in txn.creates + txn.puts { store[e.key] = e.value }
            for k in txn.deletes { store[k] = nil }
            namespaces[.host]!.clusterStore = store
        case .collectStoreKey(let key, let guardKey):
            if namespaces[.host]?.clusterStore?[guardKey] == nil { namespaces[.host]?.clusterStore?[key] = nil }
        case .setSysctl(let ns, let key, let value):
            guard namespaces[ns] != nil else { throw SimulationError("no namespace \(ns)") }
            namespaces[ns]!.sysctls[key] = value
        case .writeNamespaceFile(let file):
            // The file system, not the namespace: a file may be written for a
            // namespace that does not exist (yet); the directories are made as needed.
            guard namespaces[.host] != nil else { throw SimulationError("no host namespace") }
            namespaces[.host]!.netnsFiles.removeAll { $0.key == file.key }
            namespaces[.host]!.netnsFiles.append(file)
            namespaces[.host]!.netnsFiles = namespaces[.host]!.netnsFiles.sortedByKey()
        case .deleteNamespaceFile(let namespace, let name, _):
            namespaces[.host]?.netnsFiles.removeAll { $0.namespace == namespace && $0.name == name }
        case .deleteFirewallTable(let ns, let family, let name):
            // Like `nft add table; delete table`: a missing table is not an error.
            namespaces[ns]?.firewall.removeAll { $0.family == family && $0.name == name }
        }
    }

    private mutating func addLink(_ link: LinkState, in ns: NamespaceRef) throws(SimulationError) {
        guard namespaces[ns] != nil else { throw SimulationError("no namespace \(ns)") }
        guard namespaces[ns]!.link(named: link.name) == nil else { throw SimulationError("link \(link.name) exists in \(ns)") }
        if let master = link.master, namespaces[ns]!.link(named: master) == nil { throw SimulationError("no bridge \(master)") }
        namespaces[ns]!.links.append(link)
    }

    private mutating func removeLink(_ name: String, in ns: NamespaceRef) {
        guard var state = namespaces[ns] else { return }
        state.links.removeAll { $0.name == name }
        for i in state.links.indices where state.links[i].master == name { state.links[i].master = nil }
        state.addresses.removeAll { $0.link == name }
        state.routes.removeAll { $0.device == name }
        state.neighbours.removeAll { $0.link == name }
        state.fdb.removeAll { $0.link == name }
        // A link's own sysctls (`net/ipv4/conf/NAME/...`) go with it.
        state.sysctls = state.sysctls.filter { HostSysctl.bridge(of: $0.key) != name }
        namespaces[ns] = state
    }

    /// A copy with every list sorted and observation-only fields cleared, so two
    /// states that describe the same host compare equal.
    public func normalized() -> HostState {
        var out = HostState()
        for (ref, ns) in namespaces {
            var n = ns
            n.links = ns.links.map { l in
                var l = l
                l.index = nil
                return l
            }.sorted { $0.name < $1.name }
            n.addresses = ns.addresses.sorted { ($0.link, $0.address) < ($1.link, $1.address) }
            n.routes = ns.routes.sorted { $0.description < $1.description }
            n.neighbours = ns.neighbours.sorted { ($0.link, $0.address) < ($1.link, $1.address) }
            n.fdb = ns.fdb.sorted { ($0.link, $0.mac) < ($1.link, $1.mac) }
            n.firewall = ns.firewall.map { $0.normalized() }.sorted { ($0.family, $0.name) < ($1.family, $1.name) }
            n.netnsFiles = ns.netnsFiles.sortedByKey()
            n.hostResolver = nil
            out.namespaces[ref] = n
        }
        return out
    }
}
