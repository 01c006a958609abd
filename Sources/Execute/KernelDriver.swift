import Addressing
import Model
import Netlink
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Why an operation failed: the kernel's own words (errno and extended ACK, via
/// `NetlinkError`) or netform's, with the operation that failed.
public struct ExecuteError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var message: String
    public var netlink: NetlinkError?

    public init(operation: String, message: String, netlink: NetlinkError? = nil) {
        self.operation = operation
        self.message = message
        self.netlink = netlink
    }

    public var description: String { "\(operation): \(message)" }
}

/// Carries out plan operations. The kernel driver does it over netlink; tests use a
/// driver that applies them to a `HostState` value.
public protocol OperationDriver: AnyObject {
    func perform(_ op: Operation) throws(ExecuteError)
    /// Waits until the named host links are gone (asynchronous namespace teardown).
    func awaitGone(_ links: [String]) throws(ExecuteError)
    /// Performs independent operations (the executor passes runs of namespace
    /// creations, of address and route additions, of `/etc/netns` files and of link
    /// deletions in one namespace), possibly at the same time or in one request; one
    /// result per operation, in order.
    func performIndependent(_ ops: [Operation]) -> [ExecuteError?]
    /// Told, before anything runs, every operation a run may perform (the plan's
    /// steps and their inverses), so a driver can shape one operation by what others
    /// will do (an IPv4-only veth needs no IPv6 link-local address).
    func prepare(_ ops: [Operation])
}

extension OperationDriver {
    public func prepare(_ ops: [Operation]) {}

    public func performIndependent(_ ops: [Operation]) -> [ExecuteError?] {
        ops.map { op -> ExecuteError? in
            do throws(ExecuteError) { try perform(op); return nil } catch { return error }
        }
    }
}

/// Executes operations against the live kernel over netlink, one handle per
/// namespace (opened inside it on a dedicated thread by the Netlink layer).
///
/// Used from one thread at a time (the apply loop is sequential by design: steps
/// depend on each other and the kernel work per object dominates).
public final class KernelDriver: OperationDriver {
    private var handles: [NamespaceRef: NetlinkHandle] = [:]
    private var namespaces: [NamespaceRef: NetworkNamespace] = [:]
    /// Names under /run/netns by namespace identity, read once, when this run first
    /// deletes a namespace (see `releaseIfNamedElsewhere`).
    private var namesByIdentity: [NamespaceID: Set<String>]?
    /// Interface indexes learnt during this run (dropped when a link or its
    /// namespace is deleted), to spare a lookup per address, route and port.
    private var indexes: [NamespaceRef: [String: Int32]] = [:]
    /// Links (namespace, name) that get an IPv4 address and no IPv6 one in this run
    /// (see `prepare`): a veth whose container end is one of them is made with no
    /// IPv6 link-local address on either end.
    private var ipv4Only: Set<LinkID> = []
    private var ipv6Addressed: Set<LinkID> = []
    /// Whether the kernel has IPv6 at all (`ipv6.disable=1` has no /proc/sys/net/ipv6,
    /// and then an `AF_INET6` attribute is refused).
    private let hasIPv6 = access("/proc/sys/net/ipv6", F_OK) == 0

    struct LinkID: Hashable {
        var namespace: NamespaceRef
        var name: String
    }

    public init() {}

    /// Learns which links of this run are IPv4-only: they get an IPv4 address from
    /// one of these operations and an IPv6 address from none (the inverses count
    /// too: a veth a rollback recreates gets back the IPv6 addresses it had).
    public func prepare(_ ops: [Operation]) {
        var v4: Set<LinkID> = []
        var v6: Set<LinkID> = []
        for case .addAddress(let ref, let a) in ops {
            if a.address.family == .v6 { v6.insert(LinkID(namespace: ref, name: a.link)) } else { v4.insert(LinkID(namespace: ref, name: a.link)) }
        }
        ipv4Only = v4.subtracting(v6)
        ipv6Addressed = v6
    }

    /// Whether a veth is made without IPv6 link-local addresses: its container end is
    /// IPv4-only in this run, its host end gets no IPv6 address either, and the MTU
    /// leaves the link an IPv6 state to configure (below 1280 the kernel has none,
    /// and refuses the attribute).
    func withoutLinkLocal(host: LinkID, peer: LinkID, mtu: Int) -> Bool {
        hasIPv6 && mtu >= 1280 && ipv4Only.contains(peer) && !ipv6Addressed.contains(host)
    }

