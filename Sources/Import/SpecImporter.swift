import Addressing
import Compile
import Model
import Spec

/// A spec read back from a live host, with what the kernel could not tell.
///
/// Why it exists: a user who lost a project's spec, inherited a host, or wants a
/// spec for what is running (`netform import`, Terraform's `import`) needs the spec
/// that, planned against this host, changes nothing. netform keeps no state file, so
/// everything comes from the kernel and netform's own marks in it: links, addresses
/// and routes, the project's nft table (rules and published ports are read back from
/// its chains and the comments netform writes on every rule), the `/etc/netns`
/// files, and the cluster store's endpoints.
public struct ImportedSpec: Sendable, Equatable {
    public var spec: Spec
    /// What the host does not record (labels no rule uses, `ip_range`, `aux_addresses`,
    /// the cluster section) and what the import had to guess, said plainly.
    public var notes: [String]
}

/// Observed host state → the spec of one project. Pure: no kernel access.
///
/// The result is the smallest spec that compiles to what the host holds: values
/// equal to their defaults are left out (interface names, MACs derived from the
/// address, bridge names, VNIs, MTUs), and an address is written only where a fresh
/// host would not give the container the same one.
public enum SpecImporter {
    /// The projects with objects on this host (links, namespaces, nft tables, files), sorted.
    public static func projects(in observed: HostState) -> [String] {
        var out = Set<String>()
        for ns in observed.namespaces.values {
            // A namespace netform made is under /run/netns (the observer names it so);
            // one reached only by path with a mark is another host's (another sandbox).
            if case .path = ns.ref {} else if let p = ns.owner?.project { out.insert(p) }
            for l in ns.links where isThisHosts(l, in: ns, host: observed[.host]) { if let p = l.owner?.project { out.insert(p) } }
        }
        return out.sorted()
    }

    /// Whether a link is this host's. A namespace reached by path (a process's, a
    /// bind mount) may belong to another host sharing the machine — a network sandbox
    /// whose processes, and so namespaces, are visible here: its links count only when
    /// they hang off this host's namespace (a veth whose peer the observer found in
    /// it; a macvlan whose parent it holds). Named namespaces are this host's own.
    static func isThisHosts(_ link: LinkState, in ns: NamespaceState, host: NamespaceState?) -> Bool {
        guard case .path = ns.ref else { return true }
        switch link.kind {
        case .veth(let peer): return peer?.namespace == .host
        case .macvlan(let parent, _): return host?.link(named: parent) != nil
        default: return false
        }
    }

    /// The spec of `project` as this host holds it.
    /// - Parameter localHost: this host's name; with the cluster store read
    ///   (`clusterStore` of the host namespace), containers are placed (`host:`) and
    ///   other hosts' containers on the project's overlays are written too.
    /// - Parameter cluster: the store settings the host was read with (the command
    ///   line's): written as the spec's `cluster:` section, with the lease TTL this
    ///   host registered with (`kv.ttl`) and without a password.
    public static func importProject(_ project: String, from observed: HostState, localHost: String? = nil,
                                     cluster: ClusterSpec? = nil) -> ImportedSpec {
        var importer = Importer(project: project, observed: observed, localHost: localHost, cluster: cluster)
        return importer.run()
    }
}

/// One container interface netform made, as observed.
struct ObservedEndpoint {
    var container: String
    var network: String
    var namespace: NamespaceRef
    var link: LinkState
    var ipv4: AddressState?
    var ipv6: AddressState?
}

private struct Importer {
    let project: String
    let observed: HostState
    let localHost: String?
    let cluster: ClusterSpec?
    let host: NamespaceState
    /// The project's table, when it has bridges here.
    let table: FirewallTable?
    var notes: [String] = []

    init(project: String, observed: HostState, localHost: String?, cluster: ClusterSpec?) {
        self.project = project
        self.cluster = cluster
        self.observed = observed
        self.localHost = localHost
        host = observed[.host] ?? NamespaceState(ref: .host)
        table = host.firewall.first { $0.family == "inet" && $0.belongs(to: project) }
    }

