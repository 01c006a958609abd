import Model

/// The document `netform show` prints (`--json`, or YAML), built from an observed
/// `HostState`.
///
/// Why it exists: tools and people read `show`'s output, so its shape is a versioned
/// contract (`format_version`) independent of the Model types, which may change.
/// Optional fields that every object of a type has (`owner`, `mac`, `master`,
/// `alias`, `gateway`, `device`...) are always present, `null` when unset;
/// kind-specific blocks (`peer`, `vxlan`, `macvlan`) appear only on links of that kind.
/// Namespaces are sorted (host first, then by name), links by kernel index, the rest
/// as the kernel lists them.
public struct ObservationReport: Encodable, Sendable {
    public static let formatVersion = 1

    /// "project" or "all".
    public var scope: String
    /// The project shown; nil with `--all`.
    public var project: String?
    public var namespaces: [Namespace]

    public init(_ state: HostState, project: String?) {
        scope = project == nil ? "all" : "project"
        self.project = project
        namespaces = state.sortedNamespaces.map(Namespace.init)
    }

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version", scope, project, namespaces
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.formatVersion, forKey: .formatVersion)
        try c.encode(scope, forKey: .scope)
        try c.encode(project, forKey: .project)
        try c.encode(namespaces, forKey: .namespaces)
    }

    /// An ownership mark, split.
    public struct Owner: Encodable, Sendable {
        public var project: String
        public var path: String
        /// The alias text as stored in the kernel.
        public var mark: String

        init(_ m: OwnerMark) {
            project = m.project
            path = m.path
            mark = m.alias
        }
    }

    /// One namespace: its name and kind, its owner mark (from `lo`), and its objects.
    public struct Namespace: Encodable, Sendable {
        public var name: String
        /// "host", "named" (`/run/netns/NAME`) or "path".
        public var type: String
        public var owner: Owner?
        public var links: [LinkEntry]
        public var addresses: [AddressEntry]
        public var routes: [RouteEntry]
        public var neighbours: [NeighbourEntry]
        public var fdb: [FDBEntry]

        init(_ ns: NamespaceState) {
            name = ns.ref.description
            switch ns.ref {
            case .host: type = "host"
            case .named: type = "named"
            case .path: type = "path"
            }
            owner = ns.owner.map(Owner.init)
            links = ns.links.sorted { ($0.index ?? .max, $0.name) < ($1.index ?? .max, $1.name) }.map(LinkEntry.init)
            addresses = ns.addresses.map(AddressEntry.init)
            routes = ns.routes.map(RouteEntry.init)
            neighbours = ns.neighbours.map(NeighbourEntry.init)
            fdb = ns.fdb.map(FDBEntry.init)
        }

        enum CodingKeys: String, CodingKey { case name, type, owner, links, addresses, routes, neighbours, fdb }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(type, forKey: .type)
            try c.encode(owner, forKey: .owner)
            try c.encode(links, forKey: .links)
            try c.encode(addresses, forKey: .addresses)
            try c.encode(routes, forKey: .routes)
            try c.encode(neighbours, forKey: .neighbours)
            try c.encode(fdb, forKey: .fdb)
        }
    }

    /// One interface, with its owner mark and, for veth/vxlan/macvlan, what it is tied to.
    public struct LinkEntry: Encodable, Sendable {
        public var name: String
        public var index: Int32?
        public var kind: String
        public var mtu: Int
        /// "up" or "down" (administrative state).
        public var state: String
        public var mac: String?
        public var master: String?
        public var alias: String?
        public var owner: Owner?
        public var isolated: Bool
        public var peer: Peer?
        public var vxlan: VXLAN?
        public var macvlan: Macvlan?

        /// The other end of a veth pair (null fields when the kernel does not say).
        public struct Peer: Encodable, Sendable {
            public var namespace: String?
            public var name: String?
        }

        /// VXLAN settings fixed at creation.
        public struct VXLAN: Encodable, Sendable {
            public var vni: UInt32
            public var local: String?
            public var port: UInt16
            public var device: String?

            enum CodingKeys: String, CodingKey { case vni, local, port, device }

            public func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(vni, forKey: .vni)
                try c.encode(local, forKey: .local)
                try c.encode(port, forKey: .port)
                try c.encode(device, forKey: .device)
            }
        }

        /// The lower device and mode of a macvlan.
        public struct Macvlan: Encodable, Sendable {
            public var parent: String
            public var mode: String
        }

        init(_ l: LinkState) {
            name = l.name
            index = l.index
            kind = l.kind.name
            mtu = l.mtu
            state = l.isUp ? "up" : "down"
            mac = l.mac?.description
            master = l.master
            alias = l.alias
            owner = l.owner.map(Owner.init)
            isolated = l.isolated
            switch l.kind {
            case .veth(let p):
                peer = Peer(namespace: p?.namespace.description, name: p?.name)
            case .vxlan(let s):
                vxlan = VXLAN(vni: s.vni, local: s.local?.description, port: s.port, device: s.device)
            case .macvlan(let parent, let mode):
                macvlan = Macvlan(parent: parent, mode: mode)
            default:
                break
            }
        }

        enum CodingKeys: String, CodingKey {
            case name, index, kind, mtu, state, mac, master, alias, owner, isolated, peer, vxlan, macvlan
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(index, forKey: .index)
            try c.encode(kind, forKey: .kind)
            try c.encode(mtu, forKey: .mtu)
            try c.encode(state, forKey: .state)
            try c.encode(mac, forKey: .mac)
            try c.encode(master, forKey: .master)
            try c.encode(alias, forKey: .alias)
            try c.encode(owner, forKey: .owner)
            try c.encode(isolated, forKey: .isolated)
            if let peer {
                var p = c.nestedContainer(keyedBy: PeerKeys.self, forKey: .peer)
                try p.encode(peer.namespace, forKey: .namespace)
                try p.encode(peer.name, forKey: .name)
            }
            try c.encodeIfPresent(vxlan, forKey: .vxlan)
            try c.encodeIfPresent(macvlan, forKey: .macvlan)
        }

        enum PeerKeys: String, CodingKey { case namespace, name }
    }

    /// An address on an interface.
    public struct AddressEntry: Encodable, Sendable {
        public var link: String
        public var address: String
        public var prefixLength: Int
        /// "ipv4" or "ipv6".
        public var family: String

        init(_ a: AddressState) {
            link = a.link
            address = a.address.description
            prefixLength = a.prefixLength
            family = a.address.family.rawValue
        }

        enum CodingKeys: String, CodingKey {
            case link, address, prefixLength = "prefix_length", family
        }
    }

    /// A route of the main table.
    public struct RouteEntry: Encodable, Sendable {
        /// A CIDR, or "default".
        public var destination: String
        public var family: String
        public var gateway: String?
        public var device: String?
        public var `protocol`: UInt8
        public var table: UInt32
        /// Carries netform's route protocol (78).
        public var netform: Bool

        init(_ r: RouteState) {
            destination = r.destination?.description ?? "default"
            family = r.family.rawValue
            gateway = r.gateway?.description
            device = r.device
            self.protocol = r.proto
            table = r.table
            netform = r.isOwned
        }

        enum CodingKeys: String, CodingKey { case destination, family, gateway, device, `protocol`, table, netform }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(destination, forKey: .destination)
            try c.encode(family, forKey: .family)
            try c.encode(gateway, forKey: .gateway)
            try c.encode(device, forKey: .device)
            try c.encode(self.protocol, forKey: .protocol)
            try c.encode(table, forKey: .table)
            try c.encode(netform, forKey: .netform)
        }
    }

    /// A static (permanent) ARP/NDP entry.
    public struct NeighbourEntry: Encodable, Sendable {
        public var link: String
        public var address: String
        public var mac: String
        public var state: String

        init(_ n: NeighbourState) {
            link = n.link
            address = n.address.description
            mac = n.mac.description
            state = n.permanent ? "permanent" : "dynamic"
        }
    }

    /// A static forwarding entry of a VXLAN device (the remote VTEP of a MAC).
    public struct FDBEntry: Encodable, Sendable {
        public var link: String
        public var mac: String
        public var destination: String?

        init(_ f: FDBEntryState) {
            link = f.link
            mac = f.mac.description
            destination = f.destination?.description
        }

        enum CodingKeys: String, CodingKey { case link, mac, destination }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(link, forKey: .link)
            try c.encode(mac, forKey: .mac)
            try c.encode(destination, forKey: .destination)
        }
    }
}