    /// Whether the host end of a veth is made with IPv6 off: it is a bridge port
    /// (the caller checks), in the host namespace, and gets no IPv6 address in this
    /// run. A port carries the containers' IPv6 frames without IPv6 of its own (the
    /// bridge holds the gateway addresses). With it on, every port adds a multicast
    /// route to the host's IPv6 table, and each change to a port walks that whole
    /// table: a cost per container that grew with the number of containers.
    func withoutIPv6(host: LinkID, mtu: Int) -> Bool {
        hasIPv6 && mtu >= 1280 && host.namespace == .host && !ipv6Addressed.contains(host)
    }

    /// `net.ipv6.conf.NAME.disable_ipv6 = 1` for a link of the host namespace (the
    /// one this process runs in: `/proc/sys/net` is the opener's namespace), before
    /// the link is up, marked or a port, so none of those changes involves IPv6.
    /// Only a cost is saved: where `/proc/sys` cannot be written (read-only in a
    /// container, `ProtectKernelTunables=`, an LSM's refusal) the port keeps IPv6
    /// and the apply goes on; any other error is the kernel's and fails the step.
    func disableIPv6(onHostLink name: String) throws(NetlinkError) {
        let path = HostSysctl.path("net/ipv6/conf/\(name)/disable_ipv6")
        guard let (call, code) = SysctlBackend.write("1", to: path), !Self.cannotWriteSysctls.contains(code) else { return }
        throw NetlinkError(errno: code, request: "\(call) \(path)")
    }

    /// Errnos that mean this process may not write the sysctl (or the link has no IPv6
    /// state to turn off), not that the link is wrong.
    static let cannotWriteSysctls: Set<Int32> = [EROFS, EACCES, EPERM, ENOENT]

    func namespace(_ ref: NamespaceRef) throws(NetlinkError) -> NetworkNamespace {
        if let ns = namespaces[ref] { return ns }
        let ns: NetworkNamespace = switch ref {
        case .host: try NetworkNamespace.current()
        case .named(let n): try NetworkNamespace.open(name: n)
        case .path(let p): try NetworkNamespace.open(path: p)
        }
        namespaces[ref] = ns
        return ns
    }

    func handle(_ ref: NamespaceRef) throws(NetlinkError) -> NetlinkHandle {
        if let h = handles[ref] { return h }
        let h: NetlinkHandle = ref == .host ? try NetlinkHandle() : try NetlinkHandle(namespace: try namespace(ref))
        handles[ref] = h
        return h
    }

    private func forget(_ ref: NamespaceRef) {
        handles[ref] = nil
        namespaces[ref] = nil
        // Host veths whose peers lived there are going away too.
        indexes.removeAll()
    }

    func index(_ name: String, in ref: NamespaceRef) throws(NetlinkError) -> Int32 {
        if let i = indexes[ref]?[name] { return i }
        guard let link = try handle(ref).link(named: name) else {
            throw NetlinkError(errno: ENODEV, request: "find link \(name) in \(ref)", detail: "no such link")
        }
        indexes[ref, default: [:]][name] = link.index
        return link.index
    }

    public func perform(_ op: Operation) throws(ExecuteError) {
        do {
            try run(op)
        } catch {
            throw ExecuteError(operation: DryRun.describe(op), message: "\(error)", netlink: error)
        }
    }

