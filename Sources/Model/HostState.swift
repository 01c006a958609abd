import Addressing

/// The networking state of one host, as netform sees it: every namespace it can
/// reach and the objects inside.
///
/// Desired (compiled from a spec) and Observed (read from the kernel) are both
/// `HostState`s, so a plan is the difference of two values and the planner can be
/// tested without root: `apply(plan(d, o), to: o) == d`.
public struct HostState: Sendable, Equatable, Codable {
    /// Keyed by namespace; the host's own namespace is `.host`.
    public var namespaces: [NamespaceRef: NamespaceState]
    /// Whether the namespaces' neighbour entries were read (an observed state; not
    /// encoded). `.leftOut`: every `neighbours` is empty because it was not read.
    public var neighbourReading = NeighbourReading.read

    /// Encoded as a list of namespaces (each carries its `ref`), host first.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(sortedNamespaces)
    }

    public init(from decoder: any Decoder) throws {
        let list = try decoder.singleValueContainer().decode([NamespaceState].self)
        namespaces = Dictionary(list.map { ($0.ref, $0) }, uniquingKeysWith: { a, _ in a })
    }

    public init(namespaces: [NamespaceRef: NamespaceState] = [:]) {
        self.namespaces = namespaces
    }

    public subscript(_ ref: NamespaceRef) -> NamespaceState? {
        get { namespaces[ref] }
        set { namespaces[ref] = newValue }
    }

    /// Whether the namespace is here (without copying its state out, as
    /// `self[ref] != nil` does).
    public func has(_ ref: NamespaceRef) -> Bool { namespaces.index(forKey: ref) != nil }

    /// This state as a reading that left the neighbour entries out.
    public mutating func leaveOutNeighbours() {
        for ref in namespaces.keys where !(namespaces[ref]?.neighbours.isEmpty ?? true) { namespaces[ref]?.neighbours = [] }
        neighbourReading = .leftOut
    }

    /// Namespaces in a stable order: the host first, then by name.
    public var sortedNamespaces: [NamespaceState] {
        // The refs are sorted, not the states: moving 160-byte states about while
        // sorting 5000 of them was a tenth of a plan.
        namespaces.keys.sorted().map { namespaces[$0]! }
    }
}

/// Whether a reading of the host holds the neighbour (ARP/NDP) entries.
///
/// Why it exists: the kernel's neighbour dump walks the entries of every namespace
/// on the machine, so reading them namespace by namespace costs more the more
/// namespaces there are (a quarter of the reading at 1000 containers), and most
/// plans cannot use them: netform programs neighbours only on overlay networks
/// (`DesiredState.usesNeighbours`), and a destroy's desired state has none.
public enum NeighbourReading: Sendable, Equatable {
    case read
    case leftOut

    /// What planning `desired` needs read.
    public static func needed(by desired: DesiredState) -> NeighbourReading { desired.usesNeighbours ? .read : .leftOut }
}

/// Names a network namespace the way netform reaches it.
public enum NamespaceRef: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    /// The namespace netform itself runs in.
    case host
    /// `/run/netns/NAME`, as `ip netns` names it.
    case named(String)
    /// Any namespace file (`/proc/PID/ns/net`, a bind mount elsewhere).
    case path(String)

    public var description: String {
        switch self {
        case .host: "host"
        case .named(let n): n
        case .path(let p): p
        }
    }

    /// `host`, `netns:NAME` or `path:/PATH` in JSON: unambiguous and readable.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .host: try c.encode("host")
        case .named(let n): try c.encode("netns:\(n)")
        case .path(let p): try c.encode("path:\(p)")
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        if s == "host" {
            self = .host
        } else if s.hasPrefix("netns:") {
            self = .named(String(s.dropFirst(6)))
        } else if s.hasPrefix("path:") {
            self = .path(String(s.dropFirst(5)))
        } else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "'\(s)' is not host, netns:NAME or path:PATH")
        }
    }

    private var sortKey: (Int, String) {
        switch self {
        case .host: (0, "")
        case .named(let n): (1, n)
        case .path(let p): (2, p)
        }
    }

    public static func < (lhs: NamespaceRef, rhs: NamespaceRef) -> Bool { lhs.sortKey < rhs.sortKey }
}

