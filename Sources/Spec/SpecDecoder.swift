import Addressing
import YAML

/// Where each decoded value came from, for cross-object checks that report after
/// decoding (overlaps, duplicates, references). Keyed by a dotted path such as
/// `networks.bridge.subnets.0.gateway`.
struct SpecMarks {
    var root: Mark
    var byPath: [String: Mark] = [:]

    subscript(_ path: String) -> Mark {
        get {
            var p = Substring(path)
            while true {
                if let m = byPath[String(p)] { return m }
                guard let dot = p.lastIndex(of: ".") else { return root }
                p = p[..<dot]
            }
        }
        set { byPath[path] = newValue }
    }
}

/// Turns a YAML node tree into a `Spec`, reporting every shape and syntax problem.
///
/// Defaults are filled in here so later stages never guess; cross-object rules
/// (overlaps, duplicates, references, capacity) are checked by `SpecValidator`.
struct SpecDecoder {
    var sink = DiagnosticSink()
    var marks: SpecMarks
    let defaultProject: String
    /// Every subnet written anywhere in the spec (read before the networks are
    /// decoded), so a hint proposes a subnet that does not overlap one of them.
    var writtenSubnets: [IPNetwork] = []

    init(root: Mark, defaultProject: String) {
        marks = SpecMarks(root: root)
        self.defaultProject = defaultProject
    }

    static let topKeys = ["version", "project", "networks", "containers", "rules", "cluster"]
    static let clusterKeys = ["store", "advertise", "options"]
    static let networkKeys = ["driver", "bridge", "subnets", "icc", "masquerade", "internal", "mtu",
                              "host_binding_ipv4", "vni", "parent", "mode", "labels"]
    static let subnetKeys = ["subnet", "gateway", "ip_range", "aux_addresses"]
    static let containerKeys = ["networks", "ports", "host", "netns", "labels", "dns", "dns_search", "dns_options", "extra_hosts"]
    static let attachmentKeys = ["ipv4", "ipv6", "mac", "interface"]
    static let netnsKeys = ["name", "path", "pid"]
    static let ruleKeys = ["allow", "deny"]
    static let ruleBodyKeys = ["from", "to", "ports", "protocols"]

    /// Keys that only make sense for some drivers, and which drivers.
    static let driverOnlyKeys: [String: [NetworkDriver]] = [
        "bridge": [.bridge], "masquerade": [.bridge], "host_binding_ipv4": [.bridge],
        "icc": [.bridge, .overlay], "internal": [.bridge, .overlay],
        "vni": [.overlay], "parent": [.macvlan], "mode": [.macvlan],
    ]

