import Addressing
import Model
import Spec

/// One network as `docker network inspect` shows it, built from the live host.
///
/// Why it exists: people who know Docker ask "which networks are there, which
/// containers are on them, with which addresses" — `netform network ls` and
/// `netform network inspect` answer in Docker's shape, from the kernel (the only
/// source of truth), so a drifted host shows what it really is.
public struct NetworkRecord: Sendable, Equatable {
    /// The owning project; nil for the built-in `host` and `none`.
    public var project: String?
    /// The network's name inside its project (`bridge`, `aislada`).
    public var network: String
    /// The name shown: `network`, or `PROJECT/NETWORK` when several projects on the
    /// host have a network of that name.
    public var name: String
    /// 64 lowercase hex digits, deterministic from project and network.
    public var id: String
    /// `local`; `global` for overlays.
    public var scope: String
    /// `bridge`, `overlay`, `macvlan`; `host` and `null` for the built-ins.
    public var driver: String
    public var enableIPv6: Bool
    public var ipam: [IPAMConfig]
    public var isInternal: Bool
    /// Sorted by container id (Docker prints a map, whose keys Go sorts).
    public var containers: [ContainerEntry]
    public var options: [String: String]
    public var labels: [String: String]
    /// Overlays only: Docker's `Peers`, the hosts the network spans (this one and
    /// each host with an endpoint on it), by name with their underlay address.
    public var peers: [Peer]?

    /// One entry of `Peers`.
    public struct Peer: Sendable, Equatable {
        /// The host's name in the cluster store (its address when the store was not read).
        public var name: String
        public var ip: String
    }

    public var isBuiltIn: Bool { project == nil }
    /// The first 12 hex digits, as `docker network ls` prints them.
    public var shortID: String { String(id.prefix(12)) }

    /// One `IPAM.Config` entry.
    public struct IPAMConfig: Sendable, Equatable {
        public var subnet: String
        /// Only when it is narrower than the subnet (known from a spec only).
        public var ipRange: String?
        public var gateway: String?
        /// Reserved addresses by name (known from a spec only).
        public var auxiliaryAddresses: [String: String]

        public init(subnet: String, ipRange: String? = nil, gateway: String?, auxiliaryAddresses: [String: String] = [:]) {
            self.subnet = subnet
            self.ipRange = ipRange
            self.gateway = gateway
            self.auxiliaryAddresses = auxiliaryAddresses
        }
    }

    /// One entry of `Containers`.
    public struct ContainerEntry: Sendable, Equatable {
        /// 64 hex digits, deterministic from project and container.
        public var id: String
        public var name: String
        /// 64 hex digits, deterministic from project, container and network.
        public var endpointID: String
        /// "" when unknown (host and none networks, a missing container end).
        public var macAddress: String
        /// `ADDRESS/PREFIX`, or "".
        public var ipv4Address: String
        public var ipv6Address: String
    }

    /// The default bridge (Docker's `bridge`): its `IPAM.Options` is null, a
    /// user-defined network's `{}`, as in Docker 20.10.
    public var isDefaultBridge: Bool { options["com.docker.network.bridge.default_bridge"] == "true" }

