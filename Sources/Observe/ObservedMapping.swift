import Addressing
import Model
import Netlink

/// One namespace after mapping, with what is still needed to name links that live in
/// other namespaces.
struct ObservedNamespace: Sendable {
    var state: NamespaceState
    /// The id this namespace gives the observer's own namespace (nil: not asked, or
    /// none assigned).
    var homeNsid: Int32?
    /// Links that point into another namespace (`IFLA_LINK_NETNSID`).
    var crossLinks: [CrossLink]
}

/// A veth or macvlan whose peer or parent is in another namespace.
struct CrossLink: Sendable, Hashable {
    /// Position in `NamespaceState.links`.
    var position: Int
    /// `IFLA_LINK`: the index of the peer or parent, in that other namespace.
    var parent: Int32
    /// `IFLA_LINK_NETNSID`, as seen from this namespace.
    var nsid: Int32
}

/// How kernel objects become `Model` values. These rules are what the planner relies
/// on, so they are stated here once:
///
/// Links
/// - kind: `ARPHRD_LOOPBACK` (or `lo` without an `IFLA_INFO_KIND`) → `.loopback`;
///   "bridge" → `.bridge`; "veth" → `.veth(peer:)`; "vxlan" → `.vxlan(VNI, local,
///   port, underlay device)`; "macvlan" → `.macvlan(parent:mode:)`; anything else →
///   `.other(kind)`, or `.other("device")` for links without a kind (physical NICs).
/// - veth peer: named when cheap and exact — a peer in the same namespace (by
///   index); a peer in the observer's own (host) namespace (by index, after checking
///   with `RTM_GETNSID` that the peer's namespace id is the host's); and, for a host
///   veth, the container end that resolved to it. Otherwise nil.
/// - vxlan device: the underlay's name when it is in the same namespace, else nil.
/// - macvlan parent: its name when it is in the same namespace or in the host
///   namespace, else `if<INDEX>`; mode as `MacvlanMode`'s spec spelling
///   ("bridge", "vepa", "private", "passthru"; "source" when the kernel says so).
/// - master: the bridge's name (same namespace; `if<INDEX>` if it cannot be found).
/// - isolated: the bridge-port flag (false for links that are not bridge ports).
/// - mtu, isUp (`IFF_UP`, administrative state), mac (`IFLA_ADDRESS` when it is an
///   Ethernet address), alias (`IFLA_IFALIAS`, nil when empty), index.
/// - Namespace owner: the netform mark in the alias of `lo` (`OwnerMark(alias:)`).
///
/// Left out, because the kernel adds them by itself and netform must neither try to
/// delete them from its own interfaces nor see them as conflicts:
/// - IPv6 link-local addresses (`fe80::/10` or scope link);
/// - host-scope addresses on loopback (`127.0.0.1/8`, `::1/128`, added when `lo`
///   goes up);
/// - routes outside the main table (254) — local/broadcast routes live in 255;
/// - IPv6 routes to link-local (`fe80::/10`) or multicast (`ff00::/8`) destinations;
/// - neighbours that are not `NUD_PERMANENT` (learned ARP/NDP entries);
/// - FDB entries other than static ones with a remote destination on VXLAN devices
///   (bridges' own permanent entries, learned entries).
/// Routes are kept whatever their protocol: `RouteState.proto` tells netform's (78)
/// from the kernel's and everyone else's. A multipath route is reported with its
/// destination and protocol only (no gateway, no device): netform installs none.
/// A link index that cannot be named (it vanished mid-read, or lives in another
/// namespace) is written `if<INDEX>`, as iproute2 does.
enum ObservedMapping {
    static let loopbackType: UInt16 = 772

    static func namespace(_ ref: NamespaceRef, _ d: NamespaceDump) -> ObservedNamespace {
        var names: [Int32: String] = [:]
        names.reserveCapacity(d.links.count)
        for l in d.links { names[l.index] = l.name }
        func name(_ index: Int32) -> String { names[index] ?? "if\(index)" }

        var state = NamespaceState(ref: ref)
        var cross: [CrossLink] = []
        state.links.reserveCapacity(d.links.count)
        for l in d.links {
            if let nsid = l.linkNetnsID, let parent = l.parent, l.kind == "veth" || l.kind == "macvlan" {
                cross.append(CrossLink(position: state.links.count, parent: parent, nsid: nsid))
            }
            state.links.append(link(l, in: ref, names: names))
        }
        state.owner = state.links.first { $0.kind == .loopback }?.owner

        let loopbacks = Set(d.links.filter(isLoopback).map(\.index))
        for a in d.addresses where keep(a, onLoopback: loopbacks.contains(a.index)) {
            state.addresses.append(AddressState(link: name(a.index), address: a.address, prefixLength: a.prefixLength, proto: a.proto))
        }
        for r in d.routes where keep(r) {
            state.routes.append(RouteState(destination: r.destination.prefixLength == 0 ? nil : r.destination,
                                           family: r.family, gateway: r.gateway, device: r.outputIndex.map(name),
                                           proto: r.protocol, table: r.table))
        }
        for n in d.neighbours where n.state & NeighbourRecord.permanent != 0 {
            guard let address = n.destination, let mac = n.mac else { continue }
            state.neighbours.append(NeighbourState(link: name(n.index), address: address, mac: mac, permanent: true))
        }
        let vxlans = Set(d.links.filter { $0.kind == "vxlan" }.map(\.index))
        for f in d.fdb where vxlans.contains(f.index) && f.state & (NeighbourRecord.permanent | NeighbourRecord.noARP) != 0 {
            guard let mac = f.mac, let destination = f.destination else { continue }
            state.fdb.append(FDBEntryState(link: name(f.index), mac: mac, destination: destination))
        }
        return ObservedNamespace(state: state, homeNsid: d.homeNsid, crossLinks: cross)
    }