    private func run(_ op: Operation) throws(NetlinkError) {
        switch op {
        case .createNamespace(let name, let owner):
            // lo is marked inside the new namespace before it appears under
            // /run/netns: an interrupted apply never leaves an unmarked namespace.
            // The handle opened in there stays bound to the namespace: keep it.
            let alias = owner.alias
            let box = HandleBox()
            let ns = try NetworkNamespace.create(name: name) { () throws(NetlinkError) in
                let h = try NetlinkHandle()
                try h.setLink(.name("lo"), LinkChange(up: true, alias: alias))
                box.handle.withLock { $0 = h }
            }
            namespaces[.named(name)] = ns
            handles[.named(name)] = box.handle.withLock { $0 }
        case .deleteNamespace(let name):
            try releaseIfNamedElsewhere(name)
            forget(.named(name))
            try goneIsDone { () throws(NetlinkError) in try NetworkNamespace.delete(name: name) }
        case .createBridge(let ref, let name, let mtu, let mac, let alias):
            let h = try handle(ref)
            try h.execute(.newLink(NewLink(name: name, kind: .filteredBridge, mtu: UInt32(mtu), mac: mac,
                                           group: OwnerMark.linkGroup(alias: alias), up: true)))
            try finishing(name, in: ref) { () throws(NetlinkError) in try h.setLink(.name(name), LinkChange(alias: alias)) }
        case .createVeth(let ref, let name, let mac, let master, let mtu, let alias, let peer, let peerMac, let peerAlias):
            let h = try handle(ref)
            let peerNS = try namespace(peer.namespace)
            let masterIndex: Int32? = if let master { try index(master, in: ref) } else { nil }
            // Both ends carry the project's group from the creating request on (the
            // peer's inside VETH_INFO_PEER): a run killed before the aliases are set
            // leaves two links the next plan recognises as the project's, also in an
            // adopted namespace, where nothing else marks them. Both are created down.
            try h.execute(.newLink(Self.vethRequest(name: name, mac: mac, mtu: mtu, alias: alias,
                                                    peer: peer.name, in: peerNS, peerMac: peerMac, peerAlias: peerAlias)))
            let noLinkLocal = withoutLinkLocal(host: LinkID(namespace: ref, name: name), peer: LinkID(namespace: peer.namespace, name: peer.name), mtu: mtu)
            try finishing(name, in: ref) { () throws(NetlinkError) in
                if master != nil, withoutIPv6(host: LinkID(namespace: ref, name: name), mtu: mtu) {
                    try disableIPv6(onHostLink: name)
                }
                // One request, which the kernel carries out in this order: the alias
                // (mark first: changing a bridge port notifies the bridge, which costs
                // more the more ports it has; measured: alias on a port 0.72 ms, on a
                // free link 0.29 ms, at 100 ports a bridge), up, the master (enslave
                // after), then the IPv6 address generation. With the peer still down
                // there is no carrier, so IPv6 has configured nothing yet.
                try h.setLink(.name(name), LinkChange(up: true, master: masterIndex, alias: alias,
                                                      ipv6AddressGeneration: noLinkLocal ? IPv6AddressGeneration.none : nil))
                // The peer cannot be brought up in the create request ("Transport endpoint
                // is not connected"): do it from inside its namespace, in one datagram
                // with the lookup of its index (for its addresses and routes). Going up
                // gives both ends carrier and IPv6 configures the peer at once, so an
                // IPv4-only peer's address generation is set by a request before that.
                // All three name the peer the create just made in there.
                let ph = try handle(peer.namespace)
                var requests: [NetlinkRequest] = noLinkLocal
                    ? [try .setLink(.name(peer.name), LinkChange(alias: peerAlias, ipv6AddressGeneration: IPv6AddressGeneration.none)),
                       try .setLink(.name(peer.name), LinkChange(up: true))]
                    : [try .setLink(.name(peer.name), LinkChange(up: true, alias: peerAlias))]
                requests.append(.getLink(.name(peer.name)))
                let results = try ph.collect(try ph.send(requests))
                for result in results.dropLast() {
                    if case .failure(let e) = result { throw e }
                }
                if case .success(let replies) = results.last, let link = try Link(firstIn: replies) {
                    indexes[peer.namespace, default: [:]][peer.name] = link.index
                }
            }
        case .createVXLAN(let ref, let name, let s, let master, let mtu, let mac, let alias):
            let h = try handle(ref)
            let underlay: Int32? = if let d = s.device { try index(d, in: ref) } else { nil }
            let masterIndex: Int32? = if let master { try index(master, in: ref) } else { nil }
            try h.execute(.newLink(NewLink(name: name, kind: .vxlan(VXLANConfig(vni: s.vni, local: s.local, port: s.port, learning: false, underlay: underlay)),
                                           mtu: UInt32(mtu), mac: mac, master: masterIndex, group: OwnerMark.linkGroup(alias: alias), up: true)))
            try finishing(name, in: ref) { () throws(NetlinkError) in try h.setLink(.name(name), LinkChange(alias: alias)) }
        case .createMacvlan(let ref, let name, let parent, let mode, let mtu, let mac, let alias):
            let parentIndex = try index(parent, in: .host)
            let m: MacvlanMode = switch mode {
            case "vepa": .vepa
            case "private": .private
            case "passthru": .passthru
            default: .bridge
            }
            try handle(.host).execute(.newLink(NewLink(name: name, kind: .macvlan(parent: parentIndex, mode: m), mtu: UInt32(mtu), mac: mac,
                                                       group: OwnerMark.linkGroup(alias: alias),
                                                       namespace: ref == .host ? nil : try namespace(ref))))
            try finishing(name, in: ref) { () throws(NetlinkError) in try handle(ref).setLink(.name(name), LinkChange(up: true, alias: alias)) }
        case .setLink(let ref, let name, let change):
            let h = try handle(ref)
            var lc = LinkChange(mtu: change.mtu.map { UInt32($0) }, up: change.isUp, alias: change.alias, group: change.group)
            if let master = change.master {
                lc.master = if let m = master { try index(m, in: ref) } else { 0 }
            }
            if let mac = change.mac {
                // Most drivers refuse a MAC change while up: flap the link.
                let wasUp = try h.link(named: name)?.isUp ?? false
                if wasUp { try h.setLink(.name(name), LinkChange(up: false)) }
                try h.setLink(.name(name), LinkChange(mac: mac))
                if wasUp && lc.up == nil { lc.up = true }
            }
            if lc != LinkChange() { try h.setLink(.name(name), lc) }
            if let isolated = change.isolated { try h.setBridgePort(.name(name), isolated: isolated) }
            if let nf = change.bridgeNetfilter { try h.setBridgeNetfilter(.name(name), nf) }
        case .deleteLink(let ref, let name):
            // A veth takes its peer (in another namespace) with it: forget all.
            indexes.removeAll()
            try goneIsDone { () throws(NetlinkError) in try handle(ref).deleteLink(.name(name)) }
        case .addAddress(let ref, let a):
            let h = try handle(ref)
            // Marked in the creating request (IFA_PROTO), like a route's protocol: an
            // address is never there without its mark, even after a kill -9.
            try h.addAddress(NewAddress(index: try index(a.link, in: ref), address: a.address, prefixLength: a.prefixLength,
                                        noDAD: a.address.family == .v6, proto: a.proto))
        case .deleteAddress(let ref, let a):
            try goneIsDone { () throws(NetlinkError) in
                try handle(ref).deleteAddress(NewAddress(index: try index(a.link, in: ref), address: a.address, prefixLength: a.prefixLength))
            }
        case .addRoute(let ref, let r):
            try handle(ref).addRoute(try routeSpec(r, in: ref))
        case .deleteRoute(let ref, let r):
            try goneIsDone { () throws(NetlinkError) in try handle(ref).deleteRoute(try routeSpec(r, in: ref)) }
        case .addNeighbour(let ref, let n):
            // Replace: the kernel may hold a learned entry for the address (a ping
            // to a peer before its host was known leaves one INCOMPLETE or FAILED).
            // Such entries are the kernel's cache, never anyone's configuration (the
            // planner sees only permanent entries, and a permanent one in the way is
            // planned as a change), so the static entry takes its place.
            try handle(ref).addNeighbour(NeighbourSpec(index: try index(n.link, in: ref), address: n.address, mac: n.mac), replace: true)
        case .deleteNeighbour(let ref, let n):
            try goneIsDone { () throws(NetlinkError) in
                try handle(ref).deleteNeighbour(NeighbourSpec(index: try index(n.link, in: ref), address: n.address, mac: n.mac))
            }
        case .addFDBEntry(let ref, let e):
            try handle(ref).addFDB(FDBSpec(index: try index(e.link, in: ref), mac: e.mac, destination: e.destination), append: true)
        case .deleteFDBEntry(let ref, let e):
            try goneIsDone { () throws(NetlinkError) in
                try handle(ref).deleteFDB(FDBSpec(index: try index(e.link, in: ref), mac: e.mac, destination: e.destination))
            }
        case .replaceFirewallTable, .deleteFirewallTable, .setSysctl, .claimStoreKey, .putStoreKey, .deleteStoreKey, .collectStoreKey, .storeTransaction,
             .writeNamespaceFile, .deleteNamespaceFile:
            throw NetlinkError(errno: EOPNOTSUPP, request: "nftables", detail: "not a netlink operation (HostDriver routes it to nftables)")
        }
    }