    /// The `docker network inspect` object, keys in Docker 20.10's order: Name, Id,
    /// Scope, Driver, EnableIPv6, IPAM, Internal, Attachable, Ingress, ConfigFrom,
    /// ConfigOnly, Containers, Options, Labels (`Created` is left out: the kernel does
    /// not record when a bridge was made, and netform keeps no state beside it).
    public var document: OrderedJSON {
        typealias M = OrderedJSON.Member
        let config: [OrderedJSON] = ipam.map { c in
            var m = [M("Subnet", .string(c.subnet))]
            if let r = c.ipRange { m.append(M("IPRange", .string(r))) }
            if let g = c.gateway { m.append(M("Gateway", .string(g))) }
            if !c.auxiliaryAddresses.isEmpty { m.append(M("AuxiliaryAddresses", .sortedObject(c.auxiliaryAddresses))) }
            return .object(m)
        }
        let ctrs: [M] = containers.map { c in
            M(c.id, .object([
                M("Name", .string(c.name)),
                M("EndpointID", .string(c.endpointID)),
                M("MacAddress", .string(c.macAddress)),
                M("IPv4Address", .string(c.ipv4Address)),
                M("IPv6Address", .string(c.ipv6Address)),
            ]))
        }
        return .object([
            M("Name", .string(name)),
            M("Id", .string(id)),
            M("Scope", .string(scope)),
            M("Driver", .string(driver)),
            M("EnableIPv6", .bool(enableIPv6)),
            M("IPAM", .object([M("Driver", .string("default")), M("Options", isDefaultBridge || isBuiltIn ? .null : .object([])),
                               M("Config", .array(config))])),
            M("Internal", .bool(isInternal)),
            M("Attachable", .bool(false)),
            M("Ingress", .bool(false)),
            M("ConfigFrom", .object([M("Network", .string(""))])),
            M("ConfigOnly", .bool(false)),
            M("Containers", .object(ctrs)),
            M("Options", .sortedObject(options)),
            M("Labels", .sortedObject(labels)),
        ] + (peers.map { [M("Peers", .array($0.map { .object([M("Name", .string($0.name)), M("IP", .string($0.ip))]) }))] } ?? []))
    }

    /// One line of `docker network ls --format json`: Driver, ID (12 digits unless
    /// `noTrunc`), IPv6, Internal, Labels (`k=v,…`), Name, Scope — all strings, keys
    /// sorted, as Docker prints them (`CreatedAt` is left out).
    public func listDocument(noTrunc: Bool = false) -> OrderedJSON {
        typealias M = OrderedJSON.Member
        return .object([
            M("Driver", .string(driver)),
            M("ID", .string(noTrunc ? id : shortID)),
            M("IPv6", .string(String(enableIPv6))),
            M("Internal", .string(String(isInternal))),
            M("Labels", .string(labels.keys.sorted().map { "\($0)=\(labels[$0]!)" }.joined(separator: ","))),
            M("Name", .string(name)),
            M("Scope", .string(scope)),
        ])
    }
}

/// Why `network inspect NAME` found no single network.
public enum NetworkLookupError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(String)
    /// The query, and the names of the networks it matches.
    case ambiguous(String, [String])

    public var description: String {
        switch self {
        case .notFound(let q): "No such network: \(q)"
        case .ambiguous(let q, let names):
            "network '\(q)' is ambiguous: it matches \(names.joined(separator: ", ")); use PROJECT/NAME or a longer ID"
        }
    }
}

/// The networks netform owns on a host, in Docker's `network ls` / `network inspect`
/// shape. Pure functions over an observed `HostState` (and optionally the spec), so
/// they are tested without root.
///
/// What is read from the kernel:
/// - a network is a bridge in the host namespace whose alias is `netform:PROJECT/net/NAME`;
///   it is an overlay when a VXLAN device carries the same mark (`Scope` `global`,
///   option `com.docker.network.driver.overlay.vxlanid_list`);
/// - `IPAM.Config`: one entry per address on the bridge — Subnet is its network,
///   Gateway the address itself; `EnableIPv6`: the bridge has an IPv6 address;
/// - `Containers`: every veth end marked `netform:PROJECT/ep/CONTAINER/NAME` (host end,
///   or container end in any namespace); MacAddress and the first IPv4/IPv6 address
///   come from the container end (the link with the same mark in the container's
///   namespace), "" when that end is missing;
/// - `Options`: `com.docker.network.bridge.name` (the device), `…driver.mtu` (its MTU),
///   `…bridge.enable_icc` ("false" when any of the bridge's veth ports is `isolated`;
///   with no ports, the spec's `icc`, default "true"); `…bridge.default_bridge`
///   "true" only on a network named `bridge`;
/// - a macvlan network has no bridge: it is found from container links of kind
///   macvlan marked `ep/CONTAINER/NAME` (Options `parent`, `macvlan_mode`; IPAM from
///   the containers' subnets and default routes), or from the spec.
///
/// What the kernel does not hold comes from the spec when one is given (only for
/// networks of the spec's project), otherwise from the defaults: `Internal` (false),
/// `…enable_ip_masquerade` ("true"), `…host_binding_ipv4` ("0.0.0.0"), `Labels` ({}),
/// `IPRange`/`AuxiliaryAddresses`, and macvlan networks without containers.
///
/// The built-in `host` (Driver `host`) and `none` (Driver `null`) are always listed.
/// `none`'s Containers are the namespaces netform created (`lo` marked
/// `ctr/CONTAINER`) that hold no endpoint (with a spec, for its project: only the
/// containers the spec puts on `none`); `host`'s are the spec's `networks: [host]`
/// containers placed on this host (the kernel marks nothing for them).
///
/// Names: a network shows as `NAME`, or as `PROJECT/NAME` when networks of that name
/// exist in several projects on the host. Ids are 64 hex digits derived from project
/// and name (stable across runs and hosts), likewise container and endpoint ids.
public enum NetworkInventory {
    /// Every network on the host, sorted by name (as `docker network ls` sorts).
    /// - Parameters:
    ///   - spec: supplies what the kernel does not hold, for networks of its project.
    ///   - project: only this project's networks (and the built-ins).
    ///   - localHost: this host's name, for the spec's `host:` placement of `host`
    ///     containers (nil: containers without a placement only).
    public static func records(of state: HostState, spec: Spec? = nil, project: String? = nil,
                               localHost: String? = nil) -> [NetworkRecord] {
        var builder = Builder(state: state, spec: spec, project: project, localHost: localHost)
        return builder.build()
    }