    mutating func decode(_ root: Node?) -> Spec? {
        guard let root else {
            sink.error(marks.root, "the spec is empty; it needs at least `version: 1`")
            return nil
        }
        guard let top = MappingReader(root, what: "the spec", allowed: Self.topKeys, sink: &sink) else { return nil }

        if let v = top.value("version") {
            if case .int(let n)? = v.resolved {
                if n != 1 { sink.error(v.mark, "unsupported spec version \(n); this netform reads version 1") }
            } else {
                sink.error(v.mark, "'version' must be the integer 1, got \(v.kindName)")
            }
        } else {
            sink.error(root.mark, "missing key 'version' (add `version: 1` at the top)")
        }

        var project = defaultProject
        var projectMark = marks.root
        if let (p, m) = top.string("project", sink: &sink) {
            project = p
            projectMark = m
            if !isValidProjectName(p) {
                sink.error(m, "project name '\(p)' must be 1-32 characters of a-z, 0-9, '_' and '-', starting with a letter or digit")
            }
        } else if !isValidProjectName(project) {
            sink.error(marks.root, "the project name defaults to the file name '\(project)', which is not a valid project name (1-32 characters of a-z, 0-9, '_', '-'); set `project:`")
        }
        marks["project"] = projectMark

        for key in ["networks", "containers", "rules"] {
            if let v = top.value(key), v.resolved == .null {
                sink.error(v.mark, "'\(key)' is empty (null); give \(key == "rules" ? "a list" : "a mapping") or leave the key out")
            }
        }
        var spec = Spec(project: project)
        for net in top.present("networks")?.mapping ?? [] {
            for item in net.value.mapping?.first(where: { $0.key.scalar == "subnets" })?.value.sequence ?? [] {
                if let text = item.mapping?.first(where: { $0.key.scalar == "subnet" })?.value.scalar, let n = IPNetwork(text) {
                    writtenSubnets.append(n)
                }
            }
        }
        if let n = top.present("networks") {
            if let pairs = n.mapping {
                for p in pairs { if let net = decodeNetwork(p, project: project) { spec.networks.append(net) } }
            } else {
                sink.error(n.mark, "'networks' must be a mapping of network names to networks, got \(n.kindName)")
            }
        }
        if let c = top.present("containers") {
            if let pairs = c.mapping {
                for p in pairs { if let ctr = decodeContainer(p) { spec.containers.append(ctr) } }
            } else {
                sink.error(c.mark, "'containers' must be a mapping of container names to containers, got \(c.kindName)")
            }
        }
        if let r = top.present("rules") {
            if let items = r.sequence {
                for (i, item) in items.enumerated() { if let rule = decodeRule(item, index: i) { spec.rules.append(rule) } }
            } else {
                sink.error(r.mark, "'rules' must be a list, got \(r.kindName)")
            }
        }
        if let c = top.value("cluster") { spec.cluster = decodeCluster(c) }
        return spec
    }

    /// The first of Docker's user-network pools (172.18-31.0.0/16, then
    /// 192.168.N.0/24) that overlaps no subnet of the spec.
    var freeSubnetHint: String {
        let candidates = (18...31).map { "172.\($0).0.0/16" } + (0...255).map { "192.168.\($0).0/24" }
        return candidates.first { c in IPNetwork(c).map { n in !writtenSubnets.contains { $0.overlaps(n) } } ?? false } ?? "10.99.0.0/24"
    }

    // MARK: cluster

    /// `cluster: {store, advertise, options}`: shape only; the cluster module checks
    /// what the strings mean (`SpecLoader.load(path:clusterCheck:)`).
    mutating func decodeCluster(_ node: Node) -> ClusterSpec? {
        marks["cluster"] = node.mark
        guard let r = MappingReader(node, what: "'cluster'", allowed: Self.clusterKeys, sink: &sink) else { return nil }
        guard let (store, storeMark) = r.string("store", sink: &sink) else {
            if r.present("store") == nil {
                sink.error(node.mark, "'cluster' needs 'store' (etcd://HOST:PORT[,HOST:PORT…], etcds://… or file:/PATH)")
            }
            return nil
        }
        marks["cluster.store"] = storeMark
        var cluster = ClusterSpec(store: store)
        if let (advertise, m) = r.string("advertise", sink: &sink) {
            marks["cluster.advertise"] = m
            if advertise.isEmpty { sink.error(m, "'advertise' in 'cluster' is empty; give an address or an interface name, or leave it out") }
            cluster.advertise = advertise
        }
        if let options = r.present("options") {
            marks["cluster.options"] = options.mark
            guard let pairs = options.mapping else {
                sink.error(options.mark, "'options' in 'cluster' must be a mapping of option names (kv.timeout, …) to values, got \(options.kindName)")
                return nil
            }
            for p in pairs {
                let key = p.key.scalar ?? ""
                marks["cluster.options.\(key)"] = p.value.mark
                // Numbers are written as numbers (kv.ttl: 600) and read as their text.
                switch p.value.resolved {
                case .string(let text)?: cluster.options[key] = text
                case .int, .float: cluster.options[key] = p.value.scalar ?? ""
                default:
                    sink.error(p.value.mark, "the value of '\(key)' in 'cluster.options' must be a string or a number, got \(p.value.kindName)")
                }
            }
        }
        return cluster
    }

