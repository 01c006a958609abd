import Addressing

/// Reads fixed-size fields from a byte slice, throwing instead of trapping when
/// the input is too short.
struct ByteReader {
    let bytes: ArraySlice<UInt8>
    var offset: Int
    let what: String

    init(_ bytes: ArraySlice<UInt8>, what: String) {
        self.bytes = bytes
        self.offset = bytes.startIndex
        self.what = what
    }

    var remaining: Int { bytes.endIndex - offset }

    mutating func take(_ n: Int) throws(NetlinkError) -> ArraySlice<UInt8> {
        guard n >= 0, remaining >= n else {
            throw .malformed("\(what): need \(n) bytes, \(remaining) left")
        }
        defer { offset += n }
        return bytes[offset..<offset + n]
    }

    mutating func integer<T: FixedWidthInteger>(_: T.Type = T.self) throws(NetlinkError) -> T {
        let s = try take(MemoryLayout<T>.size)
        return hostInteger(s)
    }

    mutating func u8() throws(NetlinkError) -> UInt8 { try integer() }
    mutating func u16() throws(NetlinkError) -> UInt16 { try integer() }
    mutating func u32() throws(NetlinkError) -> UInt32 { try integer() }
    mutating func i32() throws(NetlinkError) -> Int32 { try integer() }
}

@inline(__always)
func hostInteger<T: FixedWidthInteger>(_ s: ArraySlice<UInt8>) -> T {
    var v: T = 0
    withUnsafeMutableBytes(of: &v) { dst in
        for (i, b) in s.enumerated() where i < dst.count { dst[i] = b }
    }
    return v
}

/// One attribute as read from the kernel: its type (flags masked off), whether it
/// was marked nested, and its payload. Unknown attributes are kept in this form.
public struct RawAttribute: Sendable, Hashable {
    public var type: UInt16
    public var isNested: Bool
    public var payload: [UInt8]

    public init(type: UInt16, isNested: Bool = false, payload: [UInt8]) {
        self.type = type
        self.isNested = isNested
        self.payload = payload
    }

    func sized(_ n: Int) throws(NetlinkError) -> [UInt8] {
        guard payload.count == n else {
            throw .malformed("attribute \(type): expected \(n) bytes, got \(payload.count)")
        }
        return payload
    }

    public func u8() throws(NetlinkError) -> UInt8 { try sized(1)[0] }
    public func u16() throws(NetlinkError) -> UInt16 { hostInteger(try sized(2)[...]) }
    public func u32() throws(NetlinkError) -> UInt32 { hostInteger(try sized(4)[...]) }
    public func i32() throws(NetlinkError) -> Int32 { hostInteger(try sized(4)[...]) }
    public func u16BigEndian() throws(NetlinkError) -> UInt16 {
        let b = try sized(2)
        return UInt16(b[0]) << 8 | UInt16(b[1])
    }
    /// A string, with trailing NULs removed (a missing NUL is tolerated).
    public func string() -> String {
        var p = payload[...]
        while let last = p.last, last == 0 { p = p.dropLast() }
        if let nul = p.firstIndex(of: 0) { p = p[..<nul] }
        return String(decoding: p, as: UTF8.self)
    }
    public func ipAddress() throws(NetlinkError) -> IPAddress {
        switch payload.count {
        case 4: return .v4(IPv4Address(bytes: payload)!)
        case 16: return .v6(IPv6Address(bytes: payload)!)
        default: throw .malformed("attribute \(type): \(payload.count) bytes is not an IP address")
        }
    }
    /// A MAC address; nil for link-layer addresses of another length (e.g. tunnels).
    public func macAddress() -> MACAddress? { MACAddress(bytes: payload) }
    /// The payload parsed as a list of attributes.
    public func nested() throws(NetlinkError) -> AttributeList { try AttributeList(parsing: payload[...]) }
}

/// A parsed list of attributes with lookup by type.
public struct AttributeList: Sendable, Hashable, Sequence {
    public var attributes: [RawAttribute]

    public init(_ attributes: [RawAttribute] = []) { self.attributes = attributes }