    /// Finds one network by name, `PROJECT/NAME`, id, or a unique id prefix. A bare
    /// name shared by several projects resolves to `preferring`'s network (the
    /// spec's project), else it is ambiguous.
    public static func lookup(_ query: String, in records: [NetworkRecord],
                              preferring project: String? = nil) -> Result<NetworkRecord, NetworkLookupError> {
        if let r = records.first(where: { $0.name == query || $0.id == query }) { return .success(r) }
        if let r = records.first(where: { r in r.project.map { "\($0)/\(r.network)" } == query }) { return .success(r) }
        let byName = records.filter { $0.network == query }
        if byName.count == 1 { return .success(byName[0]) }
        if byName.count > 1 {
            if let project, let r = byName.first(where: { $0.project == project }) { return .success(r) }
            return .failure(.ambiguous(query, byName.map(\.name)))
        }
        let isHex = !query.isEmpty && query.unicodeScalars.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
        if isHex {
            let byID = records.filter { $0.id.hasPrefix(query) }
            if byID.count == 1 { return .success(byID[0]) }
            if byID.count > 1 { return .failure(.ambiguous(query, byID.map(\.name))) }
        }
        return .failure(.notFound(query))
    }

    /// `docker network ls`'s table: NETWORK ID, NAME, DRIVER, SCOPE, laid out as Go's
    /// tabwriter does it for Docker (columns at least 10 wide, 3 spaces of padding).
    public static func table(_ records: [NetworkRecord], noTrunc: Bool = false) -> String {
        let rows = [["NETWORK ID", "NAME", "DRIVER", "SCOPE"]]
            + records.map { [noTrunc ? $0.id : $0.shortID, $0.name, $0.driver, $0.scope] }
        var widths = [Int](repeating: 0, count: 4)
        for row in rows {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], max(10, cell.count + 3)) }
        }
        var out = ""
        for row in rows {
            for (i, cell) in row.enumerated() {
                out += cell
                if i < row.count - 1 { out += String(repeating: " ", count: widths[i] - cell.count) }
            }
            out += "\n"
        }
        return out
    }

    /// Why a `network ls --filter` cannot be used.
    public struct FilterError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// `docker network ls --filter KEY=VALUE`: `name` (a substring of the name),
    /// `id` (a prefix of the id), `driver`, `scope`, `type` (`builtin` or `custom`),
    /// `label` (`KEY` or `KEY=VALUE`). Values of one key are alternatives; keys must
    /// all match — Docker's rules.
    public static func filter(_ records: [NetworkRecord], _ filters: [String]) throws(FilterError) -> [NetworkRecord] {
        var wanted: [String: [String]] = [:]
        let known = ["name", "id", "driver", "scope", "type", "label"]
        for f in filters {
            guard let eq = f.firstIndex(of: "="), case let key = String(f[..<eq]).lowercased(), known.contains(key) else {
                throw FilterError(description: "invalid filter '\(f)': give KEY=VALUE with KEY one of \(known.joined(separator: ", "))")
            }
            let value = String(f[f.index(after: eq)...])
            if key == "type", !["builtin", "custom"].contains(value) {
                throw FilterError(description: "invalid filter 'type=\(value)': type is builtin or custom")
            }
            wanted[key, default: []].append(value)
        }
        func matches(_ r: NetworkRecord, _ key: String, _ value: String) -> Bool {
            switch key {
            case "name": value.isEmpty || r.name.contains(value)
            case "id": r.id.hasPrefix(value.lowercased())
            case "driver": r.driver == value
            case "scope": r.scope == value
            case "type": (value == "builtin") == r.isBuiltIn
            default:
                if let eq = value.firstIndex(of: "=") { r.labels[String(value[..<eq])] == String(value[value.index(after: eq)...]) }
                else { r.labels[value] != nil }
            }
        }
        return records.filter { r in wanted.allSatisfy { key, values in values.contains { matches(r, key, $0) } } }
    }

    /// Namespaces a spec adopts by path or pid, which `Observer.observe(extra:)` does
    /// not find under /run/netns by itself.
    public static func extraNamespaces(for spec: Spec) -> [NamespaceRef] {
        spec.containers.compactMap { c in
            switch c.netns {
            case .path(let p)?: .path(p)
            case .pid(let pid)?: .path("/proc/\(pid)/ns/net")
            case .name, nil: nil
            }
        }
    }

    /// 64 hex digits from a string: four FNV-1a-64 rounds with different seeds, each
    /// finished with a 64-bit mixer so every input byte reaches every output digit.
    public static func hexID(_ s: String) -> String {
        var out = ""
        for round in 0..<4 {
            var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ (UInt64(round + 1) &* 0x9e37_79b9_7f4a_7c15)
            for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            h ^= h >> 33
            h = h &* 0xff51_afd7_ed55_8ccd
            h ^= h >> 33
            h = h &* 0xc4ce_b9fe_1a85_ec53
            h ^= h >> 33
            let digits = String(h, radix: 16)
            out += String(repeating: "0", count: 16 - digits.count) + digits
        }
        return out
    }

    public static func networkID(project: String?, network: String) -> String {
        hexID(project.map { "network:\($0)/\(network)" } ?? "network:\(network)")
    }

    public static func containerID(project: String, container: String) -> String {
        hexID("container:\(project)/\(container)")
    }

    public static func endpointID(project: String, container: String, network: String) -> String {
        hexID("endpoint:\(project)/\(container)/\(network)")
    }
}

