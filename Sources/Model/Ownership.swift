/// Who owns a kernel object, read from and written to the object itself.
///
/// netform keeps no state file: ownership lives in the kernel, as the interface alias
/// (`IFLA_IFALIAS`) `netform:PROJECT/PATH`, e.g. `netform:lab/net/aislada` on a
/// bridge, `netform:lab/ctr/container1` on `lo` inside a namespace netform created,
/// `netform:lab/ep/container1/bridge` on both ends of a container's veth. An object
/// without a mark is foreign and never changed.
public struct OwnerMark: Hashable, Sendable, Codable, CustomStringConvertible {
    public static let prefix = "netform:"

    public var project: String
    /// `net/NETWORK`, `ctr/CONTAINER` or `ep/CONTAINER/NETWORK`.
    public var path: String

    public init(project: String, path: String) {
        self.project = project
        self.path = path
    }

    /// Parses an alias; nil when it is not a netform mark.
    public init?(alias: String?) {
        guard let alias, alias.hasPrefix(Self.prefix) else { return nil }
        let body = alias.dropFirst(Self.prefix.count)
        guard let slash = body.firstIndex(of: "/"), slash != body.startIndex else { return nil }
        project = String(body[..<slash])
        path = String(body[body.index(after: slash)...])
        guard !path.isEmpty else { return nil }
    }

    public var alias: String { "\(Self.prefix)\(project)/\(path)" }
    public var description: String { alias }

    public static func network(_ project: String, _ network: String) -> OwnerMark {
        OwnerMark(project: project, path: "net/\(network)")
    }

    public static func container(_ project: String, _ container: String) -> OwnerMark {
        OwnerMark(project: project, path: "ctr/\(container)")
    }

    public static func endpoint(_ project: String, container: String, network: String) -> OwnerMark {
        OwnerMark(project: project, path: "ep/\(container)/\(network)")
    }

    /// The interface group (`IFLA_GROUP`) netform gives the links it creates for a
    /// project. Unlike the alias, the group is set in the creating request itself, so
    /// a link whose creation was interrupted (netform killed before the alias was
    /// set) is still recognisably the project's.
    public static func linkGroup(project: String) -> UInt32 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in "group:\(project)".utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return 0x4e46_0000 | UInt32(truncatingIfNeeded: h & 0xffff)
    }

    /// The group for the project named in an alias mark, or 0 (the default group).
    public static func linkGroup(alias: String?) -> UInt32 {
        OwnerMark(alias: alias).map { linkGroup(project: $0.project) } ?? 0
    }
}

/// The route protocol number netform puts on routes it installs (`ip route ... proto
/// 78`), so it can tell its routes from everyone else's. 78 is unassigned in
/// iproute2's rt_protos.
public let netformRouteProtocol: UInt8 = 78

/// The address protocol (`IFA_PROTO`) netform puts on the addresses it adds, in the
/// creating request, so an address on a netform link that someone else added
/// (`ip addr add` sets none) is told apart and left alone. Same number as routes'.
public let netformAddressProtocol: UInt8 = 78