    /// A namespace netform deletes by its name may have another name someone gave it
    /// (`ip netns attach dbg <pid in it>`, a second bind mount, a symlink): removing
    /// netform's name then does not end it, and its veths — whose host ends the plan
    /// waits to see go — would live on. Then netform takes out what is its own in
    /// there (links with the project's mark or group, and the mark on `lo`) and leaves
    /// the namespace, unmarked and otherwise untouched, to whoever holds that name.
    private func releaseIfNamedElsewhere(_ name: String) throws(NetlinkError) {
        guard let id = try? NamespaceID(path: "\(NetworkNamespace.namedDirectory)/\(name)") else { return }
        if namesByIdentity == nil {
            var byID: [NamespaceID: Set<String>] = [:]
            for n in (try? NetworkNamespace.listNamed()) ?? [] {
                if let i = try? NamespaceID(path: "\(NetworkNamespace.namedDirectory)/\(n)") { byID[i, default: []].insert(n) }
            }
            namesByIdentity = byID
        }
        namesByIdentity?[id]?.remove(name)
        guard let others = namesByIdentity?[id], !others.isEmpty else { return }
        let h = try handle(.named(name))
        let links = try h.links()
        guard let lo = links.first(where: { $0.linkType == 772 }), let owner = OwnerMark(alias: lo.alias) else { return }
        let group = OwnerMark.linkGroup(project: owner.project)
        for link in links where link.index != lo.index && (link.group == group || OwnerMark(alias: link.alias)?.project == owner.project) {
            try goneIsDone { () throws(NetlinkError) in try h.deleteLink(.index(link.index)) }
        }
        try h.setLink(.index(lo.index), LinkChange(alias: ""))
        indexes.removeAll()
    }

