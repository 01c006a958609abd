import Addressing
import Model

/// The cluster options of a host, as Docker's daemon took them: `--cluster-store
/// PROVIDER://URL`, `--cluster-advertise IP|IFACE`, `--cluster-store-opt KEY=VALUE`.
///
/// Why it exists: every front end (plan, apply, destroy, the agent) parses the same
/// options into the same store, with the same errors.
public struct ClusterSettings: Sendable, Equatable {
    /// Where the store is.
    public enum Location: Sendable, Equatable {
        /// `file:PATH`: the embedded store in one file (hosts sharing a file system).
        case file(String)
        /// `etcd://HOST:PORT[,HOST:PORT…]`, `etcds://` for TLS.
        case etcd(endpoints: [String], tls: Bool)
    }

    public var location: Location
    /// An address, or the name of an interface whose first IPv4 address is used.
    public var advertise: String
    public var options: [String: String]

    /// Why the options cannot be used: which option (`--cluster-store`,
    /// `--cluster-advertise`, `--cluster-store-opt`, or a key such as `kv.ttl`) and
    /// why — the same error as the etcd URL's and options' own parser.
    public typealias Problem = EtcdConfigurationError

    public static let knownOptions: Set<String> = ["kv.cacertfile", "kv.certfile", "kv.keyfile", "kv.username", "kv.password", "kv.timeout", "kv.ttl"]

    /// `kv.ttl`: seconds this host's registration lives without a renewal (an apply,
    /// or the agent); default `StoreLayout.defaultLeaseTTL`, a day.
    public var leaseTTL: Int {
        options["kv.ttl"].flatMap { Int($0) } ?? StoreLayout.defaultLeaseTTL
    }

    public init(store: String, advertise: String?, options: [String]) throws(Problem) {
        if store.hasPrefix("file:") {
            let path = String(store.dropFirst(5))
            guard path.hasPrefix("/") else { throw Problem("--cluster-store", "'\(store)': file: takes an absolute path (file:/var/lib/netform/store.json)") }
            location = .file(path)
        } else if store.hasPrefix("etcd://") || store.hasPrefix("etcds://") {
            let tls = store.hasPrefix("etcds://")
            let rest = store.dropFirst(tls ? 8 : 7)
            let endpoints = rest.split(separator: ",").map { String($0).trimmingSlash() }
            // One parser for etcd URLs (hosts, [IPv6], default port): EtcdConfiguration's.
            _ = try EtcdConfiguration(clusterStore: store, options: [])
            location = .etcd(endpoints: endpoints, tls: tls)
        } else {
            throw Problem("--cluster-store", "'\(store)': unknown provider; use etcd://HOST:PORT, etcds://HOST:PORT or file:/PATH")
        }
        guard let advertise, !advertise.isEmpty else {
            throw Problem("--cluster-advertise", "a cluster store needs the underlay address (IP|IFACE) other hosts send VXLAN to")
        }
        self.advertise = advertise
        var opts: [String: String] = [:]
        for o in options {
            guard let eq = o.firstIndex(of: "=") else { throw Problem("--cluster-store-opt", "'\(o)': give KEY=VALUE") }
            let key = String(o[..<eq])
            guard Self.knownOptions.contains(key) else {
                throw Problem(key.isEmpty ? "--cluster-store-opt" : key, "unknown option; known: \(Self.knownOptions.sorted().joined(separator: ", "))")
            }
            opts[key] = String(o[o.index(after: eq)...])
        }
        if let ttl = opts["kv.ttl"], Int(ttl).map({ !(5...31_536_000).contains($0) }) ?? true {
            throw Problem("kv.ttl", "'\(ttl)': give the registration's lease TTL in whole seconds, 5 to 31536000")
        }
        self.options = opts
    }
}

extension String {
    func trimmingSlash() -> String { hasSuffix("/") ? String(dropLast()) : self }
}

extension ClusterSettings {
    /// The store these settings name: the embedded file store, or etcd (its TLS
    /// files are read now, so a bad one is reported before anything runs).
    public func openStore() throws(EtcdConfigurationError) -> any ClusterStore {
        switch location {
        case .file(let path):
            return FileStore(path: path)
        case .etcd:
            guard let configuration = try EtcdConfiguration(self) else {
                throw EtcdConfigurationError("--cluster-store", "not an etcd URL")
            }
            return try EtcdStore(configuration)
        }
    }
}