    // MARK: networks

    mutating func decodeNetwork(_ pair: Node.Pair, project: String) -> NetworkSpec? {
        let name = pair.key.scalar ?? ""
        let path = "networks.\(name)"
        marks[path] = pair.key.mark
        if !isValidObjectName(name) {
            sink.error(pair.key.mark, "network name '\(name)' must be 1-64 characters of letters, digits, '_', '.' and '-', starting with a letter or digit")
        }
        if name == "host" || name == "none" {
            sink.error(pair.key.mark, "'\(name)' is a built-in network (Docker's \(name)); it cannot be defined, only used by containers")
        }
        let body = pair.value.resolved == .null ? Node(emptyMappingAt: pair.value.mark) : pair.value
        guard let r = MappingReader(body, what: "network '\(name)'", allowed: Self.networkKeys, sink: &sink) else { return nil }

        var driver = NetworkDriver.bridge
        if let (d, m) = r.string("driver", sink: &sink) {
            if let parsed = NetworkDriver(rawValue: d) {
                driver = parsed
            } else {
                sink.error(m, "unknown driver '\(d)'; expected one of bridge, overlay, macvlan" + suggestion(d, NetworkDriver.allCases.map(\.rawValue)))
            }
        }
        for (key, drivers) in Self.driverOnlyKeys where !drivers.contains(driver) {
            if let p = r.pair(key) {
                sink.error(p.key.mark, "'\(key)' applies only to driver \(drivers.map(\.rawValue).joined(separator: " or ")), not \(driver.rawValue)")
            }
        }

        var device = defaultBridgeName(project: project, network: name)
        if let (d, m) = r.string("bridge", sink: &sink) {
            marks["\(path).bridge"] = m
            if let problem = deviceNameProblem(d) { sink.error(m, "bridge name '\(d)' \(problem)") } else { device = d }
        }

        var subnets: [SubnetSpec] = []
        if let s = r.present("subnets") {
            if let items = s.sequence {
                for (i, item) in items.enumerated() {
                    if let sub = decodeSubnet(item, path: "\(path).subnets.\(i)", network: name) { subnets.append(sub) }
                }
                if items.isEmpty && driver != .macvlan {
                    sink.error(s.mark, "network '\(name)' needs at least one subnet")
                }
            } else {
                sink.error(s.mark, "'subnets' in network '\(name)' must be a list, got \(s.kindName)")
            }
        } else if driver != .macvlan {
            sink.error(pair.key.mark, "network '\(name)' has no 'subnets'; add for example `subnets: [{subnet: \(freeSubnetHint)}]`")
        }

        let internalNet = r.bool("internal", sink: &sink) ?? false
        let masquerade = r.bool("masquerade", sink: &sink)
        if internalNet, masquerade == true, let p = r.pair("masquerade") {
            sink.warning(p.value.mark, "'masquerade' is ignored on an internal network")
        }
        var net = NetworkSpec(
            name: name, driver: driver, device: device, subnets: subnets,
            icc: r.bool("icc", sink: &sink) ?? true,
            masquerade: internalNet ? false : (masquerade ?? true),
            isInternal: internalNet,
            mtu: r.int("mtu", range: 68...65535, sink: &sink) ?? (driver == .overlay ? 1450 : 1500))
        if let (h, m) = r.string("host_binding_ipv4", sink: &sink) {
            if let a = IPv4Address(h) { net.hostBindingIPv4 = a } else { sink.error(m, "'\(h)' is not an IPv4 address") }
        }
        if driver == .overlay {
            if let v = r.int("vni", range: 1...16_777_215, sink: &sink) {
                net.vni = UInt32(v)
                marks["\(path).vni"] = r.value("vni")!.mark
            } else {
                net.vni = defaultVNI(project: project, network: name)
            }
        }
        if driver == .macvlan {
            if let (p, m) = r.string("parent", sink: &sink) {
                if let problem = deviceNameProblem(p) { sink.error(m, "parent device '\(p)' \(problem)") } else { net.parent = p }
            } else {
                sink.error(pair.key.mark, "macvlan network '\(name)' needs 'parent' (the host interface, e.g. eth0)")
            }
            net.macvlanMode = .bridge
            if let (mode, m) = r.string("mode", sink: &sink) {
                if let parsed = MacvlanMode(rawValue: mode) { net.macvlanMode = parsed } else {
                    sink.error(m, "unknown macvlan mode '\(mode)'; expected one of bridge, vepa, private, passthru" + suggestion(mode, MacvlanMode.allCases.map(\.rawValue)))
                }
            }
        }
        net.labels = decodeLabels(r)
        return net
    }

