import Addressing

/// An interface address as reported by the kernel (`RTM_NEWADDR`).
public struct InterfaceAddress: Sendable, Hashable {
    public var index: Int32
    public var family: IPFamily
    public var prefixLength: Int
    /// `IFA_LOCAL` when present (IPv4), else `IFA_ADDRESS`: the interface's own address.
    public var address: IPAddress
    /// `IFA_ADDRESS` when it differs from `IFA_LOCAL` (the peer on point-to-point links).
    public var peer: IPAddress?
    public var broadcast: IPAddress?
    public var label: String?
    /// `IFA_FLAGS` when present, else the 8-bit `ifa_flags` (`IFA_F_*`).
    public var flags: UInt32
    public var scope: UInt8
    /// `IFA_PROTO` (who added the address), nil when the kernel sent none.
    public var proto: UInt8?
    public var unknownAttributes: [RawAttribute]

    /// The subnet containing the address.
    public var network: IPNetwork? { IPNetwork(containing: address, prefixLength: prefixLength) }

    public init(payload: [UInt8]) throws(NetlinkError) {
        var r = ByteReader(payload[...], what: "ifaddrmsg")
        let hdr = try IfAddrMsg(&r)
        guard let fam = AddressFamily(rawValue: hdr.family)?.ipFamily else {
            throw .malformed("address family \(hdr.family)", request: "RTM_NEWADDR")
        }
        family = fam
        index = Int32(bitPattern: hdr.index)
        prefixLength = Int(hdr.prefixLength)
        flags = UInt32(hdr.flags)
        scope = hdr.scope
        unknownAttributes = []
        var local: IPAddress?
        var addr: IPAddress?
        for a in try AttributeList(parsing: payload[(payload.startIndex + IfAddrMsg.size)...]) {
            switch a.type {
            case IFA.local: local = try a.ipAddress()
            case IFA.address: addr = try a.ipAddress()
            case IFA.broadcast: broadcast = try a.ipAddress()
            case IFA.label: label = a.string()
            case IFA.flags: flags = try a.u32()
            case IFA.proto: proto = try a.u8()
            default: unknownAttributes.append(a)
            }
        }
        guard let a = local ?? addr else { throw .malformed("address without IFA_LOCAL/IFA_ADDRESS", request: "RTM_NEWADDR") }
        address = a
        peer = (local != nil && addr != local) ? addr : nil
    }
}

/// An address to add or delete.
public struct NewAddress: Sendable, Hashable {
    public var index: Int32
    public var address: IPAddress
    public var prefixLength: Int
    /// IPv6: skip duplicate address detection (`IFA_F_NODAD`), usable at once.
    public var noDAD: Bool
    public var broadcast: IPAddress?
    public var label: String?
    /// `RT_SCOPE_*` (0 = universe, 253 = link, 254 = host).
    public var scope: UInt8
    /// `IFA_PROTO`, the address's owner mark (kernel 5.18+); nil sends none. Only
    /// meaningful when adding: the kernel does not match it when deleting.
    public var proto: UInt8?

    public init(index: Int32, address: IPAddress, prefixLength: Int, noDAD: Bool = false,
                broadcast: IPAddress? = nil, label: String? = nil, scope: UInt8 = 0, proto: UInt8? = nil) {
        self.proto = proto
        self.index = index
        self.address = address
        self.prefixLength = prefixLength
        self.noDAD = noDAD
        self.broadcast = broadcast
        self.label = label
        self.scope = scope
    }

    var summary: String { "\(address)/\(prefixLength) dev #\(index)" }

    func encode(_ what: String) throws(NetlinkError) -> [UInt8] {
        guard prefixLength >= 0, prefixLength <= address.family.bitWidth else {
            throw .invalid("prefix length \(prefixLength) out of range", request: what)
        }
        var e = AttributeEncoder()
        e.appendRaw(IfAddrMsg(family: AddressFamily(address.family).rawValue, prefixLength: UInt8(prefixLength),
                              scope: scope, index: UInt32(bitPattern: index)).bytes)
        e.address(IFA.local, address)
        e.address(IFA.address, address)
        if let b = broadcast { e.address(IFA.broadcast, b) }
        if let l = label { e.string(IFA.label, l) }
        if noDAD { e.u32(IFA.flags, IFA.noDAD) }
        if let p = proto { e.u8(IFA.proto, p) }
        return e.bytes
    }
}

extension NetlinkRequest {
    /// `RTM_NEWADDR`; `replace` allows an existing address to be updated.
    public static func newAddress(_ a: NewAddress, replace: Bool = false) throws(NetlinkError) -> NetlinkRequest {
        let what = "RTM_NEWADDR \(a.summary)"
        return NetlinkRequest(type: MsgType.newAddr, flags: replace ? [.create, .replace] : [.create, .excl],
                              payload: try a.encode(what), description: what)
    }

    public static func deleteAddress(_ a: NewAddress) throws(NetlinkError) -> NetlinkRequest {
        let what = "RTM_DELADDR \(a.summary)"
        return NetlinkRequest(type: MsgType.delAddr, flags: [], payload: try a.encode(what), description: what)
    }

    /// `RTM_GETADDR` dump, optionally of one family and/or one link.
    public static func dumpAddresses(family: IPFamily? = nil, index: Int32? = nil) -> NetlinkRequest {
        let fam = family.map { AddressFamily($0).rawValue } ?? 0
        return NetlinkRequest(type: MsgType.getAddr, flags: [],
                              payload: IfAddrMsg(family: fam, index: UInt32(bitPattern: index ?? 0)).bytes,
                              description: "RTM_GETADDR dump")
    }
}

extension NetlinkHandle {
    public func addresses(family: IPFamily? = nil, index: Int32? = nil) throws(NetlinkError) -> [InterfaceAddress] {
        var out: [InterfaceAddress] = []
        for m in try dump(.dumpAddresses(family: family, index: index)) where m.type == MsgType.newAddr {
            let a = try InterfaceAddress(payload: m.payload)
            if let index, a.index != index { continue }
            out.append(a)
        }
        return out
    }

    public func addAddress(_ a: NewAddress, replace: Bool = false) throws(NetlinkError) {
        try execute(.newAddress(a, replace: replace))
    }

    public func deleteAddress(_ a: NewAddress) throws(NetlinkError) {
        try execute(.deleteAddress(a))
    }
}