    /// The project's comments in a chain, each with its rule.
    func rules(in chain: String) -> [FirewallTable.Rule] { table?.chain(chain)?.rules ?? [] }

    mutating func run() -> ImportedSpec {
        var networks = importNetworks()
        let endpoints = observedEndpoints()
        var containers = importContainers(endpoints, networks: &networks)
        let remote = remoteContainers(local: Set(containers.map(\.name)), networks: networks)
        containers += remote
        containers = specOrder(containers)
        importPorts(into: &containers, networks: &networks)
        containers = publishingOrder(containers)
        var rules = importRules()
        inferLabels(rules, containers: &containers, endpoints: endpoints)
        importFiles(into: &containers)
        // Containers rules name that have no interface here (host networking, or on
        // another host when no store was read): written with the host's stack, which
        // gives them no address, so the rules compile as they do now.
        let named = Set(containers.map(\.name))
        var placeholders: [String] = []
        for rule in rules {
            for s in [rule.from, rule.to] {
                if case .container(let c) = s, !named.contains(c), !placeholders.contains(c) { placeholders.append(c) }
            }
        }
        for c in placeholders {
            containers.append(ContainerSpec(name: c, networking: .host))
            notes.append("container '\(c)' is named by a rule but has no interface on this host: written with `networks: [host]`")
        }
        // A rule naming a network this host has no trace of cannot be written.
        let netNames = Set(networks.map(\.name))
        rules.removeAll { rule in
            for s in [rule.from, rule.to] {
                if case .network(let n) = s, !netNames.contains(n) {
                    notes.append("a rule names network '\(n)', which has no trace on this host; the rule is left out")
                    return true
                }
            }
            return false
        }
        // With a store, the spec is the fleet's: every container is placed.
        if localHost != nil, host.clusterStore != nil {
            for i in containers.indices where containers[i].host == nil && containers[i].networking != .host {
                containers[i].host = localHost
            }
        }
        var spec = Spec(project: project, networks: networks, containers: containers, rules: rules)
        spec = minimizeAddresses(spec, endpoints: endpoints)
        spec.cluster = clusterSection()
        notes.append("labels that no rule selects, networks' labels, `ip_range` and `aux_addresses` leave no trace in the kernel and are not imported")
        return ImportedSpec(spec: spec, notes: notes)
    }

    /// The store settings given, with this host's registered lease TTL.
    mutating func clusterSection() -> ClusterSpec? {
        guard var c = cluster, let entries = host.clusterStore else { return nil }
        if c.options.removeValue(forKey: "kv.password") != nil {
            notes.append("cluster.options: kv.password is not written; add it (or pass --cluster-store-opt kv.password=...) where the spec is used")
        }
        if c.options["kv.ttl"] == nil, let localHost,
           let record = entries[StoreLayout.host(project: project, host: localHost)],
           let ttl = StoreLayout.leaseTTL(ofHostRecord: record), ttl != StoreLayout.defaultLeaseTTL {
            c.options["kv.ttl"] = String(ttl)
        }
        return c
    }

    // MARK: networks