    mutating func decodeSubnet(_ node: Node, path: String, network: String) -> SubnetSpec? {
        guard let r = MappingReader(node, what: "a subnet of network '\(network)'", allowed: Self.subnetKeys, sink: &sink) else { return nil }
        marks[path] = node.mark
        guard let (text, m) = r.string("subnet", sink: &sink) else {
            if r.present("subnet") == nil { sink.error(node.mark, "subnet entry of network '\(network)' needs 'subnet' (CIDR, e.g. 172.18.0.0/16)") }
            return nil
        }
        marks["\(path).subnet"] = m
        let subnet: IPNetwork
        switch IPNetwork.parse(text) {
        case .success(let n): subnet = n
        case .failure(let e):
            sink.error(m, "invalid subnet '\(text)': \(e)")
            return nil
        }
        let maxPrefix = subnet.family == .v4 ? 30 : 126
        if subnet.prefixLength > maxPrefix {
            sink.error(m, "subnet \(subnet) is too small: it needs room for a gateway and at least one container (prefix at most /\(maxPrefix))")
            return nil
        }
        var gateway = subnet.address(at: 1)!
        if let (g, gm) = r.string("gateway", sink: &sink) {
            marks["\(path).gateway"] = gm
            if let a = IPAddress(g) {
                if let problem = hostAddressProblem(a, in: subnet) { sink.error(gm, "gateway \(a) \(problem)") }
                gateway = a
            } else {
                sink.error(gm, "gateway '\(g)' is not an IP address")
            }
        }
        var range = subnet
        if let (t, rm) = r.string("ip_range", sink: &sink) {
            marks["\(path).ip_range"] = rm
            switch IPNetwork.parse(t) {
            case .success(let n):
                if subnet.contains(n) { range = n } else { sink.error(rm, "ip_range \(n) is outside subnet \(subnet)") }
            case .failure(let e): sink.error(rm, "invalid ip_range '\(t)': \(e)")
            }
        }
        var aux: [String: IPAddress] = [:]
        for (k, v, am) in r.stringMap("aux_addresses", sink: &sink) ?? [] {
            marks["\(path).aux_addresses.\(k)"] = am
            if !isValidObjectName(k) {
                sink.error(r.value("aux_addresses")?.mapping?.first { $0.key.scalar == k }?.key.mark ?? am,
                           "aux address name '\(k)' must be 1-64 characters of letters, digits, '_', '.' and '-'")
            }
            guard let a = IPAddress(v) else {
                sink.error(am, "aux address '\(v)' is not an IP address")
                continue
            }
            if let problem = hostAddressProblem(a, in: subnet) { sink.error(am, "aux address \(a) \(problem)") }
            aux[k] = a
        }
        return SubnetSpec(subnet: subnet, gateway: gateway, ipRange: range, auxAddresses: aux)
    }

    // MARK: containers

