import Addressing

/// A decoded, validated spec (version 1) with every default filled in.
///
/// This is what the rest of netform reads: compile turns it into Desired state. It
/// holds no YAML types, so later stages never depend on how the file was written;
/// positions live in `SpecMarks` for the validator only.
public struct Spec: Sendable, Equatable {
    public var version: Int
    /// Ownership scope: every kernel object netform creates is marked with it.
    public var project: String
    /// Networks in file order.
    public var networks: [NetworkSpec]
    /// Containers in file order.
    public var containers: [ContainerSpec]
    /// Isolation rules, first match wins.
    public var rules: [RuleSpec]
    /// The cluster store every host applying this spec shares (`cluster:`); the
    /// command line's `--cluster-*` options override it setting by setting.
    public var cluster: ClusterSpec?

    public init(version: Int = 1, project: String, networks: [NetworkSpec] = [],
                containers: [ContainerSpec] = [], rules: [RuleSpec] = [], cluster: ClusterSpec? = nil) {
        self.version = version
        self.project = project
        self.networks = networks
        self.containers = containers
        self.rules = rules
        self.cluster = cluster
    }

    public func network(named name: String) -> NetworkSpec? { networks.first { $0.name == name } }
    public func container(named name: String) -> ContainerSpec? { containers.first { $0.name == name } }
}

/// Which kind of network a spec asks for; each compiles to different kernel objects.
public enum NetworkDriver: String, Sendable, Equatable, CaseIterable {
    /// A Linux bridge on this host with one veth per container (Docker's default).
    case bridge
    /// A bridge plus a VXLAN device per host, joined through the cluster store.
    case overlay
    /// A macvlan child of a host interface per container.
    case macvlan
}

/// The macvlan mode (`ip link add ... type macvlan mode MODE`).
public enum MacvlanMode: String, Sendable, Equatable, CaseIterable {
    case bridge, vepa, `private`, passthru
}

/// One network of the spec, defaults applied.
public struct NetworkSpec: Sendable, Equatable {
    public var name: String
    public var driver: NetworkDriver
    /// Kernel device name of the bridge (bridge and overlay drivers); derived from
    /// the project and network names when the spec does not give one.
    public var device: String
    public var subnets: [SubnetSpec]
    public var icc: Bool
    public var masquerade: Bool
    public var isInternal: Bool
    public var mtu: Int
    public var hostBindingIPv4: IPv4Address
    /// VXLAN network identifier (overlay only).
    public var vni: UInt32?
    /// Host interface macvlan children hang off (macvlan only).
    public var parent: String?
    public var macvlanMode: MacvlanMode?
    public var labels: [String: String]

    public init(name: String, driver: NetworkDriver = .bridge, device: String, subnets: [SubnetSpec],
                icc: Bool = true, masquerade: Bool = true, isInternal: Bool = false, mtu: Int = 1500,
                hostBindingIPv4: IPv4Address = IPv4Address(0), vni: UInt32? = nil, parent: String? = nil,
                macvlanMode: MacvlanMode? = nil, labels: [String: String] = [:]) {
        self.name = name
        self.driver = driver
        self.device = device
        self.subnets = subnets
        self.icc = icc
        self.masquerade = masquerade
        self.isInternal = isInternal
        self.mtu = mtu
        self.hostBindingIPv4 = hostBindingIPv4
        self.vni = vni
        self.parent = parent
        self.macvlanMode = macvlanMode
        self.labels = labels
    }

    /// The first subnet of a family: dynamic addresses and the default route come from it.
    public func primarySubnet(_ family: IPFamily) -> SubnetSpec? {
        subnets.first { $0.subnet.family == family }
    }
}

/// One subnet of a network: where addresses come from and which are reserved.
public struct SubnetSpec: Sendable, Equatable {
    public var subnet: IPNetwork
    /// The bridge's address and the containers' default gateway.
    public var gateway: IPAddress
    /// Dynamic addresses are taken from here (the whole subnet by default).
    public var ipRange: IPNetwork
    /// Addresses IPAM never hands out, by name.
    public var auxAddresses: [String: IPAddress]

