#if canImport(Glibc)
import Glibc
#endif
import Addressing

/// macvlan modes (`enum macvlan_mode`).
public enum MacvlanMode: UInt32, Sendable, Hashable {
    case `private` = 1
    case vepa = 2
    case bridge = 4
    case passthru = 8
    case source = 16
}

/// VXLAN settings read from `IFLA_INFO_DATA`.
public struct VXLANInfo: Sendable, Hashable {
    public var vni: UInt32?
    public var local: IPAddress?
    public var port: UInt16?
    public var learning: Bool?
    /// `IFLA_VXLAN_LINK`: the underlay device index.
    public var underlay: Int32?
}

/// Bridge port settings read from `IFLA_INFO_SLAVE_DATA` of a bridge port.
public struct BridgePortInfo: Sendable, Hashable {
    public var isolated: Bool?
    public var learning: Bool?
}

/// A link as reported by the kernel (`RTM_NEWLINK`).
public struct Link: Sendable, Hashable {
    public var index: Int32
    public var name: String
    /// `ifi_type` (`ARPHRD_*`, 1 = Ethernet, 772 = loopback).
    public var linkType: UInt16
    public var flags: InterfaceFlags
    /// `IFLA_INFO_KIND` ("bridge", "veth", "vxlan", ...), nil for physical/loopback.
    public var kind: String?
    public var mtu: UInt32?
    public var mac: MACAddress?
    /// Index of the master (bridge) device.
    public var master: Int32?
    /// `IFLA_IFALIAS`.
    public var alias: String?
    public var group: UInt32?
    /// `IFLA_LINK`: peer/parent index (in the peer's namespace when `linkNetnsID` is set).
    public var parent: Int32?
    /// `IFLA_LINK_NETNSID`: the peer's namespace id, as seen from this namespace.
    public var linkNetnsID: Int32?
    /// `IFLA_OPERSTATE` (`IF_OPER_*`: 6 = up, 2 = down, 7 = dormant...).
    public var operState: UInt8?
    public var vxlan: VXLANInfo?
    public var macvlanMode: MacvlanMode?
    /// `IFLA_INFO_SLAVE_KIND` ("bridge" for a bridge port).
    public var slaveKind: String?
    public var bridgePort: BridgePortInfo?
    /// Raw `IFLA_INFO_DATA` / `IFLA_INFO_SLAVE_DATA`, for kinds not decoded above.
    public var infoData: AttributeList?
    public var slaveData: AttributeList?
    /// Top-level attributes this layer does not decode, kept as raw bytes.
    public var unknownAttributes: [RawAttribute]

    public var isUp: Bool { flags.contains(.up) }

    /// The first link among replies (a GET's answer in a batch), or nil.
    public init?(firstIn replies: [NetlinkMessage]) throws(NetlinkError) {
        guard let m = replies.first(where: { $0.type == MsgType.newLink }) else { return nil }
        try self.init(payload: m.payload)
    }

    /// Decodes an `RTM_NEWLINK` payload (`ifinfomsg` + attributes).
    public init(payload: [UInt8]) throws(NetlinkError) {
        var r = ByteReader(payload[...], what: "ifinfomsg")
        let hdr = try IfInfoMsg(&r)
        let attrs = try AttributeList(parsing: payload[(payload.startIndex + IfInfoMsg.size)...])
        index = hdr.index
        linkType = hdr.type
        flags = InterfaceFlags(rawValue: hdr.flags)
        name = ""
        unknownAttributes = []
        for a in attrs {
            switch a.type {
            case IFLA.ifname: name = a.string()
            case IFLA.mtu: mtu = try a.u32()
            case IFLA.address:
                mac = a.macAddress()
                if mac == nil { unknownAttributes.append(a) }  // not Ethernet (e.g. a tunnel)
            case IFLA.master: master = try a.i32()
            case IFLA.ifalias: alias = a.string()
            case IFLA.group: group = try a.u32()
            case IFLA.link: parent = try a.i32()
            case IFLA.linkNetnsid: linkNetnsID = try a.i32()
            case IFLA.operstate: operState = try a.u8()
            case IFLA.linkinfo: try decodeLinkInfo(try a.nested())
            default: unknownAttributes.append(a)
            }
        }
        guard !name.isEmpty else { throw .malformed("link \(index) has no IFLA_IFNAME", request: "RTM_NEWLINK") }
    }