    mutating func decodeContainer(_ pair: Node.Pair) -> ContainerSpec? {
        let name = pair.key.scalar ?? ""
        let path = "containers.\(name)"
        marks[path] = pair.key.mark
        if !isValidObjectName(name) {
            sink.error(pair.key.mark, "container name '\(name)' must be 1-64 characters of letters, digits, '_', '.' and '-', starting with a letter or digit")
        }
        if name == "any" {
            sink.error(pair.key.mark, "'any' is reserved: rule selectors use it to mean every container")
        }
        let body = pair.value.resolved == .null ? Node(emptyMappingAt: pair.value.mark) : pair.value
        guard let r = MappingReader(body, what: "container '\(name)'", allowed: Self.containerKeys, sink: &sink) else { return nil }

        var container = ContainerSpec(name: name, networking: .attached([]))
        if let n = r.value("networks") {
            marks["\(path).networks"] = n.mark
            container.networking = decodeNetworking(n, container: name, path: path)
        } else {
            // Docker's default: a container without networks joins the default bridge.
            container.networking = .attached([Attachment(network: "bridge", interface: "eth0")])
            marks["\(path).networks.bridge"] = pair.key.mark
            marks["\(path).defaulted"] = pair.key.mark
        }
        if let p = r.present("ports") {
            if let items = p.sequence {
                for (i, item) in items.enumerated() {
                    marks["\(path).ports.\(i)"] = item.mark
                    guard let s = stringValue(item) else {
                        sink.error(item.mark, "a published port is a string like \"8080:80/tcp\", got \(item.kindName)")
                        continue
                    }
                    switch parsePublishedPort(s) {
                    case .success(let port): container.ports.append(port)
                    case .failure(let e): sink.error(item.mark, "invalid port '\(s)': \(e.message)")
                    }
                }
            } else {
                sink.error(p.mark, "'ports' in container '\(name)' must be a list, got \(p.kindName)")
            }
        }
        if let (h, m) = r.string("host", sink: &sink) {
            if !isValidHostName(h) {
                sink.error(m, "invalid host name '\(h)': use an RFC 1123 host name (letters, digits and '-', in dot-separated labels)")
            }
            container.host = h
        }
        if let ns = r.present("netns") {
            marks["\(path).netns"] = ns.mark
            marks["\(path).netns.key"] = r.pair("netns")!.key.mark
            container.netns = decodeNetns(ns, container: name)
        }
        container.labels = decodeLabels(r)
        decodeResolver(r, into: &container)
        return container
    }

    /// `dns`, `dns_search`, `dns_options` and `extra_hosts`: what the container's
    /// `/etc/netns` files take from the spec. Only a namespace netform creates has
    /// those files, so an adopted or host-network container cannot have them.
    mutating func decodeResolver(_ r: MappingReader, into container: inout ContainerSpec) {
        let name = container.name
        func list(_ key: String) -> [(String, Mark)]? {
            guard let p = r.present(key) else { return nil }
            guard let items = p.sequence else {
                sink.error(p.mark, "'\(key)' in container '\(name)' must be a list, got \(p.kindName)")
                return nil
            }
            return items.compactMap { item in
                guard let s = stringValue(item) else {
                    sink.error(item.mark, "an entry of '\(key)' is a string, got \(item.kindName)")
                    return nil
                }
                return (s, item.mark)
            }
        }
        if let servers = list("dns") {
            container.dns.nameservers = servers.compactMap { s, m in
                guard let ip = IPAddress(s) else {
                    sink.error(m, "invalid nameserver '\(s)': an IPv4 or IPv6 address, as `docker run --dns`")
                    return nil
                }
                return ip
            }
        }
        if let domains = list("dns_search") {
            container.dns.search = domains.compactMap { s, m in
                let bare = s.hasSuffix(".") ? String(s.dropLast()) : s
                guard isValidHostName(bare) else {
                    sink.error(m, "invalid search domain '\(s)': a DNS name (letters, digits and '-', in dot-separated labels)")
                    return nil
                }
                return s
            }
        }
        if let options = list("dns_options") {
            container.dns.options = options.compactMap { s, m in
                guard !s.isEmpty, !s.contains(where: \.isWhitespace) else {
                    sink.error(m, "invalid resolver option '\(s)': one word such as ndots:2 or edns0 (resolv.conf(5))")
                    return nil
                }
                return s
            }
        }
        for (host, address, m) in r.stringMap("extra_hosts", sink: &sink) ?? [] {
            let keyMark = r.value("extra_hosts")?.mapping?.first { $0.key.scalar == host }?.key.mark ?? m
            guard isValidHostName(host) else {
                sink.error(keyMark, "invalid host name '\(host)' in extra_hosts: letters, digits and '-', in dot-separated labels")
                continue
            }
            guard let ip = IPAddress(address) else {
                sink.error(m, "invalid address '\(address)' for '\(host)' in extra_hosts: an IPv4 or IPv6 address")
                continue
            }
            container.extraHosts.append(ContainerSpec.ExtraHost(name: host, address: ip))
        }
        let given = ["dns", "dns_search", "dns_options", "extra_hosts"].filter { r.present($0) != nil }
        guard let first = given.first, let mark = r.pair(first)?.key.mark else { return }
        if container.netns != nil {
            sink.error(mark, "'\(first)' needs a namespace netform creates: container '\(name)' adopts its netns, whose /etc is its own")
        } else if case .host = container.networking {
            sink.error(mark, "'\(first)' needs a namespace of the container's own: container '\(name)' shares the host's network")
        }
    }

