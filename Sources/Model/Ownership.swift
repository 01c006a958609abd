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
    ///
    /// Walks the alias's UTF-8 bytes: every link read is parsed (`LinkState.init`),
    /// and with a walk by `Character` that init was 2.8% of the CPU samples of a
    /// no-op plan at 1000 containers. A byte-wise prefix or `/` may have a combining
    /// mark after it where a `Character` one has not; such a mark then names a
    /// project no spec can name (project names are `a-z`, `0-9`, `_` and `-`; see
    /// `isValidProjectName`), so no object is taken for the project's that was not.
    public init?(alias: String?) {
        guard let alias else { return nil }
        let bytes = alias.utf8
        guard bytes.starts(with: Self.prefix.utf8) else { return nil }
        let body = bytes.index(bytes.startIndex, offsetBy: Self.prefix.utf8.count)
        guard let slash = bytes[body...].firstIndex(of: UInt8(ascii: "/")), slash != body else { return nil }
        let rest = bytes.index(after: slash)
        guard rest != bytes.endIndex else { return nil }
        project = String(Substring(bytes[body..<slash]))
        path = String(Substring(bytes[rest...]))
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
        // FNV-1a of "group:PROJECT", without building that string.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in "group:".utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        for b in project.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
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