// MARK: - Building

private struct NetworkKey: Hashable, Comparable {
    var project: String
    var network: String
    static func < (a: NetworkKey, b: NetworkKey) -> Bool { (a.project, a.network) < (b.project, b.network) }
}

private struct EndpointKey: Hashable {
    var project: String
    var container: String
    var network: String
}

/// `ep/CONTAINER/NETWORK` → (container, network).
private func endpointPath(_ path: String) -> (container: String, network: String)? {
    let parts = path.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 3, parts[0] == "ep", !parts[1].isEmpty, !parts[2].isEmpty else { return nil }
    return (String(parts[1]), String(parts[2]))
}

private struct Builder {
    let state: HostState
    let spec: Spec?
    let project: String?
    let localHost: String?
    let host: NamespaceState

    /// Container ends of endpoints: the namespace and the link carrying the mark.
    var inner: [EndpointKey: (ns: NamespaceState, link: LinkState)] = [:]
    /// Host ends of endpoints, by network.
    var hostEnds: [NetworkKey: [(container: String, link: LinkState)]] = [:]
    /// Containers with a container end on a network.
    var innerByNetwork: [NetworkKey: Set<String>] = [:]
    var bridges: [NetworkKey: LinkState] = [:]
    var vxlans: [NetworkKey: LinkState] = [:]

    init(state: HostState, spec: Spec?, project: String?, localHost: String?) {
        self.state = state
        self.spec = spec
        self.project = project
        self.localHost = localHost
        host = state[.host] ?? NamespaceState(ref: .host)
    }

    func wanted(_ p: String) -> Bool { project == nil || project == p }