    mutating func decodeNetworking(_ node: Node, container: String, path: String) -> ContainerSpec.Networking {
        var attachments: [Attachment] = []
        var names: [(String, Mark)] = []
        if node.resolved == .null {
            return .attached([])
        } else if let items = node.sequence {
            for item in items {
                guard let s = stringValue(item) else {
                    sink.error(item.mark, "a network reference is a network name, got \(item.kindName)")
                    continue
                }
                names.append((s, item.mark))
            }
            for (i, (n, m)) in names.enumerated() {
                marks["\(path).networks.\(n)"] = m
                attachments.append(Attachment(network: n, interface: "eth\(i)"))
            }
        } else if let pairs = node.mapping {
            for (i, p) in pairs.enumerated() {
                let n = p.key.scalar ?? ""
                names.append((n, p.key.mark))
                marks["\(path).networks.\(n)"] = p.key.mark
                var a = Attachment(network: n, interface: "eth\(i)")
                if p.value.resolved != .null,
                   let r = MappingReader(p.value, what: "the attachment of container '\(container)' to '\(n)'", allowed: Self.attachmentKeys, sink: &sink) {
                    let apath = "\(path).networks.\(n)"
                    if let (t, m) = r.string("ipv4", sink: &sink) {
                        marks["\(apath).ipv4"] = m
                        if let v = IPv4Address(t) { a.ipv4 = v } else { sink.error(m, "'\(t)' is not an IPv4 address") }
                    }
                    if let (t, m) = r.string("ipv6", sink: &sink) {
                        marks["\(apath).ipv6"] = m
                        if let v = IPv6Address(t) { a.ipv6 = v } else { sink.error(m, "'\(t)' is not an IPv6 address") }
                    }
                    if let (t, m) = r.string("mac", sink: &sink) {
                        marks["\(apath).mac"] = m
                        if let v = MACAddress(t) {
                            if v.isMulticast || v.isZero {
                                sink.error(m, "MAC \(v) cannot be an interface address (it is \(v.isZero ? "all zero" : "multicast"))")
                            } else {
                                a.mac = v
                            }
                        } else {
                            sink.error(m, "'\(t)' is not a MAC address (expected six hex pairs, e.g. 02:42:ac:11:00:02)")
                        }
                    }
                    if let (t, m) = r.string("interface", sink: &sink) {
                        marks["\(apath).interface"] = m
                        if let problem = deviceNameProblem(t) {
                            sink.error(m, "interface name '\(t)' \(problem)")
                        } else if t == "lo" {
                            sink.error(m, "interface name 'lo' is the container's loopback")
                        } else {
                            a.interface = t
                        }
                    }
                }
                attachments.append(a)
            }
        } else {
            sink.error(node.mark, "'networks' of container '\(container)' must be a list of network names or a mapping, got \(node.kindName)")
            return .attached([])
        }

        // The built-in networks: `none` is loopback only, `host` the host's stack.
        if names.contains(where: { $0.0 == "host" }) {
            if names.count > 1 {
                let m = names.first { $0.0 == "host" }!.1
                sink.error(m, "container '\(container)' uses the host network, which cannot be combined with other networks")
            }
            if let p = node.mapping?.first(where: { $0.key.scalar == "host" }), p.value.resolved != .null,
               p.value.mapping?.isEmpty == false {
                sink.error(p.value.mark, "the host network takes no addresses or interface names")
            }
            return .host
        }
        if let none = names.first(where: { $0.0 == "none" }) {
            if names.count > 1 {
                sink.error(none.1, "container '\(container)' uses 'none' (loopback only), which cannot be combined with other networks")
            }
            return .attached([])
        }
        var seen: [String: Mark] = [:]
        for (n, m) in names {
            if let first = seen[n] {
                sink.error(m, "container '\(container)' joins network '\(n)' twice (first at line \(first.line))")
            }
            seen[n] = m
        }
        var ifaces: [String: String] = [:]
        for a in attachments {
            if let other = ifaces[a.interface] {
                let m = marks.byPath["\(path).networks.\(a.network).interface"] ?? marks["\(path).networks.\(a.network)"]
                sink.error(m, "interface '\(a.interface)' of container '\(container)' is used for both '\(other)' and '\(a.network)'")
            }
            ifaces[a.interface] = a.network
        }
        return .attached(attachments)
    }