    /// Runs the requests that complete a link the previous request created; when one
    /// fails, deletes that link (a veth's peer goes with it) and rethrows. A create
    /// that failed created nothing, so the executor never runs a failed step's
    /// inverse — which, after an EEXIST, would delete the object someone else made.
    private func finishing(_ name: String, in ref: NamespaceRef, _ rest: () throws(NetlinkError) -> Void) throws(NetlinkError) {
        do {
            try rest()
        } catch {
            indexes.removeAll()
            try? handle(ref).deleteLink(.name(name))
            throw error
        }
    }

    /// The RTM_NEWLINK request that creates a container's veth: both ends get the
    /// interface group of the project their alias names, in this one request, and
    /// one transmit and one receive queue each — the number a veth uses anyway
    /// (`ip -d link` shows `numtxqueues 1 numrxqueues 1`, where the kernel's default
    /// allocates one per CPU and waits for RCU to put all but one out of use).
    static func vethRequest(name: String, mac: MACAddress?, mtu: Int, alias: String,
                            peer: String, in peerNS: NetworkNamespace?, peerMac: MACAddress?, peerAlias: String) -> NewLink {
        NewLink(name: name, kind: .veth(peer: VethPeer(name: peer, namespace: peerNS, mac: peerMac, mtu: UInt32(mtu),
                                                       group: OwnerMark.linkGroup(alias: peerAlias), queues: 1)),
                mtu: UInt32(mtu), mac: mac, group: OwnerMark.linkGroup(alias: alias), queues: 1)
    }

    /// Errnos that mean "the object (or the link or namespace it lived on) is not
    /// there": ENODEV (link), ENOENT (namespace file, neighbour, FDB entry), ESRCH
    /// (route), EADDRNOTAVAIL (address).
    static let notThere: Set<Int32> = [ENODEV, ENOENT, ESRCH, EADDRNOTAVAIL]

    /// Runs a delete; an object already gone is a delete done (as CNI's DEL): a
    /// killed apply or destroy, or a veth that went with its namespace, must not
    /// make the next run fail.
    private func goneIsDone(_ delete: () throws(NetlinkError) -> Void) throws(NetlinkError) {
        do {
            try delete()
        } catch where Self.notThere.contains(error.errno) {
            return
        }
    }

