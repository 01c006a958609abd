import Addressing
import Model
import Spec

extension Compiler {
    /// Adds the `/etc/netns/NAME/hosts` and `resolv.conf` of every namespace the
    /// project creates (adopted namespaces get none: their mount namespace, and so
    /// their `/etc`, is not netform's).
    ///
    /// `hosts` names every container of the container's networks — this host's and,
    /// on overlays, the other hosts' (from the cluster store) — with its IPv4 and IPv6
    /// address, after the usual localhost lines; a container on several of those
    /// networks is named once, with its address on the first of them in the spec's
    /// order. Containers with the same networks get the same text, built once (a
    /// thousand containers on ten networks are ten strings, not a thousand).
    ///
    /// `resolv.conf` is the host's, without nameservers on loopback, which a
    /// container cannot reach (Docker does the same).
    ///
    /// With the store unread, an overlay container's `hosts` stays as it is: an
    /// unread store is not an empty one, and the other hosts' names would vanish.
    static func addNamespaceFiles(_ spec: Spec, placed: [ContainerSpec], observed: HostState,
                                  remote: [String: [StoreLayout.EndpointRecord]], storeUnread: Bool,
                                  to compiled: inout CompiledSpec) {
        let project = spec.project
        let order = Dictionary(spec.networks.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        let overlays = Set(spec.networks.filter { $0.driver == .overlay }.map(\.name))
        // Who is on each network, with which addresses.
        var members: [String: [(name: String, v4: IPAddress?, v6: IPAddress?)]] = [:]
        for ep in compiled.endpoints {
            members[ep.network, default: []].append((ep.container, ep.ipv4?.address, ep.ipv6?.address))
        }
        let local = Set(compiled.endpoints.map(\.container))
        for (network, records) in remote {
            for r in records where !local.contains(r.container) { members[network, default: []].append((r.container, r.ipv4, r.ipv6)) }
        }
        for key in members.keys { members[key]!.sort { $0.name < $1.name } }

        let observedFiles = Dictionary((observed[.host]?.netnsFiles ?? []).map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let hostResolver = observed[.host]?.hostResolver
        let resolver = containerResolver(project: project, host: hostResolver)
        var hostsByNetworks: [[String]: String] = [:]
        var files: [NamespaceFile] = []
        files.reserveCapacity(2 * placed.count)
        for c in placed where c.netns == nil {
            let namespace = Naming.namespace(project: project, container: c.name)
            let networks = Array(Set(c.attachments.map(\.network))).sorted { (order[$0] ?? 0) < (order[$1] ?? 0) }
            var hosts: String
            let extra = c.extraHosts.map { "\($0.address)\t\($0.name)" }
            let key = networks + (extra.isEmpty ? [] : ["\u{0}"] + extra)
            if let text = hostsByNetworks[key] {
                hosts = text
            } else {
                hosts = hostsFile(project: project, networks: networks, members: members)
                if !extra.isEmpty { hosts += "# extra_hosts\n" + extra.map { $0 + "\n" }.joined() }
                hostsByNetworks[key] = hosts
            }
            if storeUnread, networks.contains(where: overlays.contains),
               let kept = observedFiles["\(namespace)/hosts"], kept.project == project {
                hosts = kept.content
            }
            files.append(NamespaceFile(namespace: namespace, name: "hosts", content: hosts))
            files.append(NamespaceFile(namespace: namespace, name: "resolv.conf",
                                       content: c.dns.isEmpty ? resolver : containerResolver(project: project, host: hostResolver, dns: c.dns)))
        }
        guard !files.isEmpty else { return }
        // Stored in place: at 50,000 containers a grown array or a copied host state
        // each held tens of megabytes at once.
        files = files.sortedByKey()
        compiled.desired.state.namespaces[.host, default: NamespaceState(ref: .host)].netnsFiles = files
    }

    /// Docker's first lines of a container's `/etc/hosts`.
    static let localhostLines = """
        127.0.0.1\tlocalhost
        ::1\tlocalhost ip6-localhost ip6-loopback
        fe00::0\tip6-localnet
        ff00::0\tip6-mcastprefix
        ff02::1\tip6-allnodes
        ff02::2\tip6-allrouters

        """

    static func hostsFile(project: String, networks: [String],
                          members: [String: [(name: String, v4: IPAddress?, v6: IPAddress?)]]) -> String {
        var out = NamespaceFile.markLine(project: project) + "\n" + localhostLines
        var named = Set<String>()
        for network in networks {
            for m in members[network] ?? [] {
                for (family, address) in [("4", m.v4), ("6", m.v6)] {
                    guard let address, named.insert("\(m.name)/\(family)").inserted else { continue }
                    out += "\(address)\t\(m.name)\n"
                }
            }
        }
        return out
    }

    /// The `resolv.conf` containers get from the host's: every line but comments and
    /// nameservers on loopback (`127.0.0.0/8`, `::1`) or IPv6 link-local ones (their
    /// zone is the host's interface), which a container cannot reach.
    public static func containerResolver(project: String, host: String?, dns: ContainerSpec.DNSSettings) -> String {
        // The host's file in parts, each replaced by the spec's when it gives one.
        let base = containerResolver(project: project, host: host)
        var servers: [String] = [], search: [String] = [], options: [String] = [], rest: [String] = []
        for line in base.split(separator: "\n").dropFirst().map(String.init) where !line.hasPrefix("#") {
            if line.hasPrefix("nameserver") { servers.append(line) }
            else if line.hasPrefix("search") || line.hasPrefix("domain") { search.append(line) }
            else if line.hasPrefix("options") { options.append(line) }
            else { rest.append(line) }
        }
        if let n = dns.nameservers { servers = n.map { "nameserver \($0)" } }
        if let s = dns.search { search = s.isEmpty ? [] : ["search " + s.joined(separator: " ")] }
        if let o = dns.options { options = o.isEmpty ? [] : ["options " + o.joined(separator: " ")] }
        var out = NamespaceFile.markLine(project: project) + "\n"
        for line in servers + search + options + rest { out += line + "\n" }
        if servers.isEmpty { out += "# no nameserver\n" }
        return out
    }

    public static func containerResolver(project: String, host: String?) -> String {
        var out = NamespaceFile.markLine(project: project) + "\n"
        guard let host else { return out + "# the host has no /etc/resolv.conf\n" }
        var nameservers = 0
        var dropped: [String] = []
        for raw in host.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = raw.trimmingWhitespace
            guard !line.isEmpty, !line.hasPrefix("#"), !line.hasPrefix(";") else { continue }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.first == "nameserver" {
                let server = fields.count > 1 ? String(fields[1]) : ""
                if unreachableFromContainer(server) { dropped.append(server); continue }
                nameservers += 1
            }
            out += line + "\n"
        }
        if nameservers == 0 {
            out += "# no nameserver: the host's (\(dropped.isEmpty ? "none" : dropped.joined(separator: ", "))) cannot be reached from a container\n"
        }
        return out
    }

    static func unreachableFromContainer(_ server: String) -> Bool {
        if server.contains("%") { return true }
        switch IPAddress(server) {
        case .v4(let a)?: return a.value >> 24 == 127
        case .v6(let a)?: return a == IPv6Address("::1") || server.lowercased().hasPrefix("fe80:")
        case nil: return false
        }
    }
}

extension Substring {
    var trimmingWhitespace: String {
        String(drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed())
    }
}