/// One namespace and the objects netform manages or must not collide with.
public struct NamespaceState: Sendable, Equatable, Codable {
    public var ref: NamespaceRef
    /// The mark on `lo` in a namespace netform created; nil for foreign or adopted ones.
    public var owner: OwnerMark?
    public var links: [LinkState]
    public var addresses: [AddressState]
    public var routes: [RouteState]
    public var neighbours: [NeighbourState]
    public var fdb: [FDBEntryState]
    /// nftables tables: Desired holds the project's own; Observed every table in
    /// the namespace (read in the host namespace only: netform puts none elsewhere).
    public var firewall: [FirewallTable]
    /// Global sysctls of the namespace that the project's traffic needs (only the
    /// keys netform manages, `HostSysctl.managed`): Desired holds what the spec needs,
    /// Observed what the kernel has. netform sets them when they differ and never
    /// resets them (other tools rely on them too); `plan` shows each change.
    public var sysctls: [String: String] = [:]
    /// Host namespace only: the cluster store's keys of the project, as this host
    /// reads them (Observed) or must hold them (Desired: its own registration, the
    /// overlay networks it uses, its address claims and endpoints). nil: no store.
    /// Store changes are plan steps like kernel changes, and are rolled back alike.
    public var clusterStore: [String: String]?
    /// Host namespace, Observed only: why the cluster store could not be read (no
    /// endpoint answered), with `clusterStore` then nil. The plan keeps what depends on
    /// the store as the kernel has it and refuses what needs a claim: an unreadable
    /// store is never read as an empty one.
    public var clusterStoreUnreachable: String?
    /// Host namespace only: the files under `/etc/netns` netform manages
    /// (`NamespaceFile.managedNames`, in any namespace's directory). Desired holds the
    /// project's; Observed every such file found, netform's and foreign ones, sorted
    /// by key. They live in the host's file system, not in the namespace: a file
    /// outlives its namespace and is still the project's by its mark.
    public var netnsFiles: [NamespaceFile] = []
    /// Host namespace, Observed only: the host's resolver configuration (its
    /// `/etc/resolv.conf`), which the containers' `resolv.conf` is made from; nil
    /// when the host has none.
    public var hostResolver: String?

    public init(ref: NamespaceRef, owner: OwnerMark? = nil, links: [LinkState] = [], addresses: [AddressState] = [],
                routes: [RouteState] = [], neighbours: [NeighbourState] = [], fdb: [FDBEntryState] = [],
                firewall: [FirewallTable] = []) {
        self.ref = ref
        self.owner = owner
        self.links = links
        self.addresses = addresses
        self.routes = routes
        self.neighbours = neighbours
        self.fdb = fdb
        self.firewall = firewall
    }

    public func link(named name: String) -> LinkState? { links.first { $0.name == name } }

    /// The table `family name`, if present.
    public func firewallTable(family: String, name: String) -> FirewallTable? {
        firewall.first { $0.family == family && $0.name == name }
    }
}

/// A network interface.
public struct LinkState: Sendable, Equatable, Codable {
    public var name: String
    public var kind: LinkKind
    public var mtu: Int
    public var isUp: Bool
    /// nil in Desired means "whatever the kernel picks".
    public var mac: MACAddress?
    /// The bridge this link is a port of (by name, in the same namespace).
    public var master: String?
    /// The interface alias; netform's ownership mark lives here.
    public var alias: String? {
        didSet { owner = OwnerMark(alias: alias) }
    }
    /// The ownership mark parsed from the alias (kept with it: the planner asks often).
    public private(set) var owner: OwnerMark?
    /// Bridge-port flags, for links enslaved to a bridge.
    public var isolated: Bool
    /// The interface group; netform's links carry `OwnerMark.linkGroup(project:)`.
    public var group: UInt32
    /// Bridges only: bridged IPv4/IPv6 traffic of this bridge goes through the
    /// netfilter hooks (`nf_call_iptables`/`nf_call_ip6tables` of the bridge), so the
    /// project's `inet` rules decide traffic between containers of one network
    /// whatever the host's `bridge-nf-call-iptables` says. netform's bridges have it.
    public var bridgeNetfilter: Bool
    /// Observed only: the kernel's interface index (ignored when comparing).
    public var index: Int32?