    public init(subnet: IPNetwork, gateway: IPAddress, ipRange: IPNetwork, auxAddresses: [String: IPAddress] = [:]) {
        self.subnet = subnet
        self.gateway = gateway
        self.ipRange = ipRange
        self.auxAddresses = auxAddresses
    }
}

/// One container: a network namespace with interfaces on networks.
public struct ContainerSpec: Sendable, Equatable {
    public var name: String
    /// `.host` shares the host's stack; `.attached([])` is loopback only.
    public var networking: Networking
    public var ports: [PublishedPort]
    /// Placement for multi-host specs; nil means "the host applying the spec".
    public var host: String?
    /// An existing namespace to adopt instead of creating one.
    public var netns: NamespaceReference?
    public var labels: [String: String]
    /// The container's resolver (`docker run --dns`, `--dns-search`, `--dns-option`):
    /// each list, when given, replaces that part of the host's `resolv.conf`.
    public var dns: DNSSettings = DNSSettings()
    /// More names in the container's `hosts` (`docker run --add-host`), in spec order.
    public var extraHosts: [ExtraHost] = []

    /// What a container's `resolv.conf` takes from the spec instead of the host.
    public struct DNSSettings: Sendable, Equatable {
        public var nameservers: [IPAddress]?
        public var search: [String]?
        public var options: [String]?
        public init(nameservers: [IPAddress]? = nil, search: [String]? = nil, options: [String]? = nil) {
            self.nameservers = nameservers
            self.search = search
            self.options = options
        }
        public var isEmpty: Bool { nameservers == nil && search == nil && options == nil }
    }

    /// One `extra_hosts` entry: a name and its address.
    public struct ExtraHost: Sendable, Equatable, Hashable {
        public var name: String
        public var address: IPAddress
        public init(name: String, address: IPAddress) {
            self.name = name
            self.address = address
        }
    }

    /// Docker's three kinds of container networking: the host's stack, or a
    /// namespace of its own with zero or more attachments.
    public enum Networking: Sendable, Equatable {
        case host
        case attached([Attachment])
    }

    public init(name: String, networking: Networking, ports: [PublishedPort] = [], host: String? = nil,
                netns: NamespaceReference? = nil, labels: [String: String] = [:]) {
        self.name = name
        self.networking = networking
        self.ports = ports
        self.host = host
        self.netns = netns
        self.labels = labels
    }

    /// The attachments, empty for host networking.
    public var attachments: [Attachment] {
        if case .attached(let a) = networking { return a }
        return []
    }
}

/// A container's interface on one network.
public struct Attachment: Sendable, Equatable {
    public var network: String
    public var ipv4: IPv4Address?
    public var ipv6: IPv6Address?
    public var mac: MACAddress?
    /// Interface name inside the container (`eth0`, `eth1`, … by default).
    public var interface: String

    public init(network: String, ipv4: IPv4Address? = nil, ipv6: IPv6Address? = nil, mac: MACAddress? = nil, interface: String) {
        self.network = network
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.mac = mac
        self.interface = interface
    }
}

/// How to find a namespace netform adopts rather than creates.
public enum NamespaceReference: Sendable, Equatable {
    /// `/run/netns/NAME`, as `ip netns` names it.
    case name(String)
    case path(String)
    case pid(Int32)
}

/// Transport protocols for published ports and rule port ranges.
public enum TransportProtocol: String, Sendable, Equatable, CaseIterable {
    case tcp, udp, sctp
}

/// A published port, `[HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO]`.
public struct PublishedPort: Sendable, Equatable, CustomStringConvertible {
    /// nil: the network's `host_binding_ipv4`.
    public var hostIP: IPAddress?
    public var hostPort: UInt16
    public var containerPort: UInt16
    public var proto: TransportProtocol

