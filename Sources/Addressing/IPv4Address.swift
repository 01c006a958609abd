/// An IPv4 address as a 32-bit value in host order.
///
/// netform parses addresses from specs, computes IPAM allocations and writes them
/// into netlink messages; one small value type serves all three without Foundation.
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The address in host byte order (`10.0.0.1` is `0x0A000001`).
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted-quad notation strictly: four decimal octets, no leading zeros
    /// (they are octal in some parsers and ambiguous), no whitespace.
    public init?(_ text: some StringProtocol) {
        var octets: [UInt32] = []
        var current: UInt32 = 0
        var digits = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, octets.count < 3 else { return nil }
                octets.append(current)
                current = 0
                digits = 0
            } else if byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                if digits > 0 && current == 0 { return nil }  // leading zero
                current = current * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
                guard current <= 255, digits <= 3 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0, octets.count == 3 else { return nil }
        octets.append(current)
        value = octets[0] << 24 | octets[1] << 16 | octets[2] << 8 | octets[3]
    }

    /// The four bytes in network order, as netlink wants them.
    public var bytes: [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    /// Builds an address from four network-order bytes; nil unless exactly four.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 4 else { return nil }
        var v: UInt32 = 0
        for b in bytes { v = v << 8 | UInt32(b) }
        value = v
    }

    /// Dotted-quad text (`10.0.0.1`), written straight into the string's own
    /// (inline: at most 15 bytes) storage: an address's text is made for every
    /// address observed, fingerprinted and put in a firewall set.
    public var description: String {
        String(unsafeUninitializedCapacity: 15) { buffer in
            var i = 0
            for k in 0..<4 {
                let octet = Int(value >> UInt32(24 - 8 * k) & 0xff)
                if k > 0 { buffer[i] = UInt8(ascii: "."); i += 1 }
                if octet >= 100 { buffer[i] = UInt8(truncatingIfNeeded: 48 + octet / 100); i += 1 }
                if octet >= 10 { buffer[i] = UInt8(truncatingIfNeeded: 48 + octet / 10 % 10); i += 1 }
                buffer[i] = UInt8(truncatingIfNeeded: 48 + octet % 10); i += 1
            }
            return i
        }
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }
}