    mutating func decodeNetns(_ node: Node, container: String) -> NamespaceReference? {
        guard let r = MappingReader(node, what: "'netns' of container '\(container)'", allowed: Self.netnsKeys, sink: &sink) else { return nil }
        let given = Self.netnsKeys.filter { r.present($0) != nil }
        guard given.count == 1 else {
            let second = given.count > 1 ? r.pairs.filter { given.contains($0.key.scalar ?? "") }[1].key.mark : node.mark
            sink.error(second, given.isEmpty
                ? "'netns' needs one of 'name', 'path' or 'pid'"
                : "'netns' takes exactly one of 'name', 'path' or 'pid', not \(given.map { "'\($0)'" }.joined(separator: " and "))")
            return nil
        }
        switch given[0] {
        case "name":
            guard let (n, m) = r.string("name", sink: &sink) else { return nil }
            if n.isEmpty || n.contains("/") || n == "." || n == ".." {
                sink.error(m, "namespace name '\(n)' must be a plain file name under /run/netns")
                return nil
            }
            return .name(n)
        case "path":
            guard let (p, m) = r.string("path", sink: &sink) else { return nil }
            if !p.hasPrefix("/") {
                sink.error(m, "namespace path '\(p)' must be absolute")
                return nil
            }
            return .path(p)
        default:
            guard let pid = r.int("pid", range: 1...Int(Int32.max), sink: &sink) else { return nil }
            return .pid(Int32(pid))
        }
    }

    mutating func decodeLabels(_ r: MappingReader) -> [String: String] {
        var labels: [String: String] = [:]
        for (k, v, m) in r.stringMap("labels", sink: &sink) ?? [] {
            if k.isEmpty || k.contains("=") || k.contains(where: \.isWhitespace) {
                let keyMark = r.value("labels")?.mapping?.first { $0.key.scalar == k }?.key.mark ?? m
                sink.error(keyMark, "label key '\(k)' must be non-empty without '=' or whitespace (selectors write label:KEY=VALUE)")
            }
            labels[k] = v
        }
        return labels
    }

    // MARK: rules