    /// The spec's declaration of a network, when the spec is of that network's project.
    func declared(_ key: NetworkKey) -> NetworkSpec? {
        guard let spec, spec.project == key.project else { return nil }
        return spec.network(named: key.network)
    }

    mutating func build() -> [NetworkRecord] {
        index()
        var records: [NetworkRecord] = []
        for key in bridges.keys.sorted() {
            records.append(bridgeRecord(key, bridge: bridges[key]!))
        }
        var macvlans = Set<NetworkKey>()
        for (k, v) in inner where wanted(k.project) {
            if case .macvlan = v.link.kind {
                let key = NetworkKey(project: k.project, network: k.network)
                if bridges[key] == nil { macvlans.insert(key) }
            }
        }
        if let spec, wanted(spec.project) {
            for n in spec.networks where n.driver == .macvlan {
                let key = NetworkKey(project: spec.project, network: n.name)
                if bridges[key] == nil { macvlans.insert(key) }
            }
        }
        for key in macvlans.sorted() { records.append(macvlanRecord(key)) }
        records.append(builtIn("host", driver: "host", containers: hostContainers()))
        records.append(builtIn("none", driver: "null", containers: noneContainers()))

        // Qualify names that several projects use (built-ins keep theirs).
        var counts: [String: Int] = [:]
        for r in records { counts[r.network, default: 0] += 1 }
        for i in records.indices where !records[i].isBuiltIn && counts[records[i].network, default: 0] > 1 {
            records[i].name = "\(records[i].project!)/\(records[i].network)"
        }
        return records.sorted { ($0.name, $0.id) < ($1.name, $1.id) }
    }

    mutating func index() {
        for ns in state.sortedNamespaces where ns.ref != .host {
            for l in ns.links {
                guard let m = l.owner, wanted(m.project), let (c, n) = endpointPath(m.path) else { continue }
                let k = EndpointKey(project: m.project, container: c, network: n)
                // Prefer the namespace netform created for that container.
                if inner[k] == nil || ns.owner == OwnerMark.container(m.project, c) { inner[k] = (ns, l) }
                innerByNetwork[NetworkKey(project: m.project, network: n), default: []].insert(c)
            }
        }
        for l in host.links {
            guard let m = l.owner, wanted(m.project) else { continue }
            if m.path.hasPrefix("net/") {
                let key = NetworkKey(project: m.project, network: String(m.path.dropFirst(4)))
                switch l.kind {
                case .bridge: if bridges[key] == nil { bridges[key] = l }
                case .vxlan: if vxlans[key] == nil { vxlans[key] = l }
                default: break
                }
            } else if let (c, n) = endpointPath(m.path) {
                hostEnds[NetworkKey(project: m.project, network: n), default: []].append((c, l))
            }
        }
    }

    func containers(_ key: NetworkKey) -> [NetworkRecord.ContainerEntry] {
        var names = innerByNetwork[key] ?? []
        for e in hostEnds[key] ?? [] { names.insert(e.container) }
        return names.map { c in
            var entry = NetworkRecord.ContainerEntry(
                id: NetworkInventory.containerID(project: key.project, container: c), name: c,
                endpointID: NetworkInventory.endpointID(project: key.project, container: c, network: key.network),
                macAddress: "", ipv4Address: "", ipv6Address: "")
            if let end = inner[EndpointKey(project: key.project, container: c, network: key.network)] {
                entry.macAddress = end.link.mac?.description ?? ""
                let addresses = NetworkInventory.netforms(end.ns.addresses.filter { $0.link == end.link.name })
                func text(_ f: IPFamily) -> String {
                    addresses.first { $0.address.family == f }.map { "\($0.address)/\($0.prefixLength)" } ?? ""
                }
                entry.ipv4Address = text(.v4)
                entry.ipv6Address = text(.v6)
            }
            return entry
        }.sorted { $0.id < $1.id }
    }

