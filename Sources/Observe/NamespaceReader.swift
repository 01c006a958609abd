#if canImport(Glibc)
import Glibc
#endif
import CNetlink
import Model
import Netlink

/// Everything read from one namespace, as the kernel reported it.
struct NamespaceDump: Sendable {
    var links: [LinkRecord] = []
    var addresses: [AddressRecord] = []
    var routes: [RouteRecord] = []
    var neighbours: [NeighbourRecord] = []
    /// FDB entries of the namespace's VXLAN devices only.
    var fdb: [NeighbourRecord] = []
    /// The id this namespace gives the observer's own (home) namespace
    /// (`RTM_GETNSID`), asked only when some link points into another namespace.
    var homeNsid: Int32?
}

/// The dump requests Observe sends: narrower than the generic ones in `Netlink`, so
/// the kernel filters and sends less.
enum NamespaceReader {
    static let rtmGetLink = UInt16(RTM_GETLINK), rtmNewLink = UInt16(RTM_NEWLINK)
    static let rtmGetAddr = UInt16(RTM_GETADDR), rtmNewAddr = UInt16(RTM_NEWADDR)
    static let rtmGetRoute = UInt16(RTM_GETROUTE), rtmNewRoute = UInt16(RTM_NEWROUTE)
    static let rtmGetNeigh = UInt16(RTM_GETNEIGH), rtmNewNeigh = UInt16(RTM_NEWNEIGH)
    static let rtmGetNsid = UInt16(RTM_GETNSID), rtmNewNsid = UInt16(RTM_NEWNSID)
    /// `IFLA_EXT_MASK` / `RTEXT_FILTER_SKIP_STATS`: no 64-bit counters in link dumps.
    static let iflaExtMask = UInt16(IFLA_EXT_MASK)
    static let skipStats: UInt32 = 1 << 3
    static let rtaTable = UInt16(RTA_TABLE.rawValue)
    /// `NETNSA_NSID` and `NETNSA_FD` (linux/net_namespace.h, stable uapi).
    static let netnsaNSID: UInt16 = 1, netnsaFD: UInt16 = 3
    static let familyInet: UInt8 = 2, familyInet6: UInt8 = 10, familyBridge: UInt8 = 7

    /// Every link, without statistics.
    static let dumpLinks: NetlinkRequest = {
        var e = AttributeEncoder()
        e.appendRaw(IfInfoMsg().bytes)
        e.u32(iflaExtMask, skipStats)
        return NetlinkRequest(type: rtmGetLink, flags: [], payload: e.bytes, description: "RTM_GETLINK dump")
    }()

    /// IPv4 and IPv6 addresses.
    static let dumpAddresses = NetlinkRequest(type: rtmGetAddr, flags: [], payload: IfAddrMsg().bytes,
                                              description: "RTM_GETADDR dump")

    /// Routes of the main table, both families (the kernel filters by table; cloned
    /// and cached routes are not dumped).
    static let dumpMainRoutes: NetlinkRequest = {
        var h = RtMsg()
        h.table = 254
        var e = AttributeEncoder()
        e.appendRaw(h.bytes)
        e.u32(rtaTable, 254)
        return NetlinkRequest(type: rtmGetRoute, flags: [], payload: e.bytes, description: "RTM_GETROUTE dump table main")
    }()

    /// ARP and NDP entries.
    static let dumpNeighbours = NetlinkRequest(type: rtmGetNeigh, flags: [], payload: NdMsg().bytes,
                                               description: "RTM_GETNEIGH dump")

    /// The FDB of one device (the kernel filters by `ndm_ifindex`).
    static func dumpFDB(index: Int32) -> NetlinkRequest {
        NetlinkRequest(type: rtmGetNeigh, flags: [], payload: NdMsg(family: familyBridge, index: index).bytes,
                       description: "RTM_GETNEIGH dump fdb dev #\(index)")
    }

    /// `RTM_GETNSID` for the namespace behind `fd`, as seen from the handle's namespace.
    static func getNsid(fd: Int32) -> NetlinkRequest {
        var e = AttributeEncoder()
        e.appendRaw([0, 0, 0, 0])  // struct rtgenmsg, padded
        e.u32(netnsaFD, UInt32(bitPattern: fd))
        return NetlinkRequest(type: rtmGetNsid, flags: [], payload: e.bytes, description: "RTM_GETNSID fd \(fd)")
    }

    /// Reads one namespace through `handle`. `homeFD`: the observer's namespace, whose
    /// id here is asked when a link points into another namespace (to name veth peers
    /// and macvlan parents that live there). `neighbours: .leftOut` skips the
    /// neighbour dump (see `NeighbourReading`).
    static func read(_ handle: NetlinkHandle, homeFD: Int32?, neighbours: NeighbourReading = .read) throws(NetlinkError) -> NamespaceDump {
        var d = NamespaceDump()
        for m in try handle.dump(dumpLinks) where m.type == rtmNewLink {
            d.links.append(try decoded(LinkRecord(payload: m.payload), "RTM_NEWLINK"))
        }
        for m in try handle.dump(dumpAddresses) where m.type == rtmNewAddr && isIP(m) {
            d.addresses.append(try decoded(AddressRecord(payload: m.payload), "RTM_NEWADDR"))
        }
        for m in try handle.dump(dumpMainRoutes) where m.type == rtmNewRoute && isIP(m) {
            let r = try decoded(RouteRecord(payload: m.payload), "RTM_NEWROUTE")
            if r.table == 254 { d.routes.append(r) }
        }
        for m in try neighbours == .leftOut ? [] : handle.dump(dumpNeighbours) where m.type == rtmNewNeigh && isIP(m) {
            d.neighbours.append(try decoded(NeighbourRecord(payload: m.payload), "RTM_NEWNEIGH"))
        }
        for link in d.links where link.kind == "vxlan" {
            for m in try handle.dump(dumpFDB(index: link.index)) where m.type == rtmNewNeigh {
                let n = try decoded(NeighbourRecord(payload: m.payload), "RTM_NEWNEIGH fdb")
                if n.index == link.index { d.fdb.append(n) }
            }
        }
        if let homeFD, d.links.contains(where: { $0.linkNetnsID != nil }) {
            for m in try handle.execute(getNsid(fd: homeFD)) where m.type == rtmNewNsid && m.payload.count > 4 {
                let attrs = try AttributeList(parsing: m.payload[(m.payload.startIndex + 4)...])
                if let id = try attrs[netnsaNSID]?.i32(), id >= 0 { d.homeNsid = id }
            }
        }
        return d
    }

    private static func decoded<T>(_ value: T?, _ what: String) throws(NetlinkError) -> T {
        guard let value else { throw NetlinkError(errno: EBADMSG, request: what, detail: "malformed message in dump") }
        return value
    }

    /// Dumps with `AF_UNSPEC` may include families that loaded modules add (MCTP,
    /// multicast routing tables...): only IPv4 and IPv6 are decoded.
    private static func isIP(_ m: NetlinkMessage) -> Bool {
        guard let family = m.payload.first else { return false }
        return family == familyInet || family == familyInet6
    }
}
