/// An IPv4 or IPv6 address.
///
/// Specs, IPAM and netlink all carry addresses of either family; this enum lets one
/// code path handle both while keeping the family explicit.
public enum IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    /// Parses either family; IPv6 is tried when the text contains a colon.
    public init?(_ text: some StringProtocol) {
        if text.contains(":") {
            guard let a = IPv6Address(text) else { return nil }
            self = .v6(a)
        } else {
            guard let a = IPv4Address(text) else { return nil }
            self = .v4(a)
        }
    }

    public var family: IPFamily {
        switch self {
        case .v4: .v4
        case .v6: .v6
        }
    }

    public var bytes: [UInt8] {
        switch self {
        case .v4(let a): a.bytes
        case .v6(let a): a.bytes
        }
    }

    public var description: String {
        switch self {
        case .v4(let a): a.description
        case .v6(let a): a.description
        }
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)): a < b
        case (.v6(let a), .v6(let b)): a < b
        case (.v4, .v6): true
        case (.v6, .v4): false
        }
    }
}

/// The address family, as used for subnets, routes and netlink's `AF_INET`/`AF_INET6`.
public enum IPFamily: String, Hashable, Sendable, CaseIterable {
    case v4 = "ipv4"
    case v6 = "ipv6"

    public var bitWidth: Int { self == .v4 ? 32 : 128 }
}