    private func routeSpec(_ r: RouteState, in ref: NamespaceRef) throws(NetlinkError) -> RouteSpec {
        let any: IPNetwork = r.family == .v4 ? IPNetwork("0.0.0.0/0")! : IPNetwork("::/0")!
        return RouteSpec(destination: r.destination ?? any, gateway: r.gateway,
                         outputIndex: try r.device.map { d throws(NetlinkError) in try index(d, in: ref) },
                         table: r.table, protocol: r.proto)
    }

    /// Creates namespaces on two threads at once: the kernel sets a namespace up
    /// (~0.7 ms, most of it outside the rtnl lock) in parallel with another. Sends
    /// additions of addresses and routes without a round trip each
    /// (`performPipelined`), and deletes links of one namespace in one request
    /// (`deleteTogether`; one by one, stopping at the first failure, when it
    /// cannot). Other operations run one by one.
    public func performIndependent(_ ops: [Operation]) -> [ExecuteError?] {
        if ops.allSatisfy(Self.pipelines) { return performPipelined(ops) }
        if let (ref, names) = Self.linkDeletions(ops) {
            switch deleteTogether(names, in: ref) {
            case .deleted: return ops.map { _ in nil }
            case .notTogether(let unrestored): return deleteOneByOne(ops, unrestored: unrestored)
            }
        }
        var jobs: [(index: Int, name: String, alias: String)] = []
        for (i, op) in ops.enumerated() {
            guard case .createNamespace(let name, let owner) = op else {
                return ops.map { op -> ExecuteError? in
                    do throws(ExecuteError) { try perform(op); return nil } catch { return error }
                }
            }
            jobs.append((i, name, owner.alias))
        }
        let results = Mutex<[Int: Result<(NetworkNamespace, NetlinkHandle), NetlinkError>]>([:])
        let workers = min(2, jobs.count)
        let work = jobs
        // Each worker only calls NetworkNamespace.create, which does its setns on
        // a dedicated pthread of its own; the Dispatch threads never change namespace.
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            for job in work.enumerated() where job.offset % workers == w {
                let (index, name, alias) = job.element
                let box = HandleBox()
                do throws(NetlinkError) {
                    let ns = try NetworkNamespace.create(name: name) { () throws(NetlinkError) in
                        let h = try NetlinkHandle()
                        try h.setLink(.name("lo"), LinkChange(up: true, alias: alias))
                        box.handle.withLock { $0 = h }
                    }
                    let h = box.handle.withLock { $0 }!
                    results.withLock { $0[index] = .success((ns, h)) }
                } catch {
                    results.withLock { $0[index] = .failure(error) }
                }
            }
        }
        let done = results.withLock { $0 }
        return ops.indices.map { i in
            switch done[i] {
            case .success(let (ns, h))?:
                let ref = NamespaceRef.named(jobs[i].name)
                namespaces[ref] = ns
                handles[ref] = h
                return nil
            case .failure(let e)?:
                return ExecuteError(operation: DryRun.describe(ops[i]), message: "\(e)", netlink: e)
            case nil:
                return ExecuteError(operation: DryRun.describe(ops[i]), message: "not run")
            }
        }
    }

    /// The namespace and names of a run of link deletions all in one namespace.
    static func linkDeletions(_ ops: [Operation]) -> (NamespaceRef, [String])? {
        var names: [String] = []
        var ns: NamespaceRef?
        for op in ops {
            guard case .deleteLink(let ref, let name) = op, ns == nil || ns == ref else { return nil }
            ns = ref
            names.append(name)
        }
        return ns.map { ($0, names) }
    }

    /// The first half of the transient groups `deleteTogether` uses: outside
    /// netform's projects' groups (`0x4e46xxxx`), so no project ever mistakes a link
    /// it holds for one of its own interrupted creations.
    static let transientGroupBase: UInt32 = 0x4e44_0000

    /// Deletes links of one namespace in one request. Each unregistered link makes
    /// the kernel wait for an RCU grace period, under the rtnl lock (a bridge's
    /// delete: ~50 ms); the links of one `RTM_DELLINK` by group wait once together.
    ///
    /// The group is transient and this run's own: a number no link in the namespace
    /// carries (read first), set on exactly the links to delete (by index, from that
    /// read), checked again to be on no other link (and the links to still carry
    /// the aliases they had), and then deleted. Only links with a netform alias
    /// go this way: a link that is the project's by its group alone (its creation
    /// was interrupted before the alias) would, killed after the group is set, be
    /// left with no mark at all. A link already gone counts as deleted, as for one
    /// delete. When anything else goes wrong the links get their groups back and
    /// the result says they were not deleted together (with any group it could not
    /// put back), so the caller deletes them one by one as always. Killed after the
    /// groups are set, the links keep their aliases: the next plan of the project
    /// sets its group back, or deletes them. (The apply lock keeps a second netform
    /// from choosing a group at the same time.)
    ///
    /// `group` and `groupsSet` are for tests: a group to use, and what to do in the
    /// moment between setting it and checking it (as another process might).
    func deleteTogether(_ names: [String], in ref: NamespaceRef, group chosen: UInt32? = nil,
                        groupsSet: (UInt32) -> Void = { _ in }) -> DeletedTogether {
        guard names.count >= 2, let h = try? handle(ref), let before = try? h.links() else { return .notTogether(unrestored: [:]) }
        let byName = Dictionary(before.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let present = names.compactMap { byName[$0] }
        guard present.count >= 2, present.allSatisfy({ OwnerMark(alias: $0.alias) != nil }) else { return .notTogether(unrestored: [:]) }
        let used = Set(before.map { $0.group ?? 0 })
        var group = chosen ?? Self.transientGroupBase | UInt32.random(in: 1...0xffff)
        for _ in 0..<16 where used.contains(group) && chosen == nil { group = Self.transientGroupBase | UInt32.random(in: 1...0xffff) }
        guard !used.contains(group) else { return .notTogether(unrestored: [:]) }
        indexes.removeAll()
        var set: [Link] = []
        func restore() -> DeletedTogether {
            var unrestored: [String: NetlinkError] = [:]
            for l in set {
                do throws(NetlinkError) {
                    try h.setLink(.index(l.index), LinkChange(group: l.group ?? 0))
                } catch where error.errno == ENODEV {
                    continue
                } catch {
                    unrestored[l.name] = error
                }
            }
            return .notTogether(unrestored: unrestored)
        }
        for link in present {
            do throws(NetlinkError) {
                try h.setLink(.index(link.index), LinkChange(group: group))
                set.append(link)
            } catch where error.errno == ENODEV {
                continue  // gone meanwhile: as deleted
            } catch {
                return restore()
            }
        }
        groupsSet(group)
        let ours = Dictionary(set.map { ($0.index, $0.alias) }, uniquingKeysWith: { a, _ in a })
        guard !set.isEmpty, let after = try? h.links(),
              !after.contains(where: { $0.group == group && ours[$0.index] != .some($0.alias) }) else {
            return restore()
        }
        do throws(NetlinkError) {
            try h.deleteLinkGroup(group)
        } catch {
            return restore()
        }
        return .deleted
    }

    /// What `deleteTogether` did.
    enum DeletedTogether: Equatable {
        /// Every link is gone.
        case deleted
        /// Nothing was deleted; the links have their groups back, but for those
        /// named here (each with why its group could not be set back).
        case notTogether(unrestored: [String: NetlinkError])
    }

    /// Link deletions one by one, stopping at the first that fails: the rest are
    /// reported as not run, as the executor's one-step path would leave them (each
    /// deletion may take foreign objects with it, and some cannot be undone). A
    /// link whose transient group could not be set back says so in its error.
    private func deleteOneByOne(_ ops: [Operation], unrestored: [String: NetlinkError]) -> [ExecuteError?] {
        var results: [ExecuteError?] = []
        for op in ops {
            if results.contains(where: { $0 != nil }) {
                results.append(ExecuteError(operation: DryRun.describe(op), message: "not run: an earlier deletion of this run failed"))
                continue
            }
            do throws(ExecuteError) {
                try perform(op)
                results.append(nil)
            } catch {
                var error = error
                if case .deleteLink(_, let name) = op, let why = unrestored[name] {
                    error.message += "; its interface group is still a transient one of this run (setting it back failed: \(why)); the next plan sets it back"
                }
                results.append(error)
            }
        }
        return results
    }

    /// Operations `performIndependent` sends together, each namespace's in order on
    /// its own socket: additions of addresses and routes (each created by its own
    /// request, marked in it, and an addition refused creates nothing).
    static func pipelines(_ op: Operation) -> Bool {
        switch op {
        case .addAddress, .addRoute: true
        default: false
        }
    }

    /// Runs additions of addresses and routes without a round trip each: every
    /// namespace's requests are sent on its own socket (in plan order, a window at a
    /// time), then all the ACKs are read. The kernel runs each socket's requests in
    /// order, so a route still comes after the address whose subnet it needs; one
    /// result per operation, the kernel's refusal (errno and extended ACK) for each
    /// that failed. Those that succeeded are done, and rolled back like any other.
    private func performPipelined(_ ops: [Operation]) -> [ExecuteError?] {
        var results = [ExecuteError?](repeating: nil, count: ops.count)
        func failed(_ i: Int, _ e: NetlinkError) {
            results[i] = ExecuteError(operation: DryRun.describe(ops[i]), message: "\(e)", netlink: e)
        }
        // Requests by namespace, in plan order (the index lookups they need may
        // themselves ask the kernel, before anything is sent).
        var order: [NamespaceRef] = []
        var queued: [NamespaceRef: [(op: Int, request: NetlinkRequest)]] = [:]
        for (i, op) in ops.enumerated() {
            do throws(NetlinkError) {
                let (ref, request): (NamespaceRef, NetlinkRequest) = switch op {
                case .addAddress(let ref, let a):
                    (ref, try .newAddress(NewAddress(index: try index(a.link, in: ref), address: a.address, prefixLength: a.prefixLength,
                                                     noDAD: a.address.family == .v6, proto: a.proto)))
                case .addRoute(let ref, let r):
                    (ref, .newRoute(try routeSpec(r, in: ref)))
                default:
                    throw NetlinkError(errno: EINVAL, request: DryRun.describe(op), detail: "not an operation sent in a pipeline")
                }
                if queued[ref] == nil { order.append(ref) }
                queued[ref, default: []].append((i, request))
            } catch {
                failed(i, error)
            }
        }
        var next: [NamespaceRef: Int] = [:]
        while true {
            var inFlight: [(NamespaceRef, NetlinkHandle, NetlinkHandle.PendingBatch, ArraySlice<(op: Int, request: NetlinkRequest)>)] = []
            for ref in order {
                let all = queued[ref]!
                let start = next[ref] ?? 0
                guard start < all.count else { continue }
                let window = all[start..<min(start + 64, all.count)]
                next[ref] = window.endIndex
                do throws(NetlinkError) {
                    let h = try handle(ref)
                    inFlight.append((ref, h, try h.send(window.map(\.request)), window))
                } catch {
                    for item in window { failed(item.op, error) }
                }
            }
            if inFlight.isEmpty { break }
            for (_, h, pending, window) in inFlight {
                do throws(NetlinkError) {
                    for (item, result) in zip(window, try h.collect(pending)) {
                        if case .failure(let e) = result { failed(item.op, e) }
                    }
                } catch {
                    // The socket failed: what the kernel did is unknown, so none is
                    // counted done (their inverses would delete what may not be ours).
                    for item in window { failed(item.op, error) }
                }
            }
        }
        return results
    }

    public func awaitGone(_ links: [String]) throws(ExecuteError) {
        guard !links.isEmpty else { return }
        // One link dump per poll, however many links are awaited.
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10) + .milliseconds(5 * links.count)
        var waiting = Set(links)
        do {
            let h = try handle(.host)
            while true {
                waiting.formIntersection(try h.links().map(\.name))
                if waiting.isEmpty { return }
                if clock.now >= deadline { break }
                usleep(10_000)
            }
        } catch {
            throw ExecuteError(operation: "wait for links \(links.joined(separator: ", "))", message: "\(error)")
        }
        throw ExecuteError(operation: "wait for \(waiting.sorted().joined(separator: ", "))",
                           message: "still present after their namespaces were deleted")
    }
}

/// Carries the handle opened inside a namespace being created out of the
/// creating thread.
private final class HandleBox: Sendable {
    let handle = Mutex<NetlinkHandle?>(nil)
}
