import Addressing

/// One kernel (or cluster-store) change, complete enough to execute and to print.
///
/// Plans are lists of operations; `Execute` maps each case to netlink/nft/store calls,
/// `--dry-run` prints each as the equivalent `ip`/`nft` line, and a fake driver in the
/// tests applies them to a `HostState` value. Cases for firewall tables and overlays
/// are here from the start so those features plug into the same machinery.
///
/// Indirect: each value is a reference to its case's payload alone, not the 153
/// bytes of the largest case inline; a plan of 50,000 containers holds half a
/// million of them (steps and inverses).
public indirect enum Operation: Sendable, Equatable, Codable {
    // Namespaces
    /// Create `/run/netns/NAME` (iproute2-compatible) and mark its `lo` with `owner`.
    case createNamespace(name: String, owner: OwnerMark)
    /// Delete a namespace netform created; its interfaces go with it.
    case deleteNamespace(name: String)

    // Links
    case createBridge(namespace: NamespaceRef, name: String, mtu: Int, mac: MACAddress?, alias: String)
    /// A veth pair whose peer is created directly in `peer.namespace`; the local end is
    /// enslaved to `master` and brought up.
    case createVeth(namespace: NamespaceRef, name: String, mac: MACAddress?, master: String?, mtu: Int, alias: String,
                    peer: VethPeerRef, peerMac: MACAddress?, peerAlias: String)
    /// `mac`: the device's address when it must be a given one (a rebuilt device gets
    /// its old address back: other hosts' FDB entries and neighbours point at it);
    /// nil lets the kernel pick one.
    case createVXLAN(namespace: NamespaceRef, name: String, settings: VXLANSettings, master: String?, mtu: Int, mac: MACAddress?,
                     alias: String)
    case createMacvlan(namespace: NamespaceRef, name: String, parent: String, mode: String, mtu: Int, mac: MACAddress?, alias: String)
    /// Change attributes of an existing link in place (nil: leave as is).
    case setLink(namespace: NamespaceRef, name: String, change: LinkChangeSet)
    case deleteLink(namespace: NamespaceRef, name: String)

    // Addresses, routes, neighbours, FDB
    case addAddress(namespace: NamespaceRef, address: AddressState)
    case deleteAddress(namespace: NamespaceRef, address: AddressState)
    case addRoute(namespace: NamespaceRef, route: RouteState)
    case deleteRoute(namespace: NamespaceRef, route: RouteState)
    case addNeighbour(namespace: NamespaceRef, neighbour: NeighbourState)
    case deleteNeighbour(namespace: NamespaceRef, neighbour: NeighbourState)
    case addFDBEntry(namespace: NamespaceRef, entry: FDBEntryState)
    case deleteFDBEntry(namespace: NamespaceRef, entry: FDBEntryState)

    // Firewall (nftables): the project's tables, each replaced atomically in one batch
    // (a failed batch leaves the previous table in force).
    case replaceFirewallTable(namespace: NamespaceRef, table: FirewallTable)
    /// Deletes the table if it exists (a table already gone is a delete done).
    case deleteFirewallTable(namespace: NamespaceRef, family: String, name: String)

    // Cluster store (keys of the project; values are JSON text)
    /// Creates the key only if it is absent (an address claim): fails, writing
    /// nothing, when another host holds it.
    case claimStoreKey(key: String, value: String)
    case putStoreKey(key: String, value: String)
    /// Deletes the key (a key already gone is a delete done).
    case deleteStoreKey(key: String)
    /// Deletes another host's key (a claim or endpoint) only while that host's
    /// registration `whileAbsent` is gone: garbage of a host whose lease expired. A
    /// host that registered again in the meantime keeps its keys (one transaction).
    case collectStoreKey(key: String, whileAbsent: String)
    /// Creates (if all are absent), puts and deletes keys in one transaction: fails,
    /// writing nothing, when a key to create exists (a claim another host holds).
    case storeTransaction(StoreTransaction)

    // Global settings
    /// Writes `/proc/sys/KEY` (dots for slashes) in the namespace.
    case setSysctl(namespace: NamespaceRef, key: String, value: String)
    /// Writes one of the files under `/etc/netns/NAME` (whole, atomically: a
    /// temporary file renamed over the old one), making the directories as needed.
    case writeNamespaceFile(NamespaceFile)
    /// Removes one (only when its mark is `project`'s), and its namespace's
    /// directory there when that is left empty.
    case deleteNamespaceFile(namespace: String, name: String, project: String)

    /// The case names as JSON keys. Plan JSON converts keys to snake_case and back;
    /// a run of capitals does not survive that (`createVXLAN` is written
    /// `create_vxlan` and read back as `createVxlan`), so those cases are named here
    /// the way they come back: a saved plan with a VXLAN or an FDB step must read.
    enum CodingKeys: String, CodingKey {
        case createNamespace, deleteNamespace
        case createBridge, createVeth, createVXLAN = "createVxlan", createMacvlan, setLink, deleteLink
        case addAddress, deleteAddress, addRoute, deleteRoute, addNeighbour, deleteNeighbour
        case addFDBEntry = "addFdbEntry", deleteFDBEntry = "deleteFdbEntry"
        case replaceFirewallTable, deleteFirewallTable
        case claimStoreKey, putStoreKey, deleteStoreKey, collectStoreKey, storeTransaction
        case setSysctl
        case writeNamespaceFile, deleteNamespaceFile
    }

    /// The namespace the operation acts in.
    public var namespace: NamespaceRef {
        switch self {
        case .createNamespace(let name, _), .deleteNamespace(let name): .named(name)
        case .createBridge(let ns, _, _, _, _), .createVeth(let ns, _, _, _, _, _, _, _, _),
             .createVXLAN(let ns, _, _, _, _, _, _), .createMacvlan(let ns, _, _, _, _, _, _),
             .setLink(let ns, _, _), .deleteLink(let ns, _),
             .addAddress(let ns, _), .deleteAddress(let ns, _), .addRoute(let ns, _), .deleteRoute(let ns, _),
             .addNeighbour(let ns, _), .deleteNeighbour(let ns, _), .addFDBEntry(let ns, _), .deleteFDBEntry(let ns, _),
             .replaceFirewallTable(let ns, _), .deleteFirewallTable(let ns, _, _), .setSysctl(let ns, _, _):
            ns
        case .claimStoreKey, .putStoreKey, .deleteStoreKey, .collectStoreKey, .storeTransaction,
             .writeNamespaceFile, .deleteNamespaceFile:
            .host
        }
    }

    /// Which backend carries the operation out: the executor routes each operation
    /// to it, and rollback runs through the same routing.
    public var backend: Backend {
        switch self {
        case .replaceFirewallTable, .deleteFirewallTable: .nftables
        case .setSysctl: .sysctl
        case .writeNamespaceFile, .deleteNamespaceFile: .files
        case .claimStoreKey, .putStoreKey, .deleteStoreKey, .collectStoreKey, .storeTransaction: .store
        default: .netlink
        }
    }

    /// The kernel interfaces (and later the cluster store) operations go through.
    public enum Backend: Sendable, Hashable {
        case netlink
        case nftables
        /// `/proc/sys` of the namespace.
        case sysctl
        /// The cluster store (etcd, or the embedded store).
        case store
        /// The host's file system (`/etc/netns`).
        case files
    }
}

