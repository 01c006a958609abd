import Observe

extension TopologyGraph {
    /// The topology as the kernel has it: the networks netform owns (of `project`, or
    /// of every project, named `PROJECT/NAME`, when nil), with their subnets and what
    /// isolates them as read from the live bridges and table, and the containers on
    /// them with the addresses they hold now (`netform network inspect`'s records).
    ///
    /// Why it exists: the spec's picture shows what a fresh apply gives; this one
    /// shows what is there, drift included. Rules and published ports live in the
    /// project's nftables table as compiled matches, not as the spec wrote them, so
    /// they are not drawn (`graph SPEC` draws them).
    public init(live records: [NetworkRecord], project: String?) {
        let owned = records.filter { !$0.isBuiltIn && (project == nil || $0.project == project) }
        let projects = Set(owned.compactMap(\.project))
        func name(_ r: NetworkRecord) -> String { projects.count > 1 ? "\(r.project ?? "")/\(r.network)" : r.network }
        self.project = project ?? (projects.count == 1 ? projects.first! : "live")
        networks = owned.map { r in
            var traits: [String] = []
            if r.isInternal { traits.append("internal") }
            if r.options["com.docker.network.bridge.enable_icc"] == "false" { traits.append("icc off") }
            if r.options["com.docker.network.bridge.enable_ip_masquerade"] == "false" { traits.append("no masquerade") }
            if let vni = r.options["com.docker.network.driver.overlay.vxlanid_list"] { traits.append("vni \(vni)") }
            return Network(name: name(r), driver: r.driver, subnets: r.ipam.map(\.subnet), traits: traits)
        }
        var byContainer: [String: [(network: String, text: String)]] = [:]
        var order: [String] = []
        for r in owned {
            for c in r.containers {
                let key = projects.count > 1 ? "\(r.project ?? "")/\(c.name)" : c.name
                if byContainer[key] == nil { order.append(key) }
                let addresses = [c.ipv4Address, c.ipv6Address].filter { !$0.isEmpty }.map { String($0.prefix { $0 != "/" }) }
                byContainer[key, default: []].append((name(r), addresses.joined(separator: ", ")))
            }
        }
        containers = order.sorted().map { Container(name: $0, host: nil, addresses: byContainer[$0]!, ports: [], sharesHostNetwork: false) }
        flows = []
    }
}