    /// The project's bridge and overlay networks (their bridges in the host
    /// namespace), in the order the firewall lists them (the spec's order).
    mutating func importNetworks() -> [NetworkSpec] {
        var byName: [String: NetworkSpec] = [:]
        var order: [String] = []
        for link in host.links {
            guard let mark = link.owner, mark.project == project, mark.path.hasPrefix("net/") else { continue }
            let name = String(mark.path.dropFirst(4))
            switch link.kind {
            case .bridge:
                let subnets: [SubnetSpec] = host.addresses.filter { $0.link == link.name && $0.isMarked }.compactMap { a in
                    guard let net = a.subnet else { return nil }
                    return SubnetSpec(subnet: net, gateway: a.address, ipRange: net)
                }
                var net = byName[name] ?? NetworkSpec(name: name, device: link.name, subnets: [])
                net.device = link.name
                net.subnets = subnets
                net.mtu = link.mtu
                byName[name] = net
                if !order.contains(name) { order.append(name) }
            case .vxlan(let settings):
                var net = byName[name] ?? NetworkSpec(name: name, device: "", subnets: [])
                net.driver = .overlay
                net.vni = settings.vni
                byName[name] = net
                if !order.contains(name) { order.append(name) }
            default:
                continue
            }
        }
        // What the firewall says of each network, in the spec's order.
        var tableOrder: [String] = []
        for rule in rules(in: "project") {
            if let rest = rule.comment.dropPrefix("within network ") {
                let name = String(rest.prefix { $0 != " " })
                if !tableOrder.contains(name) { tableOrder.append(name) }
                if rest.hasSuffix("(icc off)") { byName[name]?.icc = false }
                if rest.hasSuffix("(icc on)") { byName[name]?.icc = true }
            }
            if let rest = rule.comment.dropPrefix("internal network ") {
                let name = String(rest.prefix { $0 != ":" })
                byName[name]?.isInternal = true
            }
        }
        var masqueraded = Set<String>()
        var subnetOrder: [String: [String]] = [:]
        for rule in rules(in: "postrouting") {
            if let rest = rule.comment.dropPrefix("masquerade ") {
                let parts = rest.split(separator: " ")
                if parts.count == 2 {
                    masqueraded.insert(String(parts[0]))
                    subnetOrder[String(parts[0]), default: []].append(String(parts[1]))
                }
            }
        }
        var out: [NetworkSpec] = []
        let ordered = tableOrder.filter { byName[$0] != nil } + order.filter { !tableOrder.contains($0) }
        for name in ordered {
            guard var net = byName[name] else { continue }
            if net.device.isEmpty {
                notes.append("network '\(name)': its VXLAN device is here but not its bridge; left out")
                continue
            }
            if net.driver == .bridge { net.masquerade = !net.isInternal && masqueraded.contains(name) }
            if net.isInternal { net.masquerade = false }
            // Subnets in the spec's order where the masquerade rules show it.
            if let o = subnetOrder[name] {
                net.subnets.sort { (o.firstIndex(of: "\($0.subnet)") ?? Int.max) < (o.firstIndex(of: "\($1.subnet)") ?? Int.max) }
            }
            if net.subnets.isEmpty {
                notes.append("network '\(name)': its bridge holds no address of netform's; written without subnets (invalid: add one)")
            }
            out.append(net)
        }
        return out
    }

    // MARK: containers

    /// Every interface of the project in a container namespace, host first then by
    /// name (the observer's order).
    func observedEndpoints() -> [ObservedEndpoint] {
        var out: [ObservedEndpoint] = []
        for ns in observed.sortedNamespaces where ns.ref != .host {
            for link in ns.links {
                guard let mark = link.owner, mark.project == project, mark.path.hasPrefix("ep/") else { continue }
                if !SpecImporter.isThisHosts(link, in: ns, host: host) { continue }
                let parts = mark.path.dropFirst(3).split(separator: "/", maxSplits: 1)
                guard parts.count == 2 else { continue }
                let own = ns.addresses.filter { $0.link == link.name && $0.isMarked }
                let v4 = own.first { $0.address.family == .v4 }
                let v6 = own.first { a in
                    if case .v6(let v) = a.address { return v.high >> 54 != 0x3fa }  // not fe80::/10
                    return false
                }
                out.append(ObservedEndpoint(container: String(parts[0]), network: String(parts[1]), namespace: ns.ref,
                                            link: link, ipv4: v4, ipv6: v6))
            }
        }
        return out
    }