/// The global sysctls netform may set: IP forwarding, which every container
/// network that reaches beyond its bridge needs (Docker sets it too).
public enum HostSysctl {
    public static let ipv4Forwarding = "net.ipv4.ip_forward"
    public static let ipv6Forwarding = "net.ipv6.conf.all.forwarding"
    public static let managed = [ipv4Forwarding, ipv6Forwarding]

    /// A bridge's `route_localnet`: lets the host reach a published port on
    /// 127.0.0.1 (the connection is DNAT'ed out of the bridge with a loopback
    /// source, which the kernel otherwise drops as a martian). It belongs to the
    /// bridge and goes with it. Written with slashes: interface names may hold dots.
    public static func routeLocalnet(_ bridge: String) -> String { "net/ipv4/conf/\(bridge)/route_localnet" }

    /// The bridge a per-bridge key is about, if it is one.
    public static func bridge(of key: String) -> String? {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "net", parts[2] == "conf" else { return nil }
        return String(parts[3])
    }

    /// `/proc/sys/` + the key: dotted keys with dots as slashes, slashed keys as they are.
    public static func path(_ key: String) -> String {
        "/proc/sys/" + (key.contains("/") ? key : key.split(separator: ".").joined(separator: "/"))
    }
}

/// Link attributes to change in place; nil fields are left alone.
public struct LinkChangeSet: Sendable, Equatable, Codable {
    public var mtu: Int?
    public var isUp: Bool?
    public var mac: MACAddress?
    /// `.some(nil)` detaches from the bridge.
    public var master: String??
    public var alias: String?
    public var isolated: Bool?
    /// Bridges: `nf_call_iptables` and `nf_call_ip6tables` of the bridge.
    public var bridgeNetfilter: Bool?
    /// The interface group (`IFLA_GROUP`): the project's, set back on one of its links
    /// that carries another (changed by hand, or left by a destroy that was killed).
    public var group: UInt32?

    public init(mtu: Int? = nil, isUp: Bool? = nil, mac: MACAddress? = nil, master: String?? = nil,
                alias: String? = nil, isolated: Bool? = nil, bridgeNetfilter: Bool? = nil, group: UInt32? = nil) {
        self.mtu = mtu
        self.isUp = isUp
        self.mac = mac
        self.master = master
        self.alias = alias
        self.isolated = isolated
        self.bridgeNetfilter = bridgeNetfilter
        self.group = group
    }

    public var isEmpty: Bool { self == LinkChangeSet() }
}