    public init(name: String, kind: LinkKind, mtu: Int = 1500, isUp: Bool = true, mac: MACAddress? = nil,
                master: String? = nil, alias: String? = nil, isolated: Bool = false, group: UInt32? = nil, index: Int32? = nil,
                bridgeNetfilter: Bool = false) {
        self.name = name
        self.kind = kind
        self.mtu = mtu
        self.isUp = isUp
        self.mac = mac
        self.master = master
        self.alias = alias
        let owner = OwnerMark(alias: alias)
        self.owner = owner
        self.isolated = isolated
        self.group = group ?? (kind == .loopback ? 0 : owner.map { OwnerMark.linkGroup(project: $0.project) } ?? 0)
        self.index = index
        self.bridgeNetfilter = bridgeNetfilter
    }

    enum CodingKeys: String, CodingKey {
        case name, kind, mtu, isUp, mac, master, alias, isolated, group, index, bridgeNetfilter
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try c.decode(String.self, forKey: .name), kind: try c.decode(LinkKind.self, forKey: .kind),
                  mtu: try c.decode(Int.self, forKey: .mtu), isUp: try c.decode(Bool.self, forKey: .isUp),
                  mac: try c.decodeIfPresent(MACAddress.self, forKey: .mac), master: try c.decodeIfPresent(String.self, forKey: .master),
                  alias: try c.decodeIfPresent(String.self, forKey: .alias), isolated: try c.decode(Bool.self, forKey: .isolated),
                  group: try c.decode(UInt32.self, forKey: .group), index: try c.decodeIfPresent(Int32.self, forKey: .index),
                  bridgeNetfilter: try c.decodeIfPresent(Bool.self, forKey: .bridgeNetfilter) ?? false)
    }
}

/// What kind of interface a link is, with the settings that cannot change in place.
public enum LinkKind: Sendable, Equatable, Codable, CustomStringConvertible {
    case loopback
    case bridge
    /// One end of a veth pair; `peer` says where the other end is (Desired), or is nil
    /// when the kernel does not tell (Observed).
    case veth(peer: VethPeerRef?)
    case vxlan(VXLANSettings)
    case macvlan(parent: String, mode: String)
    /// Anything netform does not create (physical NICs, tun, wireguard, …).
    case other(String)

    public var name: String {
        switch self {
        case .loopback: "loopback"
        case .bridge: "bridge"
        case .veth: "veth"
        case .vxlan: "vxlan"
        case .macvlan: "macvlan"
        case .other(let k): k
        }
    }

    public var description: String { name }

    /// Same kind, ignoring the veth peer (which Observed may not know).
    public func sameKind(as other: LinkKind) -> Bool {
        switch (self, other) {
        case (.veth, .veth): true
        default: self == other
        }
    }
}

/// Where the other end of a veth pair lives.
public struct VethPeerRef: Sendable, Hashable, Codable {
    public var namespace: NamespaceRef
    public var name: String

    public init(namespace: NamespaceRef, name: String) {
        self.namespace = namespace
        self.name = name
    }
}

/// VXLAN settings fixed at creation (overlays).
public struct VXLANSettings: Sendable, Hashable, Codable {
    public var vni: UInt32
    public var local: IPAddress?
    public var port: UInt16
    /// The underlay device, by name.
    public var device: String?

    public init(vni: UInt32, local: IPAddress? = nil, port: UInt16 = 4789, device: String? = nil) {
        self.vni = vni
        self.local = local
        self.port = port
        self.device = device
    }
}

/// An address on an interface (`ip addr add ADDRESS/PREFIX dev LINK`).
public struct AddressState: Sendable, Hashable, Codable, CustomStringConvertible {
    public var link: String
    public var address: IPAddress
    public var prefixLength: Int
    /// The address's protocol (`IFA_PROTO`, kernel 5.18+), its ownership mark:
    /// netform's addresses carry `netformAddressProtocol` from the creating request
    /// on; 0 when unset (`ip addr add`, or netform before it marked addresses).
    public var proto: UInt8

    public init(link: String, address: IPAddress, prefixLength: Int, proto: UInt8 = netformAddressProtocol) {
        self.link = link
        self.address = address
        self.prefixLength = prefixLength
        self.proto = proto
    }

    enum CodingKeys: String, CodingKey { case link, address, prefixLength, proto }