    mutating func importContainers(_ endpoints: [ObservedEndpoint], networks: inout [NetworkSpec]) -> [ContainerSpec] {
        // Containers: the namespaces netform made for the project (their `lo` mark),
        // then namespaces it adopted (they hold its interfaces).
        var names: [String] = []
        var namespace: [String: NamespaceRef] = [:]
        var adopted: [String: NamespaceRef] = [:]
        for ns in observed.sortedNamespaces where ns.ref != .host {
            if case .path = ns.ref { continue }  // see `projects(in:)`
            guard let mark = ns.owner, mark.project == project, mark.path.hasPrefix("ctr/") else { continue }
            let name = String(mark.path.dropFirst(4))
            if namespace[name] == nil { names.append(name); namespace[name] = ns.ref }
        }
        for ep in endpoints where namespace[ep.container] == nil && adopted[ep.container] == nil {
            names.append(ep.container)
            adopted[ep.container] = ep.namespace
        }
        var out: [ContainerSpec] = []
        for name in names {
            let ref = namespace[name] ?? adopted[name]!
            let mine = endpoints.filter { $0.container == name && $0.namespace == ref }
            var attachments: [(ObservedEndpoint, Attachment)] = []
            for ep in orderedAttachments(mine) {
                if !ensureNetwork(for: ep, networks: &networks) { continue }
                var a = Attachment(network: ep.network, interface: ep.link.name)
                if case .v4(let v)? = ep.ipv4?.address { a.ipv4 = v }
                if case .v6(let v)? = ep.ipv6?.address { a.ipv6 = v }
                let derived = a.ipv4.map(MACAddress.init(derivedFrom:))
                if let mac = ep.link.mac, mac != derived { a.mac = mac }
                attachments.append((ep, a))
            }
            attachments = defaultRouteFirst(attachments, in: ref, networks: networks)
            var c = ContainerSpec(name: name, networking: .attached(attachments.map(\.1)))
            if let a = adopted[name] { c.netns = SpecImporter.reference(a) }
            out.append(c)
        }
        return out
    }

    /// A container's interfaces in the order the spec listed its networks: `ethN` by
    /// N (the default names are the positions), others by creation (link index).
    func orderedAttachments(_ eps: [ObservedEndpoint]) -> [ObservedEndpoint] {
        func ethNumber(_ name: String) -> Int? {
            guard name.hasPrefix("eth") else { return nil }
            return Int(name.dropFirst(3))
        }
        return eps.sorted { a, b in
            let ka = (ethNumber(a.link.name) ?? Int.max, a.link.index ?? 0, a.link.name)
            let kb = (ethNumber(b.link.name) ?? Int.max, b.link.index ?? 0, b.link.name)
            return ka < kb
        }
    }

    /// The compiler gives the default route of each family to the first attachment
    /// that can have it: the one the kernel routes through is moved first.
    func defaultRouteFirst(_ list: [(ObservedEndpoint, Attachment)], in ref: NamespaceRef,
                           networks: [NetworkSpec]) -> [(ObservedEndpoint, Attachment)] {
        guard let ns = observed[ref] else { return list }
        var out = list
        for family in [IPFamily.v6, .v4] {  // v4 last: it wins when they disagree
            guard let route = ns.routes.first(where: { $0.destination == nil && $0.isOwned && $0.family == family }),
                  let at = out.firstIndex(where: { $0.0.link.name == route.device }) else { continue }
            let eligible = out.firstIndex { item in
                guard let net = networks.first(where: { $0.name == item.1.network }) else { return false }
                return !net.isInternal && net.primarySubnet(family) != nil
            }
            if let eligible, eligible != at {
                let item = out.remove(at: at)
                out.insert(item, at: eligible)
            }
        }
        return out
    }

    /// The endpoint's network, made from the interface when it has no bridge here
    /// (macvlan); false when it cannot be.
    mutating func ensureNetwork(for ep: ObservedEndpoint, networks: inout [NetworkSpec]) -> Bool {
        if let i = networks.firstIndex(where: { $0.name == ep.network }) {
            if networks[i].driver == .macvlan { addMacvlanSubnets(ep, to: &networks[i]) }
            return true
        }
        guard case .macvlan(let parent, let mode) = ep.link.kind else {
            notes.append("container '\(ep.container)': its interface \(ep.link.name) is on network '\(ep.network)', whose bridge is gone; left out")
            return false
        }
        var net = NetworkSpec(name: ep.network, driver: .macvlan, device: defaultBridgeName(project: project, network: ep.network),
                              subnets: [], mtu: ep.link.mtu, parent: parent, macvlanMode: MacvlanMode(rawValue: mode) ?? .bridge)
        addMacvlanSubnets(ep, to: &net)
        networks.append(net)
        return true
    }