    private mutating func decodeLinkInfo(_ info: AttributeList) throws(NetlinkError) {
        kind = info[IFLA.infoKind]?.string()
        slaveKind = info[IFLA.infoSlaveKind]?.string()
        if let data = info[IFLA.infoData] {
            let d = try data.nested()
            infoData = d
            switch kind {
            case "vxlan":
                var v = VXLANInfo()
                v.vni = try d[IFLA.vxlanID]?.u32()
                if let l = d[IFLA.vxlanLocal] { v.local = try l.ipAddress() }
                if let l = d[IFLA.vxlanLocal6] { v.local = try l.ipAddress() }
                v.port = try d[IFLA.vxlanPort]?.u16BigEndian()
                if let l = d[IFLA.vxlanLearning] { v.learning = try l.u8() != 0 }
                if let u = d[IFLA.vxlanLink] { v.underlay = Int32(bitPattern: try u.u32()) }
                vxlan = v
            case "macvlan", "macvtap":
                if let m = d[IFLA.macvlanMode] { macvlanMode = MacvlanMode(rawValue: try m.u32()) }
            default:
                break
            }
        }
        if let data = info[IFLA.infoSlaveData] {
            let d = try data.nested()
            slaveData = d
            if slaveKind == "bridge" {
                var p = BridgePortInfo()
                if let v = d[IFLA.brportIsolated] { p.isolated = try v.u8() != 0 }
                if let v = d[IFLA.brportLearning] { p.learning = try v.u8() != 0 }
                bridgePort = p
            }
        }
    }
}

/// The peer end of a veth pair.
public struct VethPeer: Sendable {
    public var name: String
    /// Create the peer directly inside this namespace (`IFLA_NET_NS_FD`).
    public var namespace: NetworkNamespace?
    public var mac: MACAddress?
    public var mtu: UInt32?
    /// `IFLA_GROUP` of the peer, set in the creating request (netform's ownership
    /// group, so a peer left by an interrupted run is still recognisably its own).
    public var group: UInt32?
    /// Transmit and receive queues of the peer (see `NewLink.queues`).
    public var queues: UInt32?

    public init(name: String, namespace: NetworkNamespace? = nil, mac: MACAddress? = nil, mtu: UInt32? = nil, group: UInt32? = nil,
                queues: UInt32? = nil) {
        self.name = name
        self.namespace = namespace
        self.mac = mac
        self.mtu = mtu
        self.group = group
        self.queues = queues
    }
}

/// VXLAN device settings for creation.
public struct VXLANConfig: Sendable, Hashable {
    public var vni: UInt32
    public var local: IPAddress?
    /// UDP destination port (IANA 4789 by default).
    public var port: UInt16
    public var learning: Bool
    /// Underlay device index (`IFLA_VXLAN_LINK`).
    public var underlay: Int32?

    public init(vni: UInt32, local: IPAddress? = nil, port: UInt16 = 4789, learning: Bool = false, underlay: Int32? = nil) {
        self.vni = vni
        self.local = local
        self.port = port
        self.learning = learning
        self.underlay = underlay
    }
}

/// What kind of link to create, with its kind-specific settings.
public enum LinkKindConfig: Sendable {
    case bridge
    /// A bridge whose bridged IPv4/IPv6 traffic goes through the netfilter hooks
    /// (`nf_call_iptables 1 nf_call_ip6tables 1`), whatever the host's sysctls.
    case filteredBridge
    case dummy
    case veth(peer: VethPeer)
    case vxlan(VXLANConfig)
    /// A macvlan on top of the device with index `parent`.
    case macvlan(parent: Int32, mode: MacvlanMode)

    public var kindName: String {
        switch self {
        case .bridge, .filteredBridge: "bridge"
        case .dummy: "dummy"
        case .veth: "veth"
        case .vxlan: "vxlan"
        case .macvlan: "macvlan"
        }
    }
}

/// A link to create.
public struct NewLink: Sendable {
    public var name: String
    public var kind: LinkKindConfig
    public var mtu: UInt32?
    public var mac: MACAddress?
    /// Enslave to this master (bridge) at creation.
    public var master: Int32?
    /// Set with a second request: the kernel ignores `IFLA_IFALIAS` on creation.
    public var alias: String?
    public var group: UInt32?
    public var up: Bool
    /// Create the link directly inside this namespace.
    public var namespace: NetworkNamespace?
    /// How many transmit and receive queues the kernel allocates
    /// (`IFLA_NUM_TX_QUEUES`, `IFLA_NUM_RX_QUEUES`). Left out, a veth gets one per
    /// possible CPU and the kernel then shrinks the number in use to one, waiting
    /// for an expedited RCU grace period each way, end and direction (measured:
    /// 2000 veths made in 1.45 s, 0.63 s with one queue given).
    public var queues: UInt32?