    /// Parses attributes until the end of `bytes`. Trailing padding shorter than an
    /// attribute header is accepted; anything else malformed throws.
    public init(parsing bytes: ArraySlice<UInt8>) throws(NetlinkError) {
        var out: [RawAttribute] = []
        var i = bytes.startIndex
        while bytes.endIndex - i >= 4 {
            let len = Int(hostInteger(bytes[i..<i + 2]) as UInt16)
            let rawType: UInt16 = hostInteger(bytes[i + 2..<i + 4])
            guard len >= 4 else { throw .malformed("attribute length \(len) < 4 at byte \(i - bytes.startIndex)") }
            guard len <= bytes.endIndex - i else {
                throw .malformed("attribute length \(len) runs past the end (\(bytes.endIndex - i) bytes left)")
            }
            out.append(RawAttribute(type: rawType & 0x3fff, isNested: rawType & 0x8000 != 0,
                                    payload: Array(bytes[i + 4..<i + len])))
            let aligned = (len + 3) & ~3
            i += Swift.min(aligned, bytes.endIndex - i)
        }
        if i != bytes.endIndex, bytes[i...].contains(where: { $0 != 0 }) {
            throw .malformed("\(bytes.endIndex - i) trailing bytes after attributes")
        }
        attributes = out
    }

    /// The first attribute of this type.
    public subscript(type: UInt16) -> RawAttribute? {
        attributes.first { $0.type == type }
    }

    public func makeIterator() -> IndexingIterator<[RawAttribute]> { attributes.makeIterator() }
}

/// One netlink message as received: header fields and payload.
public struct NetlinkMessage: Sendable, Hashable {
    public var type: UInt16
    public var flags: NetlinkFlags
    public var sequence: UInt32
    public var portID: UInt32
    public var payload: [UInt8]

    public init(type: UInt16, flags: NetlinkFlags, sequence: UInt32, portID: UInt32, payload: [UInt8]) {
        self.type = type
        self.flags = flags
        self.sequence = sequence
        self.portID = portID
        self.payload = payload
    }

    /// Splits a datagram into messages; throws on a truncated or inconsistent one.
    public static func parse(_ bytes: ArraySlice<UInt8>) throws(NetlinkError) -> [NetlinkMessage] {
        let (messages, failure) = parsePrefix(bytes)
        if let failure { throw failure }
        return messages
    }

    /// The messages of a datagram up to the first one whose header is truncated or
    /// inconsistent, and the error that stopped it (nil when the whole datagram
    /// parsed). For readers that keep going past damage (subscriptions).
    static func parsePrefix(_ bytes: ArraySlice<UInt8>) -> (messages: [NetlinkMessage], failure: NetlinkError?) {
        var out: [NetlinkMessage] = []
        do throws(NetlinkError) {
            try parse(bytes, into: &out)
            return (out, nil)
        } catch {
            return (out, error)
        }
    }

    private static func parse(_ bytes: ArraySlice<UInt8>, into out: inout [NetlinkMessage]) throws(NetlinkError) {
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let left = bytes.endIndex - i
            guard left >= 16 else { throw .malformed("truncated netlink header (\(left) bytes)") }
            var r = ByteReader(bytes[i..<i + 16], what: "nlmsghdr")
            let len = Int(try r.u32())
            let type = try r.u16()
            let flags = try r.u16()
            let seq = try r.u32()
            let pid = try r.u32()
            guard len >= 16 else { throw .malformed("netlink message length \(len) < 16") }
            guard len <= left else { throw .malformed("netlink message length \(len) exceeds datagram (\(left) bytes)") }
            out.append(NetlinkMessage(type: type, flags: NetlinkFlags(rawValue: flags), sequence: seq,
                                      portID: pid, payload: Array(bytes[i + 16..<i + len])))
            i += min((len + 3) & ~3, left)
        }
    }

    public static func parse(_ bytes: [UInt8]) throws(NetlinkError) -> [NetlinkMessage] {
        try parse(bytes[...])
    }
}

/// The decoded payload of an `NLMSG_ERROR` message.
struct ErrorPayload {
    var error: Int32
    var message: String?
    var offset: UInt32?

    init(_ msg: NetlinkMessage) throws(NetlinkError) {
        var r = ByteReader(msg.payload[...], what: "nlmsgerr")
        error = try r.i32()
        let origLen = Int(try r.u32())
        _ = try r.take(12)  // rest of the original nlmsghdr
        guard msg.flags.contains(.ackTLVs) else { return }
        if !msg.flags.contains(.capped) {
            let body = max(0, origLen - 16)
            _ = try r.take(min((body + 3) & ~3, r.remaining))
        }
        let tlvs = try AttributeList(parsing: r.bytes[r.offset...])
        message = tlvs[NLMSGERR.msg]?.string()
        offset = try tlvs[NLMSGERR.offs]?.u32()
    }
}