    func bridgeRecord(_ key: NetworkKey, bridge: LinkState) -> NetworkRecord {
        let decl = declared(key)
        let vxlan = vxlans[key]
        let addresses = NetworkInventory.netforms(host.addresses.filter { $0.link == bridge.name })
        let ordered = addresses.filter { $0.address.family == .v4 } + addresses.filter { $0.address.family == .v6 }
        let ipam: [NetworkRecord.IPAMConfig] = ordered.map { a in
            let subnet = a.subnet
            var c = NetworkRecord.IPAMConfig(subnet: subnet?.description ?? "\(a.address)/\(a.prefixLength)",
                                             gateway: a.address.description)
            if let s = decl?.subnets.first(where: { $0.subnet == subnet }) {
                if s.ipRange != s.subnet { c.ipRange = s.ipRange.description }
                c.auxiliaryAddresses = s.auxAddresses.mapValues(\.description)
            }
            return c
        }
        let ports = host.links.filter { l in
            guard l.master == bridge.name, case .veth = l.kind else { return false }
            return true
        }
        let icc = ports.isEmpty ? (decl?.icc ?? true) : !ports.contains { $0.isolated }

        var options: [String: String] = [
            "com.docker.network.bridge.enable_icc": String(icc),
            "com.docker.network.bridge.name": bridge.name,
            "com.docker.network.driver.mtu": String(bridge.mtu),
        ]
        // The kernel's table first; the spec, then Docker's defaults, when it has none.
        let live = LiveFirewall(table: host.firewall.first { $0.belongs(to: key.project) }, device: bridge.name,
                                subnets: ordered.compactMap(\.subnet))
        var driver = "bridge"
        if let vxlan, case .vxlan(let settings) = vxlan.kind {
            driver = "overlay"
            options["com.docker.network.driver.overlay.vxlanid_list"] = String(settings.vni)
        } else {
            if key.network == "bridge" { options["com.docker.network.bridge.default_bridge"] = "true" }
            options["com.docker.network.bridge.enable_ip_masquerade"] = String(live.masquerade ?? decl?.masquerade ?? true)
            options["com.docker.network.bridge.host_binding_ipv4"] = live.hostBinding ?? decl?.hostBindingIPv4.description ?? "0.0.0.0"
        }
        var record = NetworkRecord(
            project: key.project, network: key.network, name: key.network,
            id: NetworkInventory.networkID(project: key.project, network: key.network),
            scope: driver == "overlay" ? "global" : "local", driver: driver,
            enableIPv6: addresses.contains { $0.address.family == .v6 }, ipam: ipam,
            isInternal: live.isInternal ?? decl?.isInternal ?? false, containers: containers(key), options: options,
            labels: decl?.labels ?? [:])
        if let vxlan, case .vxlan(let settings) = vxlan.kind {
            addOtherHosts(key, vxlan: vxlan, local: settings.local, subnets: ordered.compactMap(\.subnet), to: &record)
        }
        return record
    }

    /// An overlay's containers on the other hosts and its `Peers`, from the cluster
    /// store as this host read it (the endpoints of registered hosts); without the
    /// store, the peers are the VTEPs this host's FDB sends to, named by address.
    func addOtherHosts(_ key: NetworkKey, vxlan: LinkState, local: IPAddress?, subnets: [IPNetwork], to record: inout NetworkRecord) {
        var peers: [String: String] = [:]
        var me = localHost ?? ""
        if let local { peers[me] = local.description }
        guard let store = host.clusterStore else {
            for e in host.fdb where e.link == vxlan.name {
                if let d = e.destination, !peers.values.contains(d.description) { peers[d.description] = d.description }
            }
            record.peers = peers.map { NetworkRecord.Peer(name: $0.key, ip: $0.value) }.sorted { $0.name < $1.name }
            return
        }
        func advertise(_ h: String) -> String? {
            store[StoreLayout.host(project: key.project, host: h)].flatMap { try? JSONValue.parse($0) }?["advertise"]?.stringValue
        }
        if advertise(me) == nil, let local {
            // `--host-name` not given: this host is the one registered with its VXLAN address.
            for (k, _) in store.sorted(by: { $0.key < $1.key }) {
                if case .host(let name)? = StoreLayout.parse(k, project: key.project), advertise(name) == local.description {
                    peers[me] = nil
                    me = name
                    break
                }
            }
        }
        if let mine = advertise(me) { peers[me] = mine }
        for (k, v) in store.sorted(by: { $0.key < $1.key }) {
            guard case .endpoint(let net, let container)? = StoreLayout.parse(k, project: key.project), net == key.network,
                  let r = StoreLayout.EndpointRecord(network: net, container: container, value: v), r.host != me,
                  let ip = advertise(r.host) else { continue }
            peers[r.host] = ip
            func text(_ a: IPAddress?) -> String {
                guard let a, let s = subnets.first(where: { $0.contains(a) }) else { return "" }
                return "\(a)/\(s.prefixLength)"
            }
            record.containers.append(NetworkRecord.ContainerEntry(
                id: NetworkInventory.containerID(project: key.project, container: container), name: container,
                endpointID: NetworkInventory.endpointID(project: key.project, container: container, network: net),
                macAddress: r.mac.description, ipv4Address: text(r.ipv4), ipv6Address: text(r.ipv6)))
        }
        record.containers.sort { $0.id < $1.id }
        record.peers = peers.map { NetworkRecord.Peer(name: $0.key, ip: $0.value) }.sorted { $0.name < $1.name }
    }