    public init(name: String, kind: LinkKindConfig, mtu: UInt32? = nil, mac: MACAddress? = nil,
                master: Int32? = nil, alias: String? = nil, group: UInt32? = nil, up: Bool = false,
                namespace: NetworkNamespace? = nil, queues: UInt32? = nil) {
        self.name = name
        self.kind = kind
        self.mtu = mtu
        self.mac = mac
        self.master = master
        self.alias = alias
        self.group = group
        self.up = up
        self.namespace = namespace
        self.queues = queues
    }
}

/// Changes to an existing link; nil fields are left alone.
public struct LinkChange: Sendable, Hashable {
    public var name: String?
    public var mtu: UInt32?
    public var up: Bool?
    public var mac: MACAddress?
    /// Master index; 0 removes the link from its master.
    public var master: Int32?
    /// New alias; the empty string removes it.
    public var alias: String?
    public var group: UInt32?
    /// How the link makes its IPv6 link-local address (`IFLA_AF_SPEC`/`AF_INET6`/
    /// `IFLA_INET6_ADDR_GEN_MODE`). The kernel refuses it in a creating request
    /// (EAFNOSUPPORT: no IPv6 state yet) and applies it after the up/down change of
    /// the same request, so it only takes effect for the link's next carrier-up.
    public var ipv6AddressGeneration: IPv6AddressGeneration?

    public init(name: String? = nil, mtu: UInt32? = nil, up: Bool? = nil, mac: MACAddress? = nil,
                master: Int32? = nil, alias: String? = nil, group: UInt32? = nil,
                ipv6AddressGeneration: IPv6AddressGeneration? = nil) {
        self.name = name
        self.mtu = mtu
        self.up = up
        self.mac = mac
        self.master = master
        self.alias = alias
        self.group = group
        self.ipv6AddressGeneration = ipv6AddressGeneration
    }
}

/// `enum in6_addr_gen_mode`.
public enum IPv6AddressGeneration: UInt8, Sendable, Hashable {
    case eui64 = 0
    /// No link-local address at all: no DAD, no MLD reports, no router
    /// solicitations for the link (what an IPv4-only link needs).
    case none = 1
    case stablePrivacy = 2
    case random = 3
}

/// Identifies an existing link in a request: by index, or by name (`ifi_index` 0
/// with `IFLA_IFNAME`).
public enum LinkRef: Sendable, Hashable, CustomStringConvertible {
    case index(Int32)
    case name(String)

    public var description: String {
        switch self {
        case .index(let i): "#\(i)"
        case .name(let n): n
        }
    }

    var ifIndex: Int32 {
        if case .index(let i) = self { return i }
        return 0
    }

    func encodeName(_ e: inout AttributeEncoder) {
        if case .name(let n) = self { e.string(IFLA.ifname, n) }
    }
}

let maxInterfaceName = 15

func checkInterfaceName(_ name: String, _ what: String) throws(NetlinkError) {
    guard !name.isEmpty, name.utf8.count <= maxInterfaceName, !name.contains("/"),
          !name.contains(where: { $0 == " " || $0 == ":" }) else {
        throw .invalid("'\(name)' is not a valid interface name (1-15 bytes, no '/', ':' or spaces)", request: what)
    }
}