    mutating func decodeRule(_ node: Node, index: Int) -> RuleSpec? {
        let path = "rules.\(index)"
        marks[path] = node.mark
        guard let r = MappingReader(node, what: "rule \(index + 1)", allowed: Self.ruleKeys, sink: &sink) else { return nil }
        let actions = Self.ruleKeys.filter { r.value($0) != nil }
        guard actions.count == 1, let action = RuleSpec.Action(rawValue: actions[0]) else {
            let second = actions.count > 1 ? r.pairs.filter { actions.contains($0.key.scalar ?? "") }[1].key.mark : node.mark
            sink.error(second, actions.isEmpty
                ? "rule \(index + 1) needs 'allow' or 'deny'"
                : "rule \(index + 1) has both 'allow' and 'deny'; write two rules")
            return nil
        }
        let bodyNode = r.value(action.rawValue)!
        let body = bodyNode.resolved == .null ? Node(emptyMappingAt: bodyNode.mark) : bodyNode
        guard let b = MappingReader(body, what: "rule \(index + 1)", allowed: Self.ruleBodyKeys, sink: &sink) else { return nil }
        var rule = RuleSpec(action: action)
        for side in ["from", "to"] {
            guard let (s, m) = b.string(side, sink: &sink) else { continue }
            marks["\(path).\(side)"] = m
            switch parseSelector(s) {
            case .success(let sel): if side == "from" { rule.from = sel } else { rule.to = sel }
            case .failure(let e): sink.error(m, "invalid selector '\(s)': \(e.message)")
            }
        }
        if let p = b.present("ports") {
            if let items = p.sequence {
                if items.isEmpty { sink.error(p.mark, "'ports' in rule \(index + 1) is empty; leave it out to match all ports") }
                for item in items {
                    let text: String
                    if case .int(let i)? = item.resolved { text = String(i) } else if let s = stringValue(item) { text = s } else {
                        sink.error(item.mark, "a rule port is PORT[/PROTO] or PORT-PORT[/PROTO], got \(item.kindName)")
                        continue
                    }
                    switch parsePortRange(text) {
                    case .success(let pr): rule.ports.append(pr)
                    case .failure(let e): sink.error(item.mark, "invalid port '\(text)': \(e.message)")
                    }
                }
            } else {
                sink.error(p.mark, "'ports' in rule \(index + 1) must be a list, got \(p.kindName)")
            }
        }
        if let p = b.present("protocols") {
            if let items = p.sequence {
                if items.isEmpty { sink.error(p.mark, "'protocols' in rule \(index + 1) is empty; leave it out to match all protocols") }
                for item in items {
                    if let s = stringValue(item), let proto = RuleProtocol(rawValue: s) {
                        rule.protocols.append(proto)
                    } else {
                        let s = item.scalar ?? ""
                        sink.error(item.mark, "unknown protocol '\(s)'; expected one of tcp, udp, sctp, icmp, icmpv6" + suggestion(s, RuleProtocol.allCases.map(\.rawValue)))
                    }
                }
            } else {
                sink.error(p.mark, "'protocols' in rule \(index + 1) must be a list, got \(p.kindName)")
            }
        }
        if let pp = b.pair("ports"), let pr = b.pair("protocols") {
            let second = (pp.key.mark.line, pp.key.mark.column) > (pr.key.mark.line, pr.key.mark.column) ? pp.key.mark : pr.key.mark
            sink.error(second, "rule \(index + 1) gives both 'ports' and 'protocols'; ports already name their protocol")
        }
        return rule
    }

    func suggestion(_ word: String, _ candidates: [String]) -> String {
        closestMatch(word, in: candidates).map { "; did you mean '\($0)'?" } ?? ""
    }
}

extension Node {
    /// An empty mapping standing in for a YAML null body (`container1:` with no value).
    init(emptyMappingAt mark: Mark) {
        self.init(content: .mapping([]), mark: mark, tag: nil)
    }
}