    public init(hostIP: IPAddress? = nil, hostPort: UInt16, containerPort: UInt16, proto: TransportProtocol = .tcp) {
        self.hostIP = hostIP
        self.hostPort = hostPort
        self.containerPort = containerPort
        self.proto = proto
    }

    public var description: String {
        var s = ""
        if let ip = hostIP {
            s = ip.family == .v6 ? "[\(ip)]:" : "\(ip):"
        }
        return s + "\(hostPort):\(containerPort)/\(proto.rawValue)"
    }
}

/// One isolation rule; the first rule that matches a packet decides.
public struct RuleSpec: Sendable, Equatable {
    /// What a matching rule does with the traffic.
    public enum Action: String, Sendable, Equatable { case allow, deny }

    public var action: Action
    public var from: Selector
    public var to: Selector
    /// Empty: all ports.
    public var ports: [PortRange]
    /// Empty: all protocols.
    public var protocols: [RuleProtocol]

    public init(action: Action, from: Selector = .any, to: Selector = .any, ports: [PortRange] = [], protocols: [RuleProtocol] = []) {
        self.action = action
        self.from = from
        self.to = to
        self.ports = ports
        self.protocols = protocols
    }
}

/// Which containers a rule side matches.
public enum Selector: Sendable, Equatable, CustomStringConvertible {
    case any
    case container(String)
    case network(String)
    case label(key: String, value: String)

    public var description: String {
        switch self {
        case .any: "any"
        case .container(let c): c
        case .network(let n): "network:\(n)"
        case .label(let k, let v): "label:\(k)=\(v)"
        }
    }
}

/// A port or range of ports of one transport protocol (`80/tcp`, `8000-8100/udp`).
public struct PortRange: Sendable, Equatable, CustomStringConvertible {
    public var lower: UInt16
    public var upper: UInt16
    public var proto: TransportProtocol

    public init(lower: UInt16, upper: UInt16, proto: TransportProtocol) {
        self.lower = lower
        self.upper = upper
        self.proto = proto
    }

    public var description: String {
        lower == upper ? "\(lower)/\(proto.rawValue)" : "\(lower)-\(upper)/\(proto.rawValue)"
    }
}

/// Protocols a rule may match without ports.
public enum RuleProtocol: String, Sendable, Equatable, CaseIterable {
    case tcp, udp, sctp, icmp, icmpv6
}

/// The spec's `cluster:` section: the same settings as `--cluster-store`,
/// `--cluster-advertise` and `--cluster-store-opt`, written once for every host that
/// applies the spec (so `advertise` is best an interface name common to them all).
///
/// Why it exists: a GitOps repository holds one spec for a fleet; without it every
/// host's unit file or CI job repeats the store's URL and TLS files. The values are
/// kept as written: what they mean (URL syntax, option values) is checked by the
/// cluster module through `SpecLoader.load(path:clusterCheck:)`, at their position.
public struct ClusterSpec: Sendable, Equatable, Codable {
    /// `etcd://HOST:PORT[,…]`, `etcds://…` or `file:/PATH`.
    public var store: String
    /// An address or an interface name; nil: give `--cluster-advertise` per host.
    public var advertise: String?
    /// Store options by key (`kv.cacertfile`, `kv.timeout`, `kv.ttl`, …).
    public var options: [String: String]

    public init(store: String, advertise: String? = nil, options: [String: String] = [:]) {
        self.store = store
        self.advertise = advertise
        self.options = options
    }

    /// A problem the cluster module found in the section: where (`store`,
    /// `advertise`, `options`, or `options.KEY`) and why.
    public struct Problem: Sendable, Equatable {
        public var path: String
        public var message: String
        public init(path: String, message: String) {
            self.path = path
            self.message = message
        }
    }
}

/// Checks what a `cluster:` section means (see `ClusterSpec`).
public typealias ClusterSectionCheck = @Sendable (ClusterSpec) -> [ClusterSpec.Problem]
