/// A 48-bit Ethernet MAC address.
///
/// Container MACs are derived from their IPv4 address the way Docker does
/// (`02:42:` followed by the four address bytes), so the same spec yields the same
/// MACs on every apply and every host.
public struct MACAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 6 else { return nil }
        self.bytes = Array(bytes)
    }

    /// Parses `aa:bb:cc:dd:ee:ff` (colons or dashes, either case).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let groups = parts.count == 6 ? parts : text.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.count == 6 else { return nil }
        var out: [UInt8] = []
        for g in groups {
            guard g.count == 2, g.utf8.allSatisfy(isHexDigit), let b = UInt8(g, radix: 16) else { return nil }
            out.append(b)
        }
        bytes = out
    }

    /// Docker's derivation: `02:42:` + the IPv4 address bytes (locally administered).
    public init(derivedFrom address: IPv4Address) {
        bytes = [0x02, 0x42] + address.bytes
    }

    /// True when the multicast bit is set; such an address cannot be an interface MAC.
    public var isMulticast: Bool { bytes[0] & 1 == 1 }

    public var isZero: Bool { bytes.allSatisfy { $0 == 0 } }

    /// `aa:bb:cc:dd:ee:ff`, lower case, written straight into the string's storage
    /// (every link's MAC is written for each plan's fingerprint).
    public var description: String {
        guard !bytes.isEmpty else { return "" }
        return String(unsafeUninitializedCapacity: bytes.count * 3 - 1) { out in
            let digits: StaticString = "0123456789abcdef"
            var i = 0
            for (n, b) in bytes.enumerated() {
                if n > 0 { out[i] = UInt8(ascii: ":"); i += 1 }
                out[i] = digits.utf8Start[Int(b >> 4)]
                out[i + 1] = digits.utf8Start[Int(b & 0xf)]
                i += 2
            }
            return i
        }
    }

    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }
}
