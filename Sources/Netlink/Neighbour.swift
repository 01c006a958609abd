import Addressing

/// `NUD_*` neighbour states.
public struct NeighbourState: OptionSet, Sendable, Hashable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let incomplete = NeighbourState(rawValue: 0x01)
    public static let reachable = NeighbourState(rawValue: 0x02)
    public static let stale = NeighbourState(rawValue: 0x04)
    public static let delay = NeighbourState(rawValue: 0x08)
    public static let probe = NeighbourState(rawValue: 0x10)
    public static let failed = NeighbourState(rawValue: 0x20)
    public static let noARP = NeighbourState(rawValue: 0x40)
    public static let permanent = NeighbourState(rawValue: 0x80)
}

/// `NTF_*` neighbour flags.
public struct NeighbourFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let use = NeighbourFlags(rawValue: 0x01)
    /// The entry belongs to the device itself (e.g. a VXLAN device's FDB).
    public static let `self` = NeighbourFlags(rawValue: 0x02)
    /// The entry belongs to the device's master (the bridge FDB).
    public static let master = NeighbourFlags(rawValue: 0x04)
    public static let proxy = NeighbourFlags(rawValue: 0x08)
    public static let extLearned = NeighbourFlags(rawValue: 0x10)
    public static let offloaded = NeighbourFlags(rawValue: 0x20)
    public static let sticky = NeighbourFlags(rawValue: 0x40)
    public static let router = NeighbourFlags(rawValue: 0x80)
}

/// A neighbour (ARP/NDP) or bridge FDB entry as reported by the kernel.
public struct Neighbour: Sendable, Hashable {
    /// `.inet`/`.inet6` for ARP/NDP entries, `.bridge` for FDB entries.
    public var family: AddressFamily
    public var index: Int32
    public var state: NeighbourState
    public var flags: NeighbourFlags
    public var type: UInt8
    /// `NDA_DST`: the IP address (ARP/NDP) or, in a VXLAN FDB, the remote VTEP.
    public var destination: IPAddress?
    /// `NDA_LLADDR`.
    public var mac: MACAddress?
    /// `NDA_MASTER`: the bridge of an FDB entry.
    public var master: Int32?
    public var vni: UInt32?
    public var port: UInt16?
    public var unknownAttributes: [RawAttribute]

    public init(payload: [UInt8]) throws(NetlinkError) {
        var r = ByteReader(payload[...], what: "ndmsg")
        let hdr = try NdMsg(&r)
        guard let fam = AddressFamily(rawValue: hdr.family) else {
            throw .malformed("neighbour family \(hdr.family)", request: "RTM_NEWNEIGH")
        }
        family = fam
        index = hdr.index
        state = NeighbourState(rawValue: hdr.state)
        flags = NeighbourFlags(rawValue: hdr.flags)
        type = hdr.type
        unknownAttributes = []
        for a in try AttributeList(parsing: payload[(payload.startIndex + NdMsg.size)...]) {
            switch a.type {
            case NDA.dst: destination = try a.ipAddress()
            case NDA.lladdr:
                mac = a.macAddress()
                if mac == nil { unknownAttributes.append(a) }
            case NDA.master: master = try a.i32()
            case NDA.vni: vni = try a.u32()
            case NDA.port: port = try a.u16BigEndian()
            default: unknownAttributes.append(a)
            }
        }
    }
}

/// A static ARP/NDP entry.
public struct NeighbourSpec: Sendable, Hashable {
    public var index: Int32
    public var address: IPAddress
    public var mac: MACAddress
    public var state: NeighbourState

    public init(index: Int32, address: IPAddress, mac: MACAddress, state: NeighbourState = .permanent) {
        self.index = index
        self.address = address
        self.mac = mac
        self.state = state
    }

    func encode(withMAC: Bool) -> [UInt8] {
        var e = AttributeEncoder()
        e.appendRaw(NdMsg(family: AddressFamily(address.family).rawValue, index: index, state: state.rawValue).bytes)
        e.address(NDA.dst, address)
        if withMAC { e.mac(NDA.lladdr, mac) }
        return e.bytes
    }
}

/// A bridge FDB entry: on a bridge port (`flags: .master`) or on a VXLAN device
/// (`flags: .self`, with the remote VTEP in `destination`).
public struct FDBSpec: Sendable, Hashable {
    public var index: Int32
    public var mac: MACAddress
    public var destination: IPAddress?
    public var vni: UInt32?
    public var flags: NeighbourFlags
    public var state: NeighbourState

