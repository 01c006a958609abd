import Model

/// What `netform cluster status` shows: the hosts of each project in the store
/// (advertise address, the seconds their lease has left), each overlay network with
/// its endpoints per host, and the address claims. Pure: built from the store's
/// entries and the leases' time left.
public struct ClusterStatus: Sendable, Equatable {
    public struct Project: Sendable, Equatable {
        public var name: String
        /// `ttl`: seconds the registration's lease has left; nil when it is on none.
        public var hosts: [(name: String, advertise: String, ttl: Int?)]
        public var networks: [(name: String, definition: String, endpoints: [StoreLayout.EndpointRecord])]
        public var claims: [(network: String, address: String, host: String, container: String)]

        public static func == (a: Project, b: Project) -> Bool {
            a.name == b.name && a.hosts.map(\.name) == b.hosts.map(\.name) && a.hosts.map(\.advertise) == b.hosts.map(\.advertise)
                && a.hosts.map(\.ttl) == b.hosts.map(\.ttl)
                && a.networks.map(\.name) == b.networks.map(\.name) && a.networks.map(\.endpoints) == b.networks.map(\.endpoints)
                && a.claims.map(\.address) == b.claims.map(\.address)
        }
    }

    public var projects: [Project]

    /// The status of every project under `/netform/` (or only `project`);
    /// `leases` holds the seconds each lease has left (one missing: expired).
    public init(entries: [StoreEntry], project only: String? = nil, leases: [LeaseID: Int] = [:]) {
        var names = Set<String>()
        for e in entries where e.key.hasPrefix("/netform/") {
            let rest = e.key.dropFirst("/netform/".count)
            if let slash = rest.firstIndex(of: "/") { names.insert(String(rest[..<slash])) }
        }
        if let only { names = names.filter { $0 == only } }
        projects = names.sorted().map { name in
            var p = Project(name: name, hosts: [], networks: [], claims: [])
            var defs: [String: String] = [:]
            var eps: [String: [StoreLayout.EndpointRecord]] = [:]
            for e in entries {
                switch StoreLayout.parse(e.key, project: name) {
                case .host(let h)?:
                    p.hosts.append((h, (try? JSONValue.parse(e.text))?["advertise"]?.stringValue ?? "?", e.lease.map { leases[$0] ?? 0 }))
                case .network(let n)?: defs[n] = e.text
                case .endpoint(let n, let c)?:
                    if let r = StoreLayout.EndpointRecord(network: n, container: c, value: e.text) { eps[n, default: []].append(r) }
                case .claim(let n, let a)?:
                    let v = try? JSONValue.parse(e.text)
                    p.claims.append((n, a, v?["host"]?.stringValue ?? "?", v?["container"]?.stringValue ?? "?"))
                case nil: break
                }
            }
            p.hosts.sort { $0.name < $1.name }
            for n in Set(defs.keys).union(eps.keys).sorted() {
                p.networks.append((n, defs[n] ?? "(not defined)", (eps[n] ?? []).sorted { ($0.host, $0.container) < ($1.host, $1.container) }))
            }
            p.claims.sort { ($0.network, $0.address) < ($1.network, $1.address) }
            return p
        }
    }

    public var text: String {
        if projects.isEmpty { return "No netform project in the cluster store.\n" }
        var out = ""
        for p in projects {
            out += "project \(p.name)\n  hosts:\n"
            for h in p.hosts { out += "    \(h.name)  \(h.advertise)  \(h.ttl.map { "lease \($0) s left" } ?? "no lease")\n" }
            for n in p.networks {
                out += "  network \(n.name)  \(n.definition)\n"
                for e in n.endpoints {
                    out += "    \(e.container) on \(e.host) (vtep \(e.vtep))  \(e.mac)  \([e.ipv4, e.ipv6].compactMap { $0?.description }.joined(separator: " "))\n"
                }
            }
            out += "  claims: \(p.claims.count)\n"
            for c in p.claims { out += "    \(c.network) \(c.address)  \(c.container) on \(c.host)\n" }
        }
        return out
    }

    public var json: JSONValue {
        .object(["format_version": 1, "projects": .array(projects.map { p in
            [
                "name": .string(p.name),
                "hosts": .array(p.hosts.map { ["name": .string($0.name), "advertise": .string($0.advertise),
                                               "ttl": $0.ttl.map { .int($0) } ?? .null] }),
                "networks": .array(p.networks.map { n in
                    ["name": .string(n.name), "definition": (try? JSONValue.parse(n.definition)) ?? .string(n.definition),
                     "endpoints": .array(n.endpoints.map { e in
                         ["container": .string(e.container), "host": .string(e.host), "vtep": .string("\(e.vtep)"), "mac": .string("\(e.mac)"),
                          "ipv4": e.ipv4.map { .string("\($0)") } ?? .null, "ipv6": e.ipv6.map { .string("\($0)") } ?? .null]
                     })]
                }),
                "claims": .array(p.claims.map { ["network": .string($0.network), "address": .string($0.address),
                                                 "host": .string($0.host), "container": .string($0.container)] }),
            ]
        })])
    }
}