extension NetlinkRequest {
    /// `RTM_NEWLINK` creating a link (`NLM_F_CREATE | NLM_F_EXCL`). The alias, when
    /// given, needs the second request from `setLink`; see `NetlinkHandle.createLink`.
    public static func newLink(_ link: NewLink) throws(NetlinkError) -> NetlinkRequest {
        let what = "RTM_NEWLINK \(link.kind.kindName) \(link.name)"
        try checkInterfaceName(link.name, what)
        if case .veth(let peer) = link.kind { try checkInterfaceName(peer.name, what) }
        var e = AttributeEncoder()
        let up = InterfaceFlags.up.rawValue
        e.appendRaw(IfInfoMsg(flags: link.up ? up : 0, change: link.up ? up : 0).bytes)
        e.string(IFLA.ifname, link.name)
        if let mtu = link.mtu { e.u32(IFLA.mtu, mtu) }
        if let mac = link.mac { e.mac(IFLA.address, mac) }
        if let master = link.master { e.i32(IFLA.master, master) }
        if let group = link.group { e.u32(IFLA.group, group) }
        if let q = link.queues { e.u32(IFLA.numTxQueues, q); e.u32(IFLA.numRxQueues, q) }
        if let ns = link.namespace { e.u32(IFLA.netNsFd, UInt32(bitPattern: ns.fd)) }
        if case .macvlan(let parent, _) = link.kind { e.i32(IFLA.link, parent) }
        e.nested(IFLA.linkinfo) { info in
            info.string(IFLA.infoKind, link.kind.kindName)
            switch link.kind {
            case .filteredBridge:
                info.nested(IFLA.infoData) { data in
                    data.u8(IFLA.brNfCallIptables, 1)
                    data.u8(IFLA.brNfCallIp6tables, 1)
                }
            case .bridge, .dummy:
                break
            case .veth(let peer):
                info.nested(IFLA.infoData) { data in
                    data.nested(IFLA.vethInfoPeer) { p in
                        p.appendRaw(IfInfoMsg().bytes)
                        p.string(IFLA.ifname, peer.name)
                        if let mtu = peer.mtu { p.u32(IFLA.mtu, mtu) }
                        if let mac = peer.mac { p.mac(IFLA.address, mac) }
                        if let group = peer.group { p.u32(IFLA.group, group) }
                        if let q = peer.queues { p.u32(IFLA.numTxQueues, q); p.u32(IFLA.numRxQueues, q) }
                        if let ns = peer.namespace { p.u32(IFLA.netNsFd, UInt32(bitPattern: ns.fd)) }
                    }
                }
            case .vxlan(let v):
                info.nested(IFLA.infoData) { data in
                    data.u32(IFLA.vxlanID, v.vni)
                    switch v.local {
                    case .v4(let a)?: data.attribute(IFLA.vxlanLocal, a.bytes)
                    case .v6(let a)?: data.attribute(IFLA.vxlanLocal6, a.bytes)
                    case nil: break
                    }
                    if let u = v.underlay { data.u32(IFLA.vxlanLink, UInt32(bitPattern: u)) }
                    data.u16BigEndian(IFLA.vxlanPort, v.port)
                    data.u8(IFLA.vxlanLearning, v.learning ? 1 : 0)
                }
            case .macvlan(_, let mode):
                info.nested(IFLA.infoData) { data in
                    data.u32(IFLA.macvlanMode, mode.rawValue)
                }
            }
        }
        return NetlinkRequest(type: MsgType.newLink, flags: [.create, .excl], payload: e.bytes, description: what)
    }

    /// `RTM_NEWLINK` changing an existing link.
    public static func setLink(_ link: LinkRef, _ change: LinkChange) throws(NetlinkError) -> NetlinkRequest {
        var parts: [String] = []
        if let n = change.name { parts.append("name \(n)") }
        if let m = change.mtu { parts.append("mtu \(m)") }
        if let u = change.up { parts.append(u ? "up" : "down") }
        if let m = change.mac { parts.append("address \(m)") }
        if let m = change.master { parts.append(m == 0 ? "nomaster" : "master #\(m)") }
        if let a = change.alias { parts.append("alias \"\(a)\"") }
        if let g = change.group { parts.append("group \(g)") }
        if let m = change.ipv6AddressGeneration { parts.append("addrgenmode \(m)") }
        let what = "RTM_NEWLINK set \(link) " + parts.joined(separator: " ")
        if let n = change.name { try checkInterfaceName(n, what) }
        var e = AttributeEncoder()
        let up = InterfaceFlags.up.rawValue
        e.appendRaw(IfInfoMsg(index: link.ifIndex, flags: change.up == true ? up : 0,
                              change: change.up == nil ? 0 : up).bytes)
        if case .name(let current) = link {
            e.string(IFLA.ifname, current)
            if change.name != nil {
                throw .invalid("renaming needs the link's index", request: what)
            }
        }
        if let n = change.name { e.string(IFLA.ifname, n) }
        if let m = change.mtu { e.u32(IFLA.mtu, m) }
        if let m = change.mac { e.mac(IFLA.address, m) }
        if let m = change.master { e.i32(IFLA.master, m) }
        if let a = change.alias { e.string(IFLA.ifalias, a) }
        if let g = change.group { e.u32(IFLA.group, g) }
        if let m = change.ipv6AddressGeneration {
            e.nested(IFLA.afSpec) { af in
                af.nested(UInt16(AF_INET6)) { inet6 in inet6.u8(IFLA.inet6AddrGenMode, m.rawValue) }
            }
        }
        return NetlinkRequest(type: MsgType.newLink, flags: [], payload: e.bytes, description: what)
    }

