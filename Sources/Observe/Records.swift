import Addressing
import CNetlink

// Lean decoding of dump replies.
//
// Why not `Netlink.Link(payload:)` and friends: those keep every attribute (known or
// not) as its own byte array, which is right for a general library but made decoding
// and freeing about 40% of Observe's time at 1000 namespaces (measured with perf).
// Observe needs a dozen attributes per message, so it reads them in place from the
// message payload and copies only what it keeps. `ObserveTests` checks these
// decoders against the `Netlink` ones on the same bytes.

@inline(__always) private func a16<T: BinaryInteger>(_ v: T) -> UInt16 { UInt16(v) }
@inline(__always) private func a16<T: RawRepresentable>(_ v: T) -> UInt16 where T.RawValue: BinaryInteger { UInt16(v.rawValue) }

/// Attribute type numbers (kernel uapi), converted once.
enum Attr {
    static let iflaAddress = a16(IFLA_ADDRESS), iflaIfname = a16(IFLA_IFNAME), iflaMTU = a16(IFLA_MTU)
    static let iflaLink = a16(IFLA_LINK), iflaMaster = a16(IFLA_MASTER), iflaLinkinfo = a16(IFLA_LINKINFO)
    static let iflaIfalias = a16(IFLA_IFALIAS), iflaLinkNetnsid = a16(IFLA_LINK_NETNSID), iflaGroup = a16(IFLA_GROUP)
    static let infoKind = a16(IFLA_INFO_KIND), infoData = a16(IFLA_INFO_DATA)
    static let infoSlaveKind = a16(IFLA_INFO_SLAVE_KIND), infoSlaveData = a16(IFLA_INFO_SLAVE_DATA)
    static let vxlanID = a16(IFLA_VXLAN_ID), vxlanLink = a16(IFLA_VXLAN_LINK), vxlanLocal = a16(IFLA_VXLAN_LOCAL)
    static let vxlanLocal6 = a16(IFLA_VXLAN_LOCAL6), vxlanPort = a16(IFLA_VXLAN_PORT)
    static let macvlanMode = a16(IFLA_MACVLAN_MODE)
    static let brportIsolated = a16(IFLA_BRPORT_ISOLATED)
    static let brNfCallIptables = a16(IFLA_BR_NF_CALL_IPTABLES), brNfCallIp6tables = a16(IFLA_BR_NF_CALL_IP6TABLES)
    static let ifaAddress = a16(IFA_ADDRESS), ifaLocal = a16(IFA_LOCAL), ifaProto = a16(IFA_PROTO)
    static let rtaDst = a16(RTA_DST), rtaOif = a16(RTA_OIF), rtaGateway = a16(RTA_GATEWAY), rtaTable = a16(RTA_TABLE)
    static let ndaDst = a16(NDA_DST), ndaLladdr = a16(NDA_LLADDR)
}

/// Iterates the attributes of `bytes` (type with flags masked, payload range). Stops
/// at the first malformed header instead of trapping; returns false then.
@inline(__always)
@discardableResult
private func forEachAttribute(_ bytes: UnsafeRawBufferPointer, _ body: (UInt16, UnsafeRawBufferPointer) -> Void) -> Bool {
    var i = 0
    while bytes.count - i >= 4 {
        let len = Int(bytes.loadUnaligned(fromByteOffset: i, as: UInt16.self))
        let type = bytes.loadUnaligned(fromByteOffset: i + 2, as: UInt16.self) & 0x3fff
        guard len >= 4, len <= bytes.count - i else { return false }
        body(type, UnsafeRawBufferPointer(rebasing: bytes[(i + 4)..<(i + len)]))
        i += (len + 3) & ~3
    }
    return true
}