    static func isLoopback(_ l: LinkRecord) -> Bool {
        l.type == loopbackType || (l.name == "lo" && l.kind == nil)
    }

    /// One link; `names` maps the namespace's indexes to names.
    static func link(_ l: LinkRecord, in ref: NamespaceRef, names: [Int32: String]) -> LinkState {
        let sameNamespace = l.linkNetnsID == nil
        let kind: LinkKind
        if isLoopback(l) {
            kind = .loopback
        } else {
            switch l.kind {
            case "bridge"?:
                kind = .bridge
            case "veth"?:
                let peer = sameNamespace ? l.parent.flatMap { names[$0] }.map { VethPeerRef(namespace: ref, name: $0) } : nil
                kind = .veth(peer: peer)
            case "vxlan"?:
                let device = sameNamespace ? l.vxlanUnderlay.flatMap { $0 > 0 ? names[$0] : nil } : nil
                kind = .vxlan(VXLANSettings(vni: l.vxlanVNI ?? 0, local: l.vxlanLocal, port: l.vxlanPort ?? 4789, device: device))
            case "macvlan"?:
                let p = l.parent ?? 0
                let parent = (sameNamespace ? names[p] : nil) ?? "if\(p)"
                kind = .macvlan(parent: parent, mode: modeName(l.macvlanMode))
            case let other:
                kind = .other(other ?? "device")
            }
        }
        var alias = l.alias
        if alias?.isEmpty == true { alias = nil }
        return LinkState(name: l.name, kind: kind, mtu: Int(l.mtu), isUp: l.isUp, mac: l.mac,
                         master: l.master.flatMap { $0 > 0 ? (names[$0] ?? "if\($0)") : nil },
                         alias: alias, isolated: l.isolated, group: l.group, index: l.index, bridgeNetfilter: l.bridgeNetfilter)
    }

    /// The spec's spelling of a macvlan mode (`Spec.MacvlanMode` raw values).
    static func modeName(_ mode: UInt32?) -> String {
        switch mode.flatMap(MacvlanMode.init(rawValue:)) {
        case .private?: "private"
        case .vepa?: "vepa"
        case .bridge?: "bridge"
        case .passthru?: "passthru"
        case .source?: "source"
        case nil: mode.map { "mode\($0)" } ?? "unknown"
        }
    }

    static func keep(_ a: AddressRecord, onLoopback: Bool) -> Bool {
        if onLoopback && a.scope == 254 { return false }
        if a.address.family == .v6, a.scope == 253 || isLinkLocal(a.address) { return false }
        return true
    }

    static func keep(_ r: RouteRecord) -> Bool {
        guard r.table == 254 else { return false }
        if r.family == .v6, r.destination.prefixLength > 0,
           isLinkLocal(r.destination.network) || isMulticast(r.destination.network) { return false }
        return true
    }

    /// `fe80::/10`.
    static func isLinkLocal(_ a: IPAddress) -> Bool {
        if case .v6(let v) = a { return v.high >> 54 == 0x3fa }
        return false
    }

    /// `ff00::/8`.
    static func isMulticast(_ a: IPAddress) -> Bool {
        if case .v6(let v) = a { return v.high >> 56 == 0xff }
        return false
    }

    // MARK: - Across namespaces

    /// Names, in a non-host namespace, the veth peers and macvlan parents that live in
    /// the host namespace (`hostNames`: index → name there). Returns, for each host
    /// link that is a veth peer, where its other end is.
    @discardableResult
    static func resolveTowardsHost(_ o: inout ObservedNamespace, hostNames: [Int32: String]) -> [String: VethPeerRef] {
        guard let home = o.homeNsid else { return [:] }
        var hostPeers: [String: VethPeerRef] = [:]
        for c in o.crossLinks where c.nsid == home {
            guard let hostName = hostNames[c.parent] else { continue }
            var link = o.state.links[c.position]
            switch link.kind {
            case .veth:
                link.kind = .veth(peer: VethPeerRef(namespace: .host, name: hostName))
                hostPeers[hostName] = VethPeerRef(namespace: o.state.ref, name: link.name)
            case .macvlan(_, let mode):
                link.kind = .macvlan(parent: hostName, mode: mode)
            default:
                continue
            }
            o.state.links[c.position] = link
        }
        return hostPeers
    }

    /// Resolves cross-namespace names for a whole observation: container ends and
    /// macvlans towards the host, then host veths towards their container ends.
    static func resolveAcrossNamespaces(_ all: inout [ObservedNamespace]) {
        guard let hostIndex = all.firstIndex(where: { $0.state.ref == .host }) else { return }
        var hostNames: [Int32: String] = [:]
        for l in all[hostIndex].state.links { if let i = l.index { hostNames[i] = l.name } }
        var hostPeers: [String: VethPeerRef] = [:]
        for i in all.indices where i != hostIndex && !all[i].crossLinks.isEmpty {
            for (hostLink, peer) in resolveTowardsHost(&all[i], hostNames: hostNames) {
                // The same namespace reached under two refs: keep the first (stable order).
                if hostPeers[hostLink] == nil { hostPeers[hostLink] = peer }
            }
        }
        guard !hostPeers.isEmpty else { return }
        for c in all[hostIndex].crossLinks {
            let link = all[hostIndex].state.links[c.position]
            guard case .veth = link.kind, let peer = hostPeers[link.name] else { continue }
            all[hostIndex].state.links[c.position].kind = .veth(peer: peer)
        }
    }
}