    /// A macvlan network's subnets are the prefixes of its containers' addresses; the
    /// gateway is the one the container routes through (else the subnet's first address).
    func addMacvlanSubnets(_ ep: ObservedEndpoint, to net: inout NetworkSpec) {
        for a in [ep.ipv4, ep.ipv6].compactMap({ $0 }) {
            guard let subnet = a.subnet, !net.subnets.contains(where: { $0.subnet == subnet }) else { continue }
            let route = observed[ep.namespace]?.routes.first {
                $0.destination == nil && $0.isOwned && $0.family == subnet.family && $0.device == ep.link.name
            }
            let gateway = route?.gateway ?? subnet.address(at: 1)!
            net.subnets.append(SubnetSpec(subnet: subnet, gateway: gateway, ipRange: subnet))
        }
    }

    /// Other hosts' containers on the project's overlays, from the cluster store.
    /// The store does not record interface names: they are taken to be the default
    /// ones, networks in the spec's order.
    mutating func remoteContainers(local: Set<String>, networks: [NetworkSpec]) -> [ContainerSpec] {
        guard let entries = host.clusterStore else { return [] }
        var byContainer: [String: [StoreLayout.EndpointRecord]] = [:]
        for (key, value) in entries {
            guard case .endpoint(let net, let container) = StoreLayout.parse(key, project: project),
                  let r = StoreLayout.EndpointRecord(network: net, container: container, value: value),
                  r.host != localHost, !local.contains(container) else { continue }
            byContainer[container, default: []].append(r)
        }
        var out: [ContainerSpec] = []
        for (name, records) in byContainer.sorted(by: { $0.key < $1.key }) {
            let order = Dictionary(networks.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
            let sorted = records.sorted { (order[$0.network] ?? Int.max, $0.network) < (order[$1.network] ?? Int.max, $1.network) }
            var attachments: [Attachment] = []
            for (i, r) in sorted.enumerated() {
                var a = Attachment(network: r.network, interface: "eth\(i)")
                if case .v4(let v)? = r.ipv4 { a.ipv4 = v }
                if case .v6(let v)? = r.ipv6 { a.ipv6 = v }
                if r.mac != a.ipv4.map(MACAddress.init(derivedFrom:)) { a.mac = r.mac }
                attachments.append(a)
            }
            out.append(ContainerSpec(name: name, networking: .attached(attachments), host: sorted[0].host))
        }
        if !out.isEmpty {
            notes.append("containers of other hosts (\(out.map(\.name).joined(separator: ", "))) are written from the cluster store: their overlay networks only, with default interface names")
        }
        return out
    }

    /// The spec's container order is not recorded; dynamic addresses are handed out in
    /// it, so containers are put in the order of their first address (then by name):
    /// a fresh host then gives most of them the address they have, which stays unwritten.
    func specOrder(_ containers: [ContainerSpec]) -> [ContainerSpec] {
        func key(_ c: ContainerSpec) -> (Int, IPAddress?) {
            guard let a = c.attachments.first else { return (1, nil) }
            if let v = a.ipv4 { return (0, .v4(v)) }
            if let v = a.ipv6 { return (0, .v6(v)) }
            return (1, nil)
        }
        return containers.enumerated().sorted { x, y in
            let (a, b) = (key(x.element), key(y.element))
            if a.0 != b.0 { return a.0 < b.0 }
            if let l = a.1, let r = b.1, l != r { return l < r }
            return x.offset < y.offset
        }.map(\.element)
    }

    /// Published ports are forwarded in the spec's container order: the containers
    /// that publish take their places in the order the `published` chain lists them.
    func publishingOrder(_ containers: [ContainerSpec]) -> [ContainerSpec] {
        var order: [String] = []
        for rule in rules(in: "published") {
            guard let rest = rule.comment.dropPrefix("published "), let arrow = rest.firstRange(of: " -> "),
                  let name = rest[arrow.upperBound...].split(separator: " ").first.map(String.init), !order.contains(name) else { continue }
            order.append(name)
        }
        let slots = containers.indices.filter { !containers[$0].ports.isEmpty }
        let publishing = containers.filter { !$0.ports.isEmpty }
            .sorted { (order.firstIndex(of: $0.name) ?? Int.max) < (order.firstIndex(of: $1.name) ?? Int.max) }
        var out = containers
        for (slot, c) in zip(slots, publishing) { out[slot] = c }
        return out
    }

    // MARK: ports

    /// Published ports, from the `published` chain: `published PORT -> CONTAINER ADDRESS`.
    /// A port without a host IP takes its network's `host_binding_ipv4`, which the
    /// rule's destination shows.
    mutating func importPorts(into containers: inout [ContainerSpec], networks: inout [NetworkSpec]) {
        for rule in rules(in: "published") {
            guard let rest = rule.comment.dropPrefix("published "),
                  let arrow = rest.firstRange(of: " -> ") else { continue }
            let text = String(rest[..<arrow.lowerBound])
            let target = rest[arrow.upperBound...].split(separator: " ")
            guard target.count == 2, case .success(let port) = parsePublishedPort(text),
                  let i = containers.firstIndex(where: { $0.name == String(target[0]) }) else {
                notes.append("published port rule '\(rule.comment)' could not be read back; left out")
                continue
            }
            containers[i].ports.append(port)
            guard port.hostIP == nil else { continue }
            // The network whose host_binding_ipv4 applies: the container's first
            // non-internal bridge network.
            let nets = networks
            guard let net = containers[i].attachments.compactMap({ a in nets.firstIndex { $0.name == a.network } })
                .first(where: { nets[$0].driver == .bridge && !nets[$0].isInternal }) else { continue }
            let daddr = rule.expr.lazy.compactMap { e -> IPv4Address? in
                guard let m = e["match"], m["left"]?["payload"]?["field"]?.stringValue == "daddr",
                      let s = m["right"]?.stringValue else { return nil }
                return IPv4Address(s)
            }.first
            networks[net].hostBindingIPv4 = daddr ?? IPv4Address(0)
        }
    }

    // MARK: rules

    /// The spec's rules, from the comments netform writes on each of their nft rules
    /// (`rule N: allow FROM -> TO ports … protocols …`), in order.
    mutating func importRules() -> [RuleSpec] {
        var seen = Set<Int>()
        var out: [(Int, RuleSpec)] = []
        for rule in rules(in: "project") {
            guard let rest = rule.comment.dropPrefix("rule "), let colon = rest.firstIndex(of: ":"),
                  let number = Int(rest[..<colon]), !seen.contains(number) else { continue }
            seen.insert(number)
            if let parsed = parseRule(String(rest[rest.index(after: colon)...])) {
                out.append((number, parsed))
            } else {
                notes.append("rule \(number) could not be read back from its comment ('\(rule.comment)'; nft keeps 127 bytes of it); left out")
            }
        }
        if let last = out.map(\.0).max(), last > out.count {
            notes.append("\(last - out.count) of the spec's rules match no address here and leave no trace; they are not imported")
        }
        return out.sorted { $0.0 < $1.0 }.map(\.1)
    }

    func parseRule(_ text: String) -> RuleSpec? {
        let words = text.split(separator: " ").map(String.init)
        guard words.count >= 4, let action = RuleSpec.Action(rawValue: words[0]), words[2] == "->",
              case .success(let from) = parseSelector(words[1]), case .success(let to) = parseSelector(words[3]) else { return nil }
        var rule = RuleSpec(action: action, from: from, to: to)
        var i = 4
        while i + 1 < words.count {
            let items = words[i + 1].split(separator: ",").map(String.init)
            switch words[i] {
            case "ports":
                for p in items {
                    guard case .success(let r) = parsePortRange(p) else { return nil }
                    rule.ports.append(r)
                }
            case "protocols":
                for p in items {
                    guard let r = RuleProtocol(rawValue: p) else { return nil }
                    rule.protocols.append(r)
                }
            default: return nil
            }
            i += 2
        }
        return i == words.count ? rule : nil
    }

    /// Labels that rules select: the containers whose addresses a label selector's
    /// nft rules match carry the label.
    func inferLabels(_ rules: [RuleSpec], containers: inout [ContainerSpec], endpoints: [ObservedEndpoint]) {
        var owner: [IPAddress: String] = [:]
        for ep in endpoints {
            if let a = ep.ipv4 { owner[a.address] = ep.container }
            if let a = ep.ipv6 { owner[a.address] = ep.container }
        }
        for c in containers where c.host != nil {
            for a in c.attachments {
                if let v = a.ipv4 { owner[.v4(v)] = c.name }
                if let v = a.ipv6 { owner[.v6(v)] = c.name }
            }
        }
        let nftRules = self.rules(in: "project")
        for rule in rules {
            for (selector, field) in [(rule.from, "saddr"), (rule.to, "daddr")] {
                guard case .label(let key, let value) = selector else { continue }
                for n in nftRules where n.comment.hasPrefix("rule ") && ruleComment(n.comment, matches: rule) {
                    for e in n.expr {
                        guard let m = e["match"], m["left"]?["payload"]?["field"]?.stringValue == field, let right = m["right"] else { continue }
                        for address in addresses(in: right) {
                            guard let c = owner[address], let j = containers.firstIndex(where: { $0.name == c }) else { continue }
                            containers[j].labels[key] = value
                        }
                    }
                }
            }
        }
    }

    /// Whether an nft rule's comment is the one `rule` compiles to (its text after the number).
    func ruleComment(_ comment: String, matches rule: RuleSpec) -> Bool {
        guard let colon = comment.firstIndex(of: ":") else { return false }
        let text = comment[comment.index(after: colon)...]
        return parseRule(String(text)) == rule
    }

    func addresses(in value: JSONValue) -> [IPAddress] {
        switch value {
        case .string(let s): return IPAddress(s).map { [$0] } ?? []
        case .array(let items): return items.flatMap(addresses(in:))
        case .object(let m):
            if m["prefix"] != nil { return [] }  // a subnet: a network selector
            return m.values.flatMap(addresses(in:))
        default: return []
        }
    }

    // MARK: files

    /// `extra_hosts` and resolver settings, from the files netform wrote.
    mutating func importFiles(into containers: inout [ContainerSpec]) {
        let files = Dictionary(host.netnsFiles.filter { $0.project == project }.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let base = Compiler.containerResolver(project: project, host: host.hostResolver)
        for i in containers.indices {
            // Namespaces netform made here: adopted ones and other hosts' have no files.
            guard containers[i].netns == nil, containers[i].networking != .host,
                  containers[i].host == nil || containers[i].host == localHost else { continue }
            let ns = Naming.namespace(project: project, container: containers[i].name)
            if let hosts = files["\(ns)/hosts"], let extra = hosts.content.firstRange(of: "# extra_hosts\n") {
                for line in hosts.content[extra.upperBound...].split(separator: "\n") {
                    let f = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
                    if f.count == 2, let a = IPAddress(f[0]) {
                        containers[i].extraHosts.append(ContainerSpec.ExtraHost(name: String(f[1]), address: a))
                    }
                }
            }
            guard let resolv = files["\(ns)/resolv.conf"], resolv.content != base else { continue }
            let have = ResolverParts(resolv.content), want = ResolverParts(base)
            var dns = ContainerSpec.DNSSettings()
            if have.servers != want.servers { dns.nameservers = have.servers.compactMap { IPAddress($0) } }
            if have.search != want.search { dns.search = have.search }
            if have.options != want.options { dns.options = have.options }
            containers[i].dns = dns
            if Compiler.containerResolver(project: project, host: host.hostResolver, dns: dns) != resolv.content {
                notes.append("container '\(containers[i].name)': its resolv.conf is not one netform writes (edited by hand?); `plan` will rewrite it")
            }
        }
    }

    /// Nameservers, search domains and options of a `resolv.conf`.
    struct ResolverParts {
        var servers: [String] = []
        var search: [String] = []
        var options: [String] = []
        init(_ text: String) {
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
                guard let key = f.first else { continue }
                switch key {
                case "nameserver": servers += f.dropFirst()
                case "search", "domain": search += f.dropFirst()
                case "options": options += f.dropFirst()
                default: break
                }
            }
        }
    }

    // MARK: addresses

    /// Leaves out each address a fresh host would give the container anyway.
    ///
    /// The compiler reserves written addresses first, then hands each other container
    /// (in spec order, attachments in order, IPv4 then IPv6) the lowest free address of
    /// its network's primary subnet. Walking the containers in that order, an address
    /// is left dynamic exactly when it is the lowest one free at that point, counting
    /// the addresses written so far: a later written address cannot be below it (that
    /// address would have been free, and lower). The result is compiled against an
    /// empty host to confirm it; should it differ, every address is written.
    func minimizeAddresses(_ spec: Spec, endpoints: [ObservedEndpoint]) -> Spec {
        var candidate = spec
        let networks = Dictionary(spec.networks.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        // Per "network/family": addresses written so far, addresses handed out so far,
        // and the lowest offset that may still be free.
        var used: [String: Set<IPAddress>] = [:]
        var next: [String: UInt128] = [:]
        func lowestFree(_ key: String, _ sub: SubnetSpec) -> IPAddress? {
            var offset = next[key] ?? 0
            while let address = sub.ipRange.address(at: offset) {
                let reserved = address == sub.subnet.network || address == sub.gateway
                    || (sub.subnet.family == .v4 && address == sub.subnet.last)
                if !reserved && used[key]?.contains(address) != true {
                    next[key] = offset
                    return address
                }
                offset += 1
            }
            return nil
        }
        for i in candidate.containers.indices where candidate.containers[i].host == nil || candidate.containers[i].host == localHost {
            guard case .attached(var list) = candidate.containers[i].networking else { continue }
            for j in list.indices {
                guard let net = networks[list[j].network] else { continue }
                for family in IPFamily.allCases {
                    guard let sub = net.primarySubnet(family),
                          let live = family == .v4 ? list[j].ipv4.map(IPAddress.v4) : list[j].ipv6.map(IPAddress.v6) else { continue }
                    let key = "\(net.name)/\(family.rawValue)"
                    if lowestFree(key, sub) == live {
                        if family == .v4 { list[j].ipv4 = nil } else { list[j].ipv6 = nil }
                    }
                    used[key, default: []].insert(live)
                }
            }
            candidate.containers[i].networking = .attached(list)
        }
        // Confirm: a fresh host gives every container the address it has here.
        var live: [String: (IPv4Address?, IPv6Address?)] = [:]
        for c in spec.containers { for a in c.attachments { live["\(c.name)/\(a.network)"] = (a.ipv4, a.ipv6) } }
        guard let compiled = try? Compiler.compile(candidate, observed: HostState(), localHost: localHost) else { return spec }
        for ep in compiled.endpoints {
            guard let want = live["\(ep.container)/\(ep.network)"] else { continue }
            var got4: IPv4Address?, got6: IPv6Address?
            if case .v4(let v)? = ep.ipv4?.address { got4 = v }
            if case .v6(let v)? = ep.ipv6?.address { got6 = v }
            if (want.0 != nil && got4 != want.0) || (want.1 != nil && got6 != want.1) { return spec }
        }
        return candidate
    }
}

extension String {
    func dropPrefix(_ p: String) -> Substring? { hasPrefix(p) ? dropFirst(p.count) : nil }
}