    /// `proto` may be missing (a plan file written before addresses were marked):
    /// such an address is netform's, as every address in a desired state is.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(link: try c.decode(String.self, forKey: .link), address: try c.decode(IPAddress.self, forKey: .address),
                  prefixLength: try c.decode(Int.self, forKey: .prefixLength),
                  proto: try c.decodeIfPresent(UInt8.self, forKey: .proto) ?? netformAddressProtocol)
    }

    public var description: String { "\(address)/\(prefixLength) dev \(link)" }
    public var subnet: IPNetwork? { IPNetwork(containing: address, prefixLength: prefixLength) }
    /// Whether the address carries netform's protocol number (it still must sit on
    /// one of the project's links to be the project's).
    public var isMarked: Bool { proto == netformAddressProtocol }

    /// The same address on the same link, whatever its protocol: how the kernel
    /// identifies an address (adding it again is EEXIST, deleting it needs no proto).
    public func sameAddress(as other: AddressState) -> Bool {
        link == other.link && address == other.address && prefixLength == other.prefixLength
    }
}

/// A route in the main table.
public struct RouteState: Sendable, Hashable, Codable, CustomStringConvertible {
    /// nil: the default route of the family.
    public var destination: IPNetwork?
    public var family: IPFamily
    public var gateway: IPAddress?
    public var device: String?
    /// The routing protocol number; netform's routes carry `netformRouteProtocol`.
    public var proto: UInt8
    public var table: UInt32

    public init(destination: IPNetwork?, family: IPFamily, gateway: IPAddress? = nil, device: String? = nil,
                proto: UInt8 = netformRouteProtocol, table: UInt32 = 254) {
        self.destination = destination
        self.family = family
        self.gateway = gateway
        self.device = device
        self.proto = proto
        self.table = table
    }

    public var isOwned: Bool { proto == netformRouteProtocol }

    public var description: String {
        var s = destination.map(\.description) ?? "default"
        if let gateway { s += " via \(gateway)" }
        if let device { s += " dev \(device)" }
        return s + " proto \(proto)"
    }
}

/// A static neighbour (ARP/NDP) entry, for overlays.
public struct NeighbourState: Sendable, Hashable, Codable {
    public var link: String
    public var address: IPAddress
    public var mac: MACAddress
    public var permanent: Bool

    public init(link: String, address: IPAddress, mac: MACAddress, permanent: Bool = true) {
        self.link = link
        self.address = address
        self.mac = mac
        self.permanent = permanent
    }
}

/// A bridge forwarding entry; on a VXLAN device, `destination` is the remote VTEP.
public struct FDBEntryState: Sendable, Hashable, Codable {
    public var link: String
    public var mac: MACAddress
    public var destination: IPAddress?

    public init(link: String, mac: MACAddress, destination: IPAddress? = nil) {
        self.link = link
        self.mac = mac
        self.destination = destination
    }
}

/// What a project wants on this host: the state, and which namespaces are the
/// project's own (created and deleted by netform) or adopted (worked in, never
/// deleted). The planner needs nothing else.
public struct DesiredState: Sendable, Equatable, Codable {
    public var project: String
    public var state: HostState
    public var createdNamespaces: Set<NamespaceRef>
    public var adoptedNamespaces: Set<NamespaceRef>
    /// This host's name in the cluster store: store keys whose record names it are its
    /// own (nil: no store).
    public var storeHost: String?

    public init(project: String, state: HostState, createdNamespaces: Set<NamespaceRef> = [], adoptedNamespaces: Set<NamespaceRef> = [],
                storeHost: String? = nil) {
        self.project = project
        self.state = state
        self.createdNamespaces = createdNamespaces
        self.adoptedNamespaces = adoptedNamespaces
        self.storeHost = storeHost
    }
}

extension DesiredState {
    /// Whether a plan of this state can depend on the host's neighbour entries:
    /// the planner changes only neighbours on the project's links in the subnets of
    /// overlay networks (bridges with a VXLAN port in the host namespace), and adds
    /// only those the desired state has (the cluster's, for overlays). When false, a
    /// reading without them plans the same steps.
    public var usesNeighbours: Bool {
        let vxlan = state[.host]?.links.contains { if case .vxlan = $0.kind { true } else { false } } ?? false
        return vxlan || state.namespaces.values.contains { !$0.neighbours.isEmpty }
    }
}