extension UnsafeRawBufferPointer {
    @inline(__always) fileprivate func u8(_ offset: Int) -> UInt8 { self[offset] }
    @inline(__always) fileprivate func u16(_ offset: Int) -> UInt16 { loadUnaligned(fromByteOffset: offset, as: UInt16.self) }
    @inline(__always) fileprivate func u32(_ offset: Int) -> UInt32 { loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
    @inline(__always) fileprivate func i32(_ offset: Int) -> Int32 { loadUnaligned(fromByteOffset: offset, as: Int32.self) }

    /// A 4-byte attribute as UInt32, nil when it has another size.
    @inline(__always) fileprivate var u32Value: UInt32? { count == 4 ? u32(0) : nil }

    /// A NUL-terminated (or not) string attribute.
    fileprivate var stringValue: String {
        let end = firstIndex(of: 0) ?? count
        return String(decoding: UnsafeRawBufferPointer(rebasing: self[0..<end]), as: UTF8.self)
    }

    fileprivate var ipValue: IPAddress? {
        switch count {
        case 4: IPv4Address(bytes: self).map { .v4($0) }
        case 16: IPv6Address(bytes: self).map { .v6($0) }
        default: nil
        }
    }
}

/// The parts of an `RTM_NEWLINK` message Observe uses.
struct LinkRecord: Sendable, Hashable {
    var index: Int32 = 0
    /// `ifi_type` (`ARPHRD_*`).
    var type: UInt16 = 0
    /// `ifi_flags` (`IFF_*`).
    var flags: UInt32 = 0
    var name = ""
    var mtu: UInt32 = 0
    var mac: MACAddress?
    var master: Int32?
    var alias: String?
    /// `IFLA_LINK`: veth peer or macvlan/vxlan lower device.
    var parent: Int32?
    var linkNetnsID: Int32?
    var kind: String?
    var vxlanVNI: UInt32?
    var vxlanLocal: IPAddress?
    var vxlanPort: UInt16?
    var vxlanUnderlay: Int32?
    var macvlanMode: UInt32?
    var isolated = false
    /// Bridges: `IFLA_BR_NF_CALL_IPTABLES` and `IFLA_BR_NF_CALL_IP6TABLES` both on.
    var bridgeNetfilter = false
    /// `IFLA_GROUP`: netform marks its links with the project's group at creation.
    var group: UInt32 = 0

    var isUp: Bool { flags & 1 != 0 }

    /// Decodes `ifinfomsg` + attributes; nil when the message is malformed or has no name.
    init?(payload: [UInt8]) {
        let ok: Bool = payload.withUnsafeBytes { p in
            guard p.count >= 16 else { return false }
            type = p.u16(2)
            index = p.i32(4)
            flags = p.u32(8)
            var linkinfo: UnsafeRawBufferPointer?
            let good = forEachAttribute(UnsafeRawBufferPointer(rebasing: p[16...])) { t, v in
                switch t {
                case Attr.iflaIfname: name = v.stringValue
                case Attr.iflaMTU: mtu = v.u32Value ?? 0
                case Attr.iflaAddress: if v.count == 6 { mac = MACAddress(bytes: v) }
                case Attr.iflaMaster: master = v.u32Value.map { Int32(bitPattern: $0) }
                case Attr.iflaIfalias: alias = v.stringValue
                case Attr.iflaGroup: group = v.u32Value ?? 0
                case Attr.iflaLink: parent = v.u32Value.map { Int32(bitPattern: $0) }
                case Attr.iflaLinkNetnsid: linkNetnsID = v.u32Value.map { Int32(bitPattern: $0) }
                case Attr.iflaLinkinfo: linkinfo = v
                default: break
                }
            }
            if let linkinfo { decodeLinkInfo(linkinfo) }
            return good && !name.isEmpty
        }
        if !ok { return nil }
    }

