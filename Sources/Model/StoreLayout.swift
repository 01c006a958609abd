import Addressing

/// Where a project's cluster state lives in the store, and the records there.
///
/// Why it exists: every host reads and writes the same keys, so the layout is one
/// pure definition the compiler (what this host must publish), the planner (what it
/// owns there) and the store clients share. Several projects share one store; each
/// lives under `/netform/PROJECT/`:
///
/// | key | value | written by |
/// |---|---|---|
/// | `hosts/HOST` | `{"advertise": IP, "ttl": SECONDS}`, on a lease of that TTL | that host |
/// | `networks/NET` | `{"vni": N, "subnets": [...]}` | the first host that uses it (create-if-absent) |
/// | `claims/NET/IP` | `{"host": H, "container": C}` | the host whose container holds IP (create-if-absent) |
/// | `endpoints/NET/CONTAINER` | `{"host", "vtep", "mac", "ipv4", "ipv6"}` | the container's host |
public enum StoreLayout {
    public static func prefix(project: String) -> String { "/netform/\(project)/" }
    public static func host(project: String, host: String) -> String { prefix(project: project) + "hosts/\(host)" }
    public static func network(project: String, network: String) -> String { prefix(project: project) + "networks/\(network)" }
    public static func claim(project: String, network: String, address: IPAddress) -> String {
        prefix(project: project) + "claims/\(network)/\(address)"
    }
    public static func endpoint(project: String, network: String, container: String) -> String {
        prefix(project: project) + "endpoints/\(network)/\(container)"
    }

    /// What a key is, parsed back from its path.
    public enum Key: Sendable, Equatable {
        case host(String)
        case network(String)
        case claim(network: String, address: String)
        case endpoint(network: String, container: String)
    }

    /// The project a key of the layout belongs to, and what it is.
    public static func parse(_ key: String) -> (project: String, key: Key)? {
        guard key.hasPrefix("/netform/") else { return nil }
        let rest = key.dropFirst("/netform/".count)
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        let project = String(rest[..<slash])
        return parse(key, project: project).map { (project, $0) }
    }

    public static func parse(_ key: String, project: String) -> Key? {
        let p = prefix(project: project)
        guard key.hasPrefix(p) else { return nil }
        let parts = key.dropFirst(p.count).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        switch (parts.first, parts.count) {
        case ("hosts"?, 2): return .host(parts[1])
        case ("networks"?, 2): return .network(parts[1])
        case ("claims"?, 3): return .claim(network: parts[1], address: parts[2])
        case ("endpoints"?, 3): return .endpoint(network: parts[1], container: parts[2])
        default: return nil
        }
    }

    /// Which host a value says it belongs to (`host` field), if any.
    public static func owner(of value: String) -> String? {
        (try? JSONValue.parse(value))?["host"]?.stringValue
    }

    /// The lease TTL of a host's registration when `kv.ttl` is not given: a day. A
    /// one-shot `apply` renews it (every apply does, also one that changes nothing);
    /// an agent renews it every third of it. A host that does neither for this long
    /// is taken for gone, and the others remove its claims and endpoints.
    public static let defaultLeaseTTL = 86_400

    public static func hostRecord(advertise: IPAddress, ttl: Int = defaultLeaseTTL) -> String {
        JSONValue.object(["advertise": .string("\(advertise)"), "ttl": .int(ttl)]).rendered
    }

    /// The lease TTL a host record asks for (nil: a record written without one).
    public static func leaseTTL(ofHostRecord value: String) -> Int? {
        (try? JSONValue.parse(value))?["ttl"]?.intValue
    }

    public static func networkRecord(vni: UInt32, subnets: [IPNetwork]) -> String {
        JSONValue.object(["vni": .int(Int(vni)), "subnets": .array(subnets.map { .string("\($0)") })]).rendered
    }

    public static func claimRecord(host: String, container: String) -> String {
        JSONValue.object(["host": .string(host), "container": .string(container)]).rendered
    }

    /// A container's endpoint on an overlay network, as other hosts need it.
    public struct EndpointRecord: Sendable, Equatable {
        public var network: String
        public var container: String
        public var host: String
        public var vtep: IPAddress
        public var mac: MACAddress
        public var ipv4: IPAddress?
        public var ipv6: IPAddress?

        public init(network: String, container: String, host: String, vtep: IPAddress, mac: MACAddress,
                    ipv4: IPAddress? = nil, ipv6: IPAddress? = nil) {
            self.network = network
            self.container = container
            self.host = host
            self.vtep = vtep
            self.mac = mac
            self.ipv4 = ipv4
            self.ipv6 = ipv6
        }

        public var value: String {
            var o: [String: JSONValue] = ["host": .string(host), "vtep": .string("\(vtep)"), "mac": .string("\(mac)")]
            if let ipv4 { o["ipv4"] = .string("\(ipv4)") }
            if let ipv6 { o["ipv6"] = .string("\(ipv6)") }
            return JSONValue.object(o).rendered
        }

        public init?(network: String, container: String, value: String) {
            guard let v = try? JSONValue.parse(value), let host = v["host"]?.stringValue,
                  let vtep = v["vtep"]?.stringValue.flatMap(IPAddress.init), let mac = v["mac"]?.stringValue.flatMap(MACAddress.init)
            else { return nil }
            self.init(network: network, container: container, host: host, vtep: vtep, mac: mac,
                      ipv4: v["ipv4"]?.stringValue.flatMap(IPAddress.init), ipv6: v["ipv6"]?.stringValue.flatMap(IPAddress.init))
        }
    }
}

/// Several store writes as one transaction: keys created only if absent (address
/// claims: when any exists, nothing is written), keys put and keys deleted.
///
/// Why it exists: a host's claims and endpoints are written in a handful of
/// transactions instead of a round trip per key (etcd applies each atomically; its
/// default limit is 128 operations per transaction, so a plan writes at most
/// `maxKeys` keys in one), and the plan shows, simulates and rolls them back as one
/// step like any other operation.
public struct StoreTransaction: Sendable, Equatable, Codable {
    public var creates: [Entry]
    public var puts: [Entry]
    public var deletes: [String]

    /// One key and its value.
    public struct Entry: Sendable, Equatable, Codable {
        public var key: String
        public var value: String
        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    /// Keys one transaction writes at most (under etcd's default `--max-txn-ops` 128).
    public static let maxKeys = 100

    public init(creates: [Entry] = [], puts: [Entry] = [], deletes: [String] = []) {
        self.creates = creates
        self.puts = puts
        self.deletes = deletes
    }

    /// Every key it writes or deletes.
    public var keys: [String] { creates.map(\.key) + puts.map(\.key) + deletes }
}
