/// A subnet in CIDR notation (`172.17.0.0/16`, `fd00:1::/64`).
///
/// IPAM and validation need containment, overlap, network/broadcast addresses and
/// "the n-th address of the subnet"; the arithmetic is done on 128-bit values so both
/// families share it.
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    /// The first address of the subnet (host bits are zero).
    public let network: IPAddress
    public let prefixLength: Int

    /// Builds a subnet; nil if the prefix is out of range or host bits are set.
    public init?(address: IPAddress, prefixLength: Int) {
        guard prefixLength >= 0, prefixLength <= address.family.bitWidth else { return nil }
        let n = IPNetwork.masked(address, prefixLength)
        guard n == address else { return nil }
        network = address
        self.prefixLength = prefixLength
    }

    /// The subnet that contains `address` with the given prefix (host bits cleared).
    public init?(containing address: IPAddress, prefixLength: Int) {
        guard prefixLength >= 0, prefixLength <= address.family.bitWidth else { return nil }
        network = IPNetwork.masked(address, prefixLength)
        self.prefixLength = prefixLength
    }

    /// Parses `ADDRESS/PREFIX`; the error says what is wrong, for diagnostics.
    public static func parse(_ text: some StringProtocol) -> Result<IPNetwork, CIDRError> {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .failure(.missingPrefix) }
        guard let address = IPAddress(parts[0]) else { return .failure(.badAddress(String(parts[0]))) }
        guard let prefix = Int(parts[1]), parts[1].utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              prefix >= 0, prefix <= address.family.bitWidth
        else { return .failure(.badPrefix(String(parts[1]), max: address.family.bitWidth)) }
        let net = IPNetwork(containing: address, prefixLength: prefix)!
        guard net.network == address else { return .failure(.hostBitsSet(suggestion: net)) }
        return .success(net)
    }

    public init?(_ text: some StringProtocol) {
        guard case .success(let n) = IPNetwork.parse(text) else { return nil }
        self = n
    }

    public var family: IPFamily { network.family }

    public var description: String { "\(network)/\(prefixLength)" }

    /// Number of host bits.
    public var hostBits: Int { family.bitWidth - prefixLength }

    public func contains(_ address: IPAddress) -> Bool {
        address.family == family && IPNetwork.masked(address, prefixLength) == network
    }

    /// True when `other` lies wholly inside this subnet.
    public func contains(_ other: IPNetwork) -> Bool {
        other.family == family && other.prefixLength >= prefixLength && contains(other.network)
    }

    public func overlaps(_ other: IPNetwork) -> Bool {
        contains(other) || other.contains(self)
    }

    /// The address `offset` places after the network address, or nil past the end.
    public func address(at offset: UInt128) -> IPAddress? {
        if hostBits < 128, offset >> UInt128(hostBits) != 0 { return nil }
        return IPNetwork.fromWide(IPNetwork.wide(network) + offset, family: family)
    }

    /// The offset of `address` from the network address (nil when outside).
    public func offset(of address: IPAddress) -> UInt128? {
        guard contains(address) else { return nil }
        return IPNetwork.wide(address) - IPNetwork.wide(network)
    }

    /// The last address (the IPv4 broadcast address).
    public var last: IPAddress {
        let hostMask: UInt128 = hostBits >= 128 ? ~0 : (UInt128(1) << UInt128(hostBits)) - 1
        return IPNetwork.fromWide(IPNetwork.wide(network) | hostMask, family: family)
    }

    /// How many addresses the subnet holds, saturated at `UInt128.max`.
    public var size: UInt128 { hostBits >= 128 ? .max : UInt128(1) << UInt128(hostBits) }

    static func wide(_ a: IPAddress) -> UInt128 {
        switch a {
        case .v4(let v): UInt128(v.value)
        case .v6(let v): UInt128(v.high) << 64 | UInt128(v.low)
        }
    }

    static func fromWide(_ w: UInt128, family: IPFamily) -> IPAddress {
        switch family {
        case .v4: .v4(IPv4Address(UInt32(truncatingIfNeeded: w)))
        case .v6: .v6(IPv6Address(high: UInt64(truncatingIfNeeded: w >> 64), low: UInt64(truncatingIfNeeded: w)))
        }
    }

    static func masked(_ a: IPAddress, _ prefix: Int) -> IPAddress {
        let width = a.family.bitWidth
        let hostBits = width - prefix
        let full: UInt128 = width == 128 ? ~0 : (UInt128(1) << UInt128(width)) - 1
        let hostMask: UInt128 = hostBits >= 128 ? ~0 : (UInt128(1) << UInt128(hostBits)) - 1
        return fromWide(wide(a) & (full & ~hostMask), family: a.family)
    }
}

/// Why a CIDR string was refused; rendered into a user-facing diagnostic.
public enum CIDRError: Error, Equatable, Sendable, CustomStringConvertible {
    case missingPrefix
    case badAddress(String)
    case badPrefix(String, max: Int)
    case hostBitsSet(suggestion: IPNetwork)

    public var description: String {
        switch self {
        case .missingPrefix: "expected ADDRESS/PREFIX (for example 172.18.0.0/16)"
        case .badAddress(let a): "'\(a)' is not an IPv4 or IPv6 address"
        case .badPrefix(let p, let max): "prefix length '\(p)' must be a number from 0 to \(max)"
        case .hostBitsSet(let s): "host bits are set; did you mean \(s)?"
        }
    }
}