    private mutating func decodeLinkInfo(_ info: UnsafeRawBufferPointer) {
        var data: UnsafeRawBufferPointer?
        var slaveKind: String?
        var slaveData: UnsafeRawBufferPointer?
        forEachAttribute(info) { t, v in
            switch t {
            case Attr.infoKind: kind = v.stringValue
            case Attr.infoData: data = v
            case Attr.infoSlaveKind: slaveKind = v.stringValue
            case Attr.infoSlaveData: slaveData = v
            default: break
            }
        }
        if let data {
            switch kind {
            case "vxlan":
                forEachAttribute(data) { t, v in
                    switch t {
                    case Attr.vxlanID: vxlanVNI = v.u32Value
                    case Attr.vxlanLocal, Attr.vxlanLocal6: if let a = v.ipValue { vxlanLocal = a }
                    case Attr.vxlanPort: if v.count == 2 { vxlanPort = UInt16(v[0]) << 8 | UInt16(v[1]) }
                    case Attr.vxlanLink: vxlanUnderlay = v.u32Value.map { Int32(bitPattern: $0) }
                    default: break
                    }
                }
            case "macvlan":
                forEachAttribute(data) { t, v in
                    if t == Attr.macvlanMode { macvlanMode = v.u32Value }
                }
            case "bridge":
                var v4 = false, v6 = false
                forEachAttribute(data) { t, v in
                    if t == Attr.brNfCallIptables, v.count == 1 { v4 = v[0] != 0 }
                    if t == Attr.brNfCallIp6tables, v.count == 1 { v6 = v[0] != 0 }
                }
                bridgeNetfilter = v4 && v6
            default:
                break
            }
        }
        if slaveKind == "bridge", let slaveData {
            forEachAttribute(slaveData) { t, v in
                if t == Attr.brportIsolated, v.count == 1 { isolated = v[0] != 0 }
            }
        }
    }
}

/// The parts of an `RTM_NEWADDR` message Observe uses.
struct AddressRecord: Sendable, Hashable {
    var index: Int32
    var prefixLength: Int
    var scope: UInt8
    /// `IFA_LOCAL` when present (IPv4), else `IFA_ADDRESS` (IPv6).
    var address: IPAddress
    /// `IFA_PROTO`, 0 when absent (nobody set one).
    var proto: UInt8 = 0

    init?(payload: [UInt8]) {
        var fields: (Int32, Int, UInt8, IPAddress, UInt8)?
        payload.withUnsafeBytes { p in
            guard p.count >= 8 else { return }
            var local: IPAddress?
            var addr: IPAddress?
            var proto: UInt8 = 0
            forEachAttribute(UnsafeRawBufferPointer(rebasing: p[8...])) { t, v in
                switch t {
                case Attr.ifaLocal: local = v.ipValue
                case Attr.ifaAddress: addr = v.ipValue
                case Attr.ifaProto: if v.count == 1 { proto = v[0] }
                default: break
                }
            }
            guard let a = local ?? addr else { return }
            fields = (Int32(bitPattern: p.u32(4)), Int(p.u8(1)), p.u8(3), a, proto)
        }
        guard let fields else { return nil }
        (index, prefixLength, scope, address, proto) = fields
    }
}

/// The parts of an `RTM_NEWROUTE` message Observe uses.
struct RouteRecord: Sendable, Hashable {
    var family: IPFamily
    var destination: IPNetwork
    var gateway: IPAddress?
    var outputIndex: Int32?
    var table: UInt32
    var `protocol`: UInt8