    func macvlanRecord(_ key: NetworkKey) -> NetworkRecord {
        let decl = declared(key)
        let names = (innerByNetwork[key] ?? []).sorted()
        let ends = names.compactMap { inner[EndpointKey(project: key.project, container: $0, network: key.network)] }
        var ipam: [NetworkRecord.IPAMConfig] = []
        if let decl {
            ipam = decl.subnets.map { s in
                NetworkRecord.IPAMConfig(subnet: s.subnet.description, ipRange: s.ipRange != s.subnet ? s.ipRange.description : nil,
                                         gateway: s.gateway.description, auxiliaryAddresses: s.auxAddresses.mapValues(\.description))
            }
        } else {
            // The containers' subnets, with the gateway of their default routes.
            var seen = Set<IPNetwork>()
            for end in ends {
                for a in end.ns.addresses where a.link == end.link.name {
                    guard let subnet = a.subnet, seen.insert(subnet).inserted else { continue }
                    let gw = end.ns.routes.first { r in
                        r.destination == nil && r.device == end.link.name && r.gateway.map(subnet.contains) == true
                    }?.gateway
                    ipam.append(NetworkRecord.IPAMConfig(subnet: subnet.description, gateway: gw?.description))
                }
            }
            ipam = ipam.filter { IPNetwork($0.subnet)?.family == .v4 } + ipam.filter { IPNetwork($0.subnet)?.family == .v6 }
        }
        var options: [String: String] = [:]
        var parent = decl?.parent
        var mode = decl?.macvlanMode?.rawValue
        for end in ends {
            if case .macvlan(let p, let m) = end.link.kind {
                if parent == nil { parent = p }
                if mode == nil { mode = m }
            }
        }
        if let parent { options["parent"] = parent }
        if let mode { options["macvlan_mode"] = mode }
        return NetworkRecord(
            project: key.project, network: key.network, name: key.network,
            id: NetworkInventory.networkID(project: key.project, network: key.network),
            scope: "local", driver: "macvlan",
            enableIPv6: ipam.contains { IPNetwork($0.subnet)?.family == .v6 }, ipam: ipam,
            isInternal: decl?.isInternal ?? false, containers: containers(key), options: options,
            labels: decl?.labels ?? [:])
    }

    func builtIn(_ name: String, driver: String, containers: [NetworkRecord.ContainerEntry]) -> NetworkRecord {
        NetworkRecord(project: nil, network: name, name: name, id: NetworkInventory.networkID(project: nil, network: name),
                      scope: "local", driver: driver, enableIPv6: false, ipam: [], isInternal: false,
                      containers: containers, options: [:], labels: [:])
    }

    func emptyEntry(project: String, container: String, network: String) -> NetworkRecord.ContainerEntry {
        NetworkRecord.ContainerEntry(id: NetworkInventory.containerID(project: project, container: container), name: container,
                                     endpointID: NetworkInventory.endpointID(project: project, container: container, network: network),
                                     macAddress: "", ipv4Address: "", ipv6Address: "")
    }

    /// The spec's `networks: [host]` containers placed on this host.
    func hostContainers() -> [NetworkRecord.ContainerEntry] {
        guard let spec, wanted(spec.project) else { return [] }
        return spec.containers.filter { c in
            c.networking == .host && (c.host == nil || c.host == localHost)
        }.map { emptyEntry(project: spec.project, container: $0.name, network: "host") }
            .sorted { $0.id < $1.id }
    }

