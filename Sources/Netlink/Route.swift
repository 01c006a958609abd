import Addressing
import CNetlink

/// Well-known route protocol, table, scope and type numbers.
public enum RouteConstants {
    public static let tableMain: UInt32 = 254
    public static let tableLocal: UInt32 = 255
    public static let protocolBoot: UInt8 = 3
    public static let protocolKernel: UInt8 = 2
    public static let protocolStatic: UInt8 = 4
    public static let scopeUniverse: UInt8 = 0
    public static let scopeLink: UInt8 = 253
    public static let scopeHost: UInt8 = 254
    public static let typeUnicast: UInt8 = 1
    public static let typeLocal: UInt8 = 2
    public static let typeBlackhole: UInt8 = 6
    public static let typeUnreachable: UInt8 = 7
}

/// A route as reported by the kernel (`RTM_NEWROUTE`).
public struct Route: Sendable, Hashable {
    public var family: IPFamily
    /// Destination; `0.0.0.0/0` or `::/0` for a default route.
    public var destination: IPNetwork
    public var gateway: IPAddress?
    public var outputIndex: Int32?
    public var table: UInt32
    public var `protocol`: UInt8
    public var scope: UInt8
    public var type: UInt8
    public var priority: UInt32?
    public var preferredSource: IPAddress?
    public var flags: UInt32
    public var unknownAttributes: [RawAttribute]

    public init(payload: [UInt8]) throws(NetlinkError) {
        var r = ByteReader(payload[...], what: "rtmsg")
        let hdr = try RtMsg(&r)
        guard let fam = AddressFamily(rawValue: hdr.family)?.ipFamily else {
            throw .malformed("route family \(hdr.family)", request: "RTM_NEWROUTE")
        }
        family = fam
        table = UInt32(hdr.table)
        `protocol` = hdr.protocol
        scope = hdr.scope
        type = hdr.type
        flags = hdr.flags
        unknownAttributes = []
        var dst: IPAddress?
        for a in try AttributeList(parsing: payload[(payload.startIndex + RtMsg.size)...]) {
            switch a.type {
            case RTA.dst: dst = try a.ipAddress()
            case RTA.gateway: gateway = try a.ipAddress()
            case RTA.oif: outputIndex = try a.i32()
            case RTA.table: table = try a.u32()
            case RTA.priority: priority = try a.u32()
            case RTA.prefsrc: preferredSource = try a.ipAddress()
            default: unknownAttributes.append(a)
            }
        }
        let zero: IPAddress = fam == .v4 ? .v4(IPv4Address(0)) : .v6(IPv6Address(high: 0, low: 0))
        guard let net = IPNetwork(containing: dst ?? zero, prefixLength: Int(hdr.dstLength)) else {
            throw .malformed("route prefix length \(hdr.dstLength)", request: "RTM_NEWROUTE")
        }
        destination = net
    }
}

/// A route to add, replace or delete.
public struct RouteSpec: Sendable, Hashable {
    public var destination: IPNetwork
    public var gateway: IPAddress?
    public var outputIndex: Int32?
    public var table: UInt32
    public var `protocol`: UInt8
    /// nil: link scope without a gateway, universe with one (as iproute2 does).
    public var scope: UInt8?
    public var type: UInt8
    public var priority: UInt32?
    public var preferredSource: IPAddress?

    public init(destination: IPNetwork, gateway: IPAddress? = nil, outputIndex: Int32? = nil,
                table: UInt32 = RouteConstants.tableMain, protocol: UInt8 = RouteConstants.protocolBoot,
                scope: UInt8? = nil, type: UInt8 = RouteConstants.typeUnicast, priority: UInt32? = nil,
                preferredSource: IPAddress? = nil) {
        self.destination = destination
        self.gateway = gateway
        self.outputIndex = outputIndex
        self.table = table
        self.protocol = `protocol`
        self.scope = scope
        self.type = type
        self.priority = priority
        self.preferredSource = preferredSource
    }

    var summary: String {
        var s = "\(destination)"
        if let g = gateway { s += " via \(g)" }
        if let o = outputIndex { s += " dev #\(o)" }
        s += " table \(table) proto \(`protocol`)"
        return s
    }

    func encode(forDelete: Bool) -> [UInt8] {
        var h = RtMsg()
        h.family = AddressFamily(destination.family).rawValue
        h.dstLength = UInt8(destination.prefixLength)
        h.table = table < 256 ? UInt8(table) : u8(RT_TABLE_COMPAT)
        h.protocol = `protocol`
        h.scope = scope ?? (forDelete ? u8(RT_SCOPE_NOWHERE) : (gateway == nil && type == RouteConstants.typeUnicast
            ? RouteConstants.scopeLink : RouteConstants.scopeUniverse))
        h.type = type
        var e = AttributeEncoder()
        e.appendRaw(h.bytes)
        if destination.prefixLength > 0 { e.address(RTA.dst, destination.network) }
        if let g = gateway { e.address(RTA.gateway, g) }
        if let o = outputIndex { e.i32(RTA.oif, o) }
        e.u32(RTA.table, table)
        if let p = priority { e.u32(RTA.priority, p) }
        if let s = preferredSource { e.address(RTA.prefsrc, s) }
        return e.bytes
    }
}

extension NetlinkRequest {
    /// `RTM_NEWROUTE`: add (`NLM_F_EXCL`) or replace (`NLM_F_REPLACE`).
    public static func newRoute(_ r: RouteSpec, replace: Bool = false) -> NetlinkRequest {
        NetlinkRequest(type: MsgType.newRoute, flags: replace ? [.create, .replace] : [.create, .excl],
                       payload: r.encode(forDelete: false),
                       description: "RTM_NEWROUTE \(replace ? "replace" : "add") \(r.summary)")
    }

    /// `RTM_DELROUTE`. The protocol must match the route's (the kernel compares it
    /// when non-zero); scope defaults to "any" for deletion.
    public static func deleteRoute(_ r: RouteSpec) -> NetlinkRequest {
        NetlinkRequest(type: MsgType.delRoute, flags: [], payload: r.encode(forDelete: true),
                       description: "RTM_DELROUTE \(r.summary)")
    }

    public static func dumpRoutes(family: IPFamily? = nil) -> NetlinkRequest {
        var h = RtMsg()
        h.family = family.map { AddressFamily($0).rawValue } ?? 0
        return NetlinkRequest(type: MsgType.getRoute, flags: [], payload: h.bytes, description: "RTM_GETROUTE dump")
    }
}

extension NetlinkHandle {
    /// Routes of every table (filter by `table` to get one, e.g. main = 254).
    public func routes(family: IPFamily? = nil, table: UInt32? = nil) throws(NetlinkError) -> [Route] {
        var out: [Route] = []
        for m in try dump(.dumpRoutes(family: family)) where m.type == MsgType.newRoute {
            let r = try Route(payload: m.payload)
            if let table, r.table != table { continue }
            out.append(r)
        }
        return out
    }

    public func addRoute(_ r: RouteSpec, replace: Bool = false) throws(NetlinkError) {
        try execute(.newRoute(r, replace: replace))
    }

    public func deleteRoute(_ r: RouteSpec) throws(NetlinkError) {
        try execute(.deleteRoute(r))
    }
}