    init?(payload: [UInt8]) {
        var result: RouteRecord?
        payload.withUnsafeBytes { p in
            guard p.count >= 12 else { return }
            let family: IPFamily
            switch p.u8(0) {
            case 2: family = .v4
            case 10: family = .v6
            default: return
            }
            var table = UInt32(p.u8(4))
            var dst: IPAddress?
            var gateway: IPAddress?
            var oif: Int32?
            forEachAttribute(UnsafeRawBufferPointer(rebasing: p[12...])) { t, v in
                switch t {
                case Attr.rtaDst: dst = v.ipValue
                case Attr.rtaGateway: gateway = v.ipValue
                case Attr.rtaOif: oif = v.u32Value.map { Int32(bitPattern: $0) }
                case Attr.rtaTable: if let x = v.u32Value { table = x }
                default: break
                }
            }
            let zero: IPAddress = family == .v4 ? .v4(IPv4Address(0)) : .v6(IPv6Address(high: 0, low: 0))
            guard let net = IPNetwork(containing: dst ?? zero, prefixLength: Int(p.u8(1))) else { return }
            result = RouteRecord(family: family, destination: net, gateway: gateway, outputIndex: oif,
                                 table: table, protocol: p.u8(5))
        }
        guard let result else { return nil }
        self = result
    }

    init(family: IPFamily, destination: IPNetwork, gateway: IPAddress?, outputIndex: Int32?, table: UInt32, protocol: UInt8) {
        self.family = family
        self.destination = destination
        self.gateway = gateway
        self.outputIndex = outputIndex
        self.table = table
        self.protocol = `protocol`
    }
}

/// The parts of an `RTM_NEWNEIGH` message (ARP/NDP or FDB) Observe uses.
struct NeighbourRecord: Sendable, Hashable {
    var family: UInt8
    var index: Int32
    /// `NUD_*`.
    var state: UInt16
    var destination: IPAddress?
    var mac: MACAddress?

    static let permanent: UInt16 = 0x80
    static let noARP: UInt16 = 0x40

    init?(payload: [UInt8]) {
        var result: NeighbourRecord?
        payload.withUnsafeBytes { p in
            guard p.count >= 12 else { return }
            var r = NeighbourRecord(family: p.u8(0), index: p.i32(4), state: p.u16(8))
            forEachAttribute(UnsafeRawBufferPointer(rebasing: p[12...])) { t, v in
                switch t {
                case Attr.ndaDst: r.destination = v.ipValue
                case Attr.ndaLladdr: if v.count == 6 { r.mac = MACAddress(bytes: v) }
                default: break
                }
            }
            result = r
        }
        guard let result else { return nil }
        self = result
    }

    init(family: UInt8, index: Int32, state: UInt16, destination: IPAddress? = nil, mac: MACAddress? = nil) {
        self.family = family
        self.index = index
        self.state = state
        self.destination = destination
        self.mac = mac
    }
}

/// Observe's lean decoders and mapping run over untrusted bytes, for the fuzzer
/// (`netform-fuzz-netlink`) and its corpus replay.
///
/// Why it exists: the records are internal (they are Observe's private fast path),
/// but the bytes they read come from the kernel; a fuzz target must reach exactly
/// the code `Observer` runs, decoding and mapping to `NamespaceState` included.
public enum RecordDecoding {
    /// Decodes each `(type, payload)` message as the namespace reader would
    /// (`RTM_NEWLINK`, `RTM_NEWADDR`, `RTM_NEWROUTE`, `RTM_NEWNEIGH`; other types are
    /// skipped), maps what decoded to a namespace state, and returns how many
    /// messages decoded.
    @discardableResult
    public static func decode(_ messages: [(type: UInt16, payload: [UInt8])]) -> Int {
        var d = NamespaceDump()
        var decoded = 0
        for m in messages {
            switch m.type {
            case 16: if let r = LinkRecord(payload: m.payload) { d.links.append(r); decoded += 1 }
            case 20: if let r = AddressRecord(payload: m.payload) { d.addresses.append(r); decoded += 1 }
            case 24: if let r = RouteRecord(payload: m.payload) { d.routes.append(r); decoded += 1 }
            case 28:
                if let r = NeighbourRecord(payload: m.payload) { d.neighbours.append(r); d.fdb.append(r); decoded += 1 }
            default: continue
            }
        }
        _ = ObservedMapping.namespace(.named("fuzz"), d)
        return decoded
    }
}