    /// Namespaces netform created that hold no endpoint; with a spec, for its project
    /// only the containers it puts on `none` (adopted namespaces included).
    func noneContainers() -> [NetworkRecord.ContainerEntry] {
        var found: [String: NetworkRecord.ContainerEntry] = [:]
        for ns in state.namespaces.values {
            guard let m = ns.owner, wanted(m.project), m.path.hasPrefix("ctr/") else { continue }
            let c = String(m.path.dropFirst(4))
            if let spec, spec.project == m.project {
                guard let decl = spec.container(named: c), decl.networking == .attached([]), decl.netns == nil else { continue }
            } else if ns.links.contains(where: { $0.owner.flatMap { endpointPath($0.path) } != nil }) {
                continue
            }
            let e = emptyEntry(project: m.project, container: c, network: "none")
            found[e.id] = e
        }
        if let spec, wanted(spec.project) {
            for c in spec.containers where c.networking == .attached([]) && (c.host == nil || c.host == localHost) {
                let ref: NamespaceRef? = switch c.netns {
                case .name(let n)?: .named(n)
                case .path(let p)?: .path(p)
                case .pid(let pid)?: .path("/proc/\(pid)/ns/net")
                case nil: nil
                }
                guard let ref, state[ref] != nil else { continue }
                let e = emptyEntry(project: spec.project, container: c.name, network: "none")
                found[e.id] = e
            }
        }
        return found.values.sorted { $0.id < $1.id }
    }
}

/// What the project's live nftables table says about one bridge network: whether it
/// is internal (the `iifname BR oifname != BR drop` rule), masqueraded (a
/// `masquerade` rule for traffic leaving BR's subnets), and the host address its
/// published ports listen on. nil when the kernel has no table to tell (then the
/// spec, or Docker's defaults, answer).
struct LiveFirewall {
    let table: FirewallTable?
    let device: String
    let subnets: [IPNetwork]

    func matchOn(_ rule: FirewallTable.Rule, _ key: String, _ op: String, _ value: String) -> Bool {
        rule.expr.contains { $0["match"].map { m in
            m["left"]?["meta"]?["key"]?.stringValue == key && (m["op"]?.stringValue ?? "==") == op && m["right"]?.stringValue == value
        } ?? false }
    }

    var isInternal: Bool? {
        guard let project = table?.chain("project") else { return nil }
        return project.rules.contains { r in
            matchOn(r, "iifname", "==", device) && matchOn(r, "oifname", "!=", device) && r.expr.contains(["drop": nil])
        }
    }

    var masquerade: Bool? {
        guard let post = table?.chain("postrouting") else { return nil }
        return post.rules.contains { r in matchOn(r, "oifname", "!=", device) && r.expr.contains(["masquerade": nil]) }
    }

    /// The IPv4 address published ports to this network's containers listen on:
    /// `0.0.0.0` for every local address; nil without a published port.
    var hostBinding: String? {
        guard let published = table?.chain("published") else { return nil }
        for r in published.rules {
            guard let dnat = r.expr.first(where: { $0["dnat"] != nil })?["dnat"], dnat["family"]?.stringValue == "ip",
                  let target = dnat["addr"]?.stringValue.flatMap(IPAddress.init), subnets.contains(where: { $0.contains(target) })
            else { continue }
            let daddr = r.expr.compactMap { e -> String? in
                guard let m = e["match"], m["left"]?["payload"]?["field"]?.stringValue == "daddr" else { return nil }
                return m["right"]?.stringValue
            }.first
            return daddr ?? "0.0.0.0"
        }
        return nil
    }
}

extension NetworkInventory {
    /// The addresses of one netform link that are netform's: those with its
    /// `IFA_PROTO` mark, or, when none is marked (a host where netform predates
    /// address marks), all of them. Addresses someone else added by hand on a
    /// container's eth0 or on a bridge are not the network's IPAM nor the container's.
    static func netforms(_ addresses: [AddressState]) -> [AddressState] {
        let marked = addresses.filter(\.isMarked)
        return marked.isEmpty ? addresses : marked
    }
}
