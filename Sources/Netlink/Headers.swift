/// `struct ifinfomsg` (16 bytes).
public struct IfInfoMsg: Sendable, Hashable {
    public var family: UInt8 = 0
    public var type: UInt16 = 0
    public var index: Int32 = 0
    public var flags: UInt32 = 0
    public var change: UInt32 = 0

    public init(family: UInt8 = 0, type: UInt16 = 0, index: Int32 = 0, flags: UInt32 = 0, change: UInt32 = 0) {
        self.family = family
        self.type = type
        self.index = index
        self.flags = flags
        self.change = change
    }

    public static let size = 16

    public var bytes: [UInt8] {
        [family, 0] + AttributeEncoder.hostBytes(type) + AttributeEncoder.hostBytes(index)
            + AttributeEncoder.hostBytes(flags) + AttributeEncoder.hostBytes(change)
    }

    init(_ r: inout ByteReader) throws(NetlinkError) {
        family = try r.u8()
        _ = try r.u8()
        type = try r.u16()
        index = try r.i32()
        flags = try r.u32()
        change = try r.u32()
    }
}

/// `struct ifaddrmsg` (8 bytes).
public struct IfAddrMsg: Sendable, Hashable {
    public var family: UInt8 = 0
    public var prefixLength: UInt8 = 0
    public var flags: UInt8 = 0
    public var scope: UInt8 = 0
    public var index: UInt32 = 0

    public init(family: UInt8 = 0, prefixLength: UInt8 = 0, flags: UInt8 = 0, scope: UInt8 = 0, index: UInt32 = 0) {
        self.family = family
        self.prefixLength = prefixLength
        self.flags = flags
        self.scope = scope
        self.index = index
    }

    public static let size = 8

    public var bytes: [UInt8] { [family, prefixLength, flags, scope] + AttributeEncoder.hostBytes(index) }

    init(_ r: inout ByteReader) throws(NetlinkError) {
        family = try r.u8()
        prefixLength = try r.u8()
        flags = try r.u8()
        scope = try r.u8()
        index = try r.u32()
    }
}

/// `struct rtmsg` (12 bytes).
public struct RtMsg: Sendable, Hashable {
    public var family: UInt8 = 0
    public var dstLength: UInt8 = 0
    public var srcLength: UInt8 = 0
    public var tos: UInt8 = 0
    public var table: UInt8 = 0
    public var `protocol`: UInt8 = 0
    public var scope: UInt8 = 0
    public var type: UInt8 = 0
    public var flags: UInt32 = 0

    public init() {}

    public static let size = 12

    public var bytes: [UInt8] {
        [family, dstLength, srcLength, tos, table, `protocol`, scope, type] + AttributeEncoder.hostBytes(flags)
    }

    init(_ r: inout ByteReader) throws(NetlinkError) {
        family = try r.u8()
        dstLength = try r.u8()
        srcLength = try r.u8()
        tos = try r.u8()
        table = try r.u8()
        `protocol` = try r.u8()
        scope = try r.u8()
        type = try r.u8()
        flags = try r.u32()
    }
}

/// `struct ndmsg` (12 bytes).
public struct NdMsg: Sendable, Hashable {
    public var family: UInt8 = 0
    public var index: Int32 = 0
    public var state: UInt16 = 0
    public var flags: UInt8 = 0
    public var type: UInt8 = 0

    public init(family: UInt8 = 0, index: Int32 = 0, state: UInt16 = 0, flags: UInt8 = 0, type: UInt8 = 0) {
        self.family = family
        self.index = index
        self.state = state
        self.flags = flags
        self.type = type
    }

    public static let size = 12

    public var bytes: [UInt8] {
        [family, 0, 0, 0] + AttributeEncoder.hostBytes(index) + AttributeEncoder.hostBytes(state) + [flags, type]
    }

    init(_ r: inout ByteReader) throws(NetlinkError) {
        family = try r.u8()
        _ = try r.take(3)
        index = try r.i32()
        state = try r.u16()
        flags = try r.u8()
        type = try r.u8()
    }
}