    public init(index: Int32, mac: MACAddress, destination: IPAddress? = nil, vni: UInt32? = nil,
                flags: NeighbourFlags = .self, state: NeighbourState = .permanent) {
        self.index = index
        self.mac = mac
        self.destination = destination
        self.vni = vni
        self.flags = flags
        self.state = state
    }

    var summary: String {
        "\(mac) dev #\(index)" + (destination.map { " dst \($0)" } ?? "")
            + (flags.contains(.self) ? " self" : "") + (flags.contains(.master) ? " master" : "")
    }

    func encode() -> [UInt8] {
        var e = AttributeEncoder()
        e.appendRaw(NdMsg(family: AddressFamily.bridge.rawValue, index: index, state: state.rawValue,
                          flags: flags.rawValue).bytes)
        e.mac(NDA.lladdr, mac)
        if let d = destination { e.address(NDA.dst, d) }
        if let v = vni { e.u32(NDA.vni, v) }
        return e.bytes
    }
}

extension NetlinkRequest {
    public static func newNeighbour(_ n: NeighbourSpec, replace: Bool = false) -> NetlinkRequest {
        NetlinkRequest(type: MsgType.newNeigh, flags: replace ? [.create, .replace] : [.create, .excl],
                       payload: n.encode(withMAC: true),
                       description: "RTM_NEWNEIGH \(n.address) lladdr \(n.mac) dev #\(n.index)")
    }

    public static func deleteNeighbour(_ n: NeighbourSpec) -> NetlinkRequest {
        NetlinkRequest(type: MsgType.delNeigh, flags: [], payload: n.encode(withMAC: false),
                       description: "RTM_DELNEIGH \(n.address) dev #\(n.index)")
    }

    /// `RTM_NEWNEIGH` with `AF_BRIDGE`. `append` adds another destination for the
    /// same MAC (VXLAN head-end replication); `replace` overwrites.
    public static func newFDB(_ f: FDBSpec, replace: Bool = false, append: Bool = false) -> NetlinkRequest {
        let flags: NetlinkFlags = replace ? [.create, .replace] : append ? [.create, .append] : [.create, .excl]
        return NetlinkRequest(type: MsgType.newNeigh, flags: flags, payload: f.encode(),
                              description: "RTM_NEWNEIGH fdb \(f.summary)")
    }

    public static func deleteFDB(_ f: FDBSpec) -> NetlinkRequest {
        NetlinkRequest(type: MsgType.delNeigh, flags: [], payload: f.encode(),
                       description: "RTM_DELNEIGH fdb \(f.summary)")
    }

    /// `RTM_GETNEIGH` dump: `.inet`/`.inet6`/`.unspec` for ARP/NDP, `.bridge` for FDB.
    public static func dumpNeighbours(family: AddressFamily) -> NetlinkRequest {
        NetlinkRequest(type: MsgType.getNeigh, flags: [], payload: NdMsg(family: family.rawValue).bytes,
                       description: "RTM_GETNEIGH dump family \(family.rawValue)")
    }
}

extension NetlinkHandle {
    /// ARP and NDP entries (IPv4 and IPv6 when `family` is nil).
    public func neighbours(family: IPFamily? = nil) throws(NetlinkError) -> [Neighbour] {
        let fam: AddressFamily = family.map { AddressFamily($0) } ?? .unspec
        var out: [Neighbour] = []
        for m in try dump(.dumpNeighbours(family: fam)) where m.type == MsgType.newNeigh {
            let n = try Neighbour(payload: m.payload)
            if n.family == .inet || n.family == .inet6 { out.append(n) }
        }
        return out
    }

    /// Bridge FDB entries of every device (bridge ports and VXLAN devices).
    public func fdb() throws(NetlinkError) -> [Neighbour] {
        var out: [Neighbour] = []
        for m in try dump(.dumpNeighbours(family: .bridge)) where m.type == MsgType.newNeigh {
            out.append(try Neighbour(payload: m.payload))
        }
        return out
    }

    public func addNeighbour(_ n: NeighbourSpec, replace: Bool = false) throws(NetlinkError) {
        try execute(.newNeighbour(n, replace: replace))
    }

    public func deleteNeighbour(_ n: NeighbourSpec) throws(NetlinkError) {
        try execute(.deleteNeighbour(n))
    }

    public func addFDB(_ f: FDBSpec, replace: Bool = false, append: Bool = false) throws(NetlinkError) {
        try execute(.newFDB(f, replace: replace, append: append))
    }

    public func deleteFDB(_ f: FDBSpec) throws(NetlinkError) {
        try execute(.deleteFDB(f))
    }
}
