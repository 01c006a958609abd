import Addressing

/// Appends netlink attributes (and fixed headers) to a byte buffer.
///
/// Every attribute is a 4-byte `nla_len`/`nla_type` header followed by its payload,
/// padded to a multiple of 4 bytes; `nested {}` writes a container attribute whose
/// length is patched after its body is written (mdlayher/netlink's design).
/// Integers are in host byte order, as netlink wants, except where a method says
/// "big endian".
public struct AttributeEncoder: Sendable {
    public private(set) var bytes: [UInt8] = []

    /// Set on container attributes written by `nested`.
    public static let nestedFlag: UInt16 = 0x8000

    public init() {}

    /// Appends raw bytes (e.g. a fixed `ifinfomsg` header) and pads to 4 bytes.
    public mutating func appendRaw(_ raw: some Sequence<UInt8>) {
        bytes.append(contentsOf: raw)
        pad()
    }

    mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    /// One attribute with an arbitrary payload.
    public mutating func attribute(_ type: UInt16, _ payload: some Collection<UInt8>) {
        let len = 4 + payload.count
        precondition(len <= Int(UInt16.max), "netlink attribute too long")
        appendInteger(UInt16(len))
        appendInteger(type)
        bytes.append(contentsOf: payload)
        pad()
    }

    public mutating func flag(_ type: UInt16) { attribute(type, [UInt8]()) }
    public mutating func u8(_ type: UInt16, _ v: UInt8) { attribute(type, [v]) }
    public mutating func u16(_ type: UInt16, _ v: UInt16) { attribute(type, Self.hostBytes(v)) }
    public mutating func u32(_ type: UInt16, _ v: UInt32) { attribute(type, Self.hostBytes(v)) }
    public mutating func i32(_ type: UInt16, _ v: Int32) { attribute(type, Self.hostBytes(v)) }
    /// A 16-bit value in network byte order (e.g. `IFLA_VXLAN_PORT`).
    public mutating func u16BigEndian(_ type: UInt16, _ v: UInt16) { attribute(type, [UInt8(v >> 8), UInt8(v & 0xff)]) }
    /// A NUL-terminated string.
    public mutating func string(_ type: UInt16, _ s: String) { attribute(type, Array(s.utf8) + [0]) }
    public mutating func address(_ type: UInt16, _ a: IPAddress) { attribute(type, a.bytes) }
    public mutating func mac(_ type: UInt16, _ m: MACAddress) { attribute(type, m.bytes) }

    /// A container attribute; `body` writes its children.
    public mutating func nested<E: Error>(_ type: UInt16, _ body: (inout AttributeEncoder) throws(E) -> Void) throws(E) {
        let start = bytes.count
        appendInteger(UInt16(0))
        appendInteger(type | Self.nestedFlag)
        try body(&self)
        let len = bytes.count - start
        precondition(len <= Int(UInt16.max), "netlink nested attribute too long")
        bytes[start] = UInt8(len & 0xff)
        bytes[start + 1] = UInt8(len >> 8)
    }

    mutating func appendInteger<T: FixedWidthInteger>(_ v: T) {
        bytes.append(contentsOf: Self.hostBytes(v))
    }

    static func hostBytes<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        withUnsafeBytes(of: v) { Array($0) }
    }
}

/// A request ready to be sent: message type, flags and payload (fixed header +
/// attributes). The socket adds the 16-byte `nlmsghdr` with its sequence number and
/// port id.
public struct NetlinkRequest: Sendable {
    public var type: UInt16
    public var flags: NetlinkFlags
    public var payload: [UInt8]
    /// Short description used in errors, e.g. "RTM_NEWLINK veth nf-abc".
    public var description: String

    public init(type: UInt16, flags: NetlinkFlags, payload: [UInt8], description: String) {
        self.type = type
        self.flags = flags
        self.payload = payload
        self.description = description
    }

    /// The complete message bytes (header + payload).
    public func encode(sequence: UInt32, portID: UInt32) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 + payload.count)
        let len = UInt32(16 + payload.count)
        out += AttributeEncoder.hostBytes(len)
        out += AttributeEncoder.hostBytes(type)
        out += AttributeEncoder.hostBytes(flags.rawValue)
        out += AttributeEncoder.hostBytes(sequence)
        out += AttributeEncoder.hostBytes(portID)
        out += payload
        return out
    }
}