    /// `RTM_NEWLINK` setting bridge port options (`IFLA_INFO_SLAVE_DATA`) of a link
    /// that is already a bridge port.
    public static func setBridgePort(_ link: LinkRef, isolated: Bool? = nil, learning: Bool? = nil) -> NetlinkRequest {
        var parts: [String] = []
        if let i = isolated { parts.append("isolated \(i ? "on" : "off")") }
        if let l = learning { parts.append("learning \(l ? "on" : "off")") }
        var e = AttributeEncoder()
        e.appendRaw(IfInfoMsg(index: link.ifIndex).bytes)
        link.encodeName(&e)
        e.nested(IFLA.linkinfo) { info in
            info.string(IFLA.infoSlaveKind, "bridge")
            info.nested(IFLA.infoSlaveData) { d in
                if let i = isolated { d.u8(IFLA.brportIsolated, i ? 1 : 0) }
                if let l = learning { d.u8(IFLA.brportLearning, l ? 1 : 0) }
            }
        }
        return NetlinkRequest(type: MsgType.newLink, flags: [], payload: e.bytes,
                              description: "RTM_NEWLINK set \(link) type bridge_slave " + parts.joined(separator: " "))
    }

    /// `RTM_NEWLINK` setting a bridge's `nf_call_iptables` and `nf_call_ip6tables`.
    public static func setBridgeNetfilter(_ link: LinkRef, _ on: Bool) -> NetlinkRequest {
        var e = AttributeEncoder()
        e.appendRaw(IfInfoMsg(index: link.ifIndex).bytes)
        link.encodeName(&e)
        e.nested(IFLA.linkinfo) { info in
            info.string(IFLA.infoKind, "bridge")
            info.nested(IFLA.infoData) { d in
                d.u8(IFLA.brNfCallIptables, on ? 1 : 0)
                d.u8(IFLA.brNfCallIp6tables, on ? 1 : 0)
            }
        }
        return NetlinkRequest(type: MsgType.newLink, flags: [], payload: e.bytes,
                              description: "RTM_NEWLINK set \(link) type bridge nf_call_iptables \(on ? 1 : 0) nf_call_ip6tables \(on ? 1 : 0)")
    }

    /// `RTM_NEWLINK` moving a link into another namespace, optionally renaming it.
    public static func moveLink(_ link: LinkRef, to namespace: NetworkNamespace, newName: String? = nil) throws(NetlinkError) -> NetlinkRequest {
        try moveLink(link, target: (IFLA.netNsFd, UInt32(bitPattern: namespace.fd)), targetName: "\(namespace)", newName: newName)
    }

    /// `RTM_NEWLINK` moving a link into the namespace of process `pid` (`IFLA_NET_NS_PID`).
    public static func moveLink(_ link: LinkRef, toProcess pid: Int32, newName: String? = nil) throws(NetlinkError) -> NetlinkRequest {
        try moveLink(link, target: (IFLA.netNsPid, UInt32(bitPattern: pid)), targetName: "pid \(pid)", newName: newName)
    }

    private static func moveLink(_ link: LinkRef, target: (UInt16, UInt32), targetName: String,
                                 newName: String?) throws(NetlinkError) -> NetlinkRequest {
        let what = "RTM_NEWLINK set \(link) netns \(targetName)" + (newName.map { " name \($0)" } ?? "")
        if let n = newName { try checkInterfaceName(n, what) }
        var e = AttributeEncoder()
        e.appendRaw(IfInfoMsg(index: link.ifIndex).bytes)
        if case .name(let current) = link {
            if newName != nil { throw .invalid("renaming needs the link's index", request: what) }
            e.string(IFLA.ifname, current)
        }
        if let n = newName { e.string(IFLA.ifname, n) }
        e.u32(target.0, target.1)
        return NetlinkRequest(type: MsgType.newLink, flags: [], payload: e.bytes, description: what)
    }

    /// `RTM_DELLINK` for one link.
    public static func deleteLink(_ link: LinkRef) -> NetlinkRequest {
        var e = AttributeEncoder()
        e.appendRaw(IfInfoMsg(index: link.ifIndex).bytes)
        link.encodeName(&e)
        return NetlinkRequest(type: MsgType.delLink, flags: [], payload: e.bytes, description: "RTM_DELLINK \(link)")
    }

    /// `RTM_DELLINK` with `ifi_index` 0 and `IFLA_GROUP`: deletes every link of the
    /// group at once (much faster than one by one for veths). Group 0 (the default
    /// group of every link) is refused.
    public static func deleteLinkGroup(_ group: UInt32) throws(NetlinkError) -> NetlinkRequest {
        let what = "RTM_DELLINK group \(group)"
        guard group != 0 else { throw .invalid("refusing to delete group 0 (every link's default group)", request: what) }
        var e = AttributeEncoder()
        e.appendRaw(IfInfoMsg().bytes)
        e.u32(IFLA.group, group)
        return NetlinkRequest(type: MsgType.delLink, flags: [], payload: e.bytes, description: what)
    }

    /// `RTM_GETLINK` dump of every link.
    public static func dumpLinks() -> NetlinkRequest {
        NetlinkRequest(type: MsgType.getLink, flags: [], payload: IfInfoMsg().bytes, description: "RTM_GETLINK dump")
    }

    /// `RTM_GETLINK` for one link.
    public static func getLink(_ link: LinkRef) -> NetlinkRequest {
        var e = AttributeEncoder()
        e.appendRaw(IfInfoMsg(index: link.ifIndex).bytes)
        link.encodeName(&e)
        return NetlinkRequest(type: MsgType.getLink, flags: [], payload: e.bytes, description: "RTM_GETLINK \(link)")
    }
}

extension NetlinkHandle {
    /// Every link in the namespace.
    public func links() throws(NetlinkError) -> [Link] {
        var out: [Link] = []
        for m in try dump(.dumpLinks()) where m.type == MsgType.newLink {
            out.append(try Link(payload: m.payload))
        }
        return out
    }

    /// One link, or nil when it does not exist.
    public func link(_ ref: LinkRef) throws(NetlinkError) -> Link? {
        do {
            let replies = try execute(.getLink(ref))
            guard let m = replies.first(where: { $0.type == MsgType.newLink }) else { return nil }
            return try Link(payload: m.payload)
        } catch where error.errno == ENODEV {
            return nil
        }
    }

    public func link(named name: String) throws(NetlinkError) -> Link? { try link(.name(name)) }

    /// Creates a link and returns it as the kernel reports it (read back from the
    /// namespace it was created in). An alias is set with a second request: the
    /// kernel ignores `IFLA_IFALIAS` at creation.
    @discardableResult
    public func createLink(_ spec: NewLink) throws(NetlinkError) -> Link? {
        try execute(.newLink(spec))
        let target = try spec.namespace.map { ns throws(NetlinkError) in try NetlinkHandle(namespace: ns) } ?? self
        if let alias = spec.alias {
            try target.execute(.setLink(.name(spec.name), LinkChange(alias: alias)))
        }
        return try target.link(named: spec.name)
    }

    public func setLink(_ ref: LinkRef, _ change: LinkChange) throws(NetlinkError) {
        try execute(.setLink(ref, change))
    }

    public func setBridgePort(_ ref: LinkRef, isolated: Bool? = nil, learning: Bool? = nil) throws(NetlinkError) {
        try execute(.setBridgePort(ref, isolated: isolated, learning: learning))
    }

    public func setBridgeNetfilter(_ ref: LinkRef, _ on: Bool) throws(NetlinkError) {
        try execute(.setBridgeNetfilter(ref, on))
    }

    public func moveLink(_ ref: LinkRef, to namespace: NetworkNamespace, newName: String? = nil) throws(NetlinkError) {
        try execute(.moveLink(ref, to: namespace, newName: newName))
    }

    public func moveLink(_ ref: LinkRef, toProcess pid: Int32, newName: String? = nil) throws(NetlinkError) {
        try execute(.moveLink(ref, toProcess: pid, newName: newName))
    }

    public func deleteLink(_ ref: LinkRef) throws(NetlinkError) {
        try execute(.deleteLink(ref))
    }

    public func deleteLinkGroup(_ group: UInt32) throws(NetlinkError) {
        try execute(.deleteLinkGroup(group))
    }

    /// Polls (every 10 ms) until the link is gone; false on timeout. Deleting a
    /// namespace removes its veths asynchronously (~1 s later), and re-creating a
    /// name before that fails with EEXIST.
    public func waitForLinkRemoval(_ ref: LinkRef, timeout: Duration = .seconds(5)) throws(NetlinkError) -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while true {
            if try link(ref) == nil { return true }
            if clock.now >= deadline { return false }
            usleep(10_000)
        }
    }
}
