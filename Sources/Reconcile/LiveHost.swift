import Addressing
import Cluster
import Execute
import Foundation
import Model
import Netlink
import Observe
import Spec

/// The reconcile cycle wired to this machine: the live observer (every named
/// namespace, plus the cluster store's keys when there is a store), the kernel
/// driver with its nftables, sysctl and store backends, namespace identities by
/// inode and the /run/netns file checks.
///
/// Why it exists: `apply`, `plan`, `destroy`, `explain` and `netform agent` need the
/// same wiring; it lives in the library so no front end builds its own, and the CLI
/// only maps `Failure` to a message and an exit code.
public struct LiveHost {
    /// Who this host is and which store it shares (the CLI's host options).
    public struct Options: Sendable, Equatable {
        /// This host's name for `host:` placement; nil: the system host name.
        public var hostName: String?
        /// `etcd://…`, `etcds://…` or `file:/PATH`; nil: no cluster store.
        public var clusterStore: String?
        /// The underlay address (or interface) other hosts send VXLAN to.
        public var clusterAdvertise: String?
        /// `KEY=VALUE` store options (`kv.cacertfile`, `kv.timeout`, …).
        public var clusterStoreOptions: [String]

        public init(hostName: String? = nil, clusterStore: String? = nil, clusterAdvertise: String? = nil,
                    clusterStoreOptions: [String] = []) {
            self.hostName = hostName
            self.clusterStore = clusterStore
            self.clusterAdvertise = clusterAdvertise
            self.clusterStoreOptions = clusterStoreOptions
        }

        /// These options over a spec's `cluster:` section: each setting given here
        /// wins (`--cluster-store`, `--cluster-advertise`), and store options merge key
        /// by key, a `--cluster-store-opt` over the spec's value of the same key.
        public func over(_ cluster: ClusterSpec?) -> Options {
            guard let cluster else { return self }
            var out = self
            out.clusterStore = clusterStore ?? cluster.store
            out.clusterAdvertise = clusterAdvertise ?? cluster.advertise
            let given = Set(clusterStoreOptions.map { String($0.prefix { $0 != "=" }) })
            out.clusterStoreOptions = cluster.options.sorted { $0.key < $1.key }.filter { !given.contains($0.key) }
                .map { "\($0.key)=\($0.value)" } + clusterStoreOptions
            return out
        }
    }

    /// Reads a spec as every front end must: `SpecLoader` with the `cluster:` section
    /// checked by the cluster module (`clusterSectionCheck`).
    public static func loadSpec(path: String) -> LoadedSpec {
        SpecLoader.load(path: path, clusterCheck: clusterSectionCheck)
    }

    /// What a spec's `cluster:` section means, checked as strictly as the command
    /// line's options (the same parsers); each problem names the key it is about.
    /// `advertise` may be left to `--cluster-advertise`.
    public static let clusterSectionCheck: ClusterSectionCheck = { cluster in
        let options = cluster.options.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        func problem(_ option: String, _ reason: String) -> ClusterSpec.Problem {
            switch option {
            case "--cluster-store": .init(path: "store", message: "cluster store: \(reason)")
            case "--cluster-advertise": .init(path: "advertise", message: "cluster advertise: \(reason)")
            case let key where cluster.options[key] != nil: .init(path: "options.\(key)", message: "cluster option \(key): \(reason)")
            default: .init(path: "options", message: "cluster options: \(option): \(reason)")
            }
        }
        do throws(EtcdConfigurationError) {
            let settings = try ClusterSettings(store: cluster.store, advertise: cluster.advertise ?? "(given per host)", options: options)
            _ = try EtcdConfiguration(settings)
        } catch {
            return [problem(error.option, error.reason)]
        }
        return []
    }

    /// Why the host could not be wired (a bad store option, an unknown interface).
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var message: String
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    public var reconciler: Reconciler
    /// The cluster store, when `--cluster-store` names one.
    public var store: (any ClusterStore)?
    public var settings: ClusterSettings?

    /// The reconciler for these options: with a cluster store, `observe` also reads
    /// the store's netform keys and store operations go to it.
    public init(_ options: Options) throws(Failure) {
        var r = Reconciler(observe: { extra, neighbours in try Observer.observe(extra: extra, neighbours: neighbours) }, driver: HostDriver(),
                           localHost: options.hostName ?? ProcessInfo.processInfo.hostName)
        r.makeDriver = { HostDriver() }
        r.namespaceIdentity = Self.namespaceIdentity
        r.namespaceFiles = Self.namespaceFiles
        reconciler = r
        guard let url = options.clusterStore else { return }
        let settings: ClusterSettings
        do {
            settings = try ClusterSettings(store: url, advertise: options.clusterAdvertise, options: options.clusterStoreOptions)
        } catch {
            throw Failure(error.description)
        }
        let store = try Self.openStore(settings)
        let advertise = try Self.resolveAdvertise(settings.advertise)
        func withStore(_ state: HostState) throws -> HostState {
            var state = state
            try Self.readStore(into: &state) { () throws(StoreError) in try store.list(prefix: "/netform/").entries }
            return state
        }
        r.observe = { extra, neighbours in try withStore(Observer.observe(extra: extra, neighbours: neighbours)) }
        r.driver = HostDriver(store: StoreBackend(store))
        r.makeDriver = { HostDriver(store: StoreBackend(store)) }
        r.cluster = .init(host: r.localHost ?? ProcessInfo.processInfo.hostName, advertise: advertise, leaseTTL: settings.leaseTTL)
        reconciler = r
        self.store = store
        self.settings = settings
    }

    /// This host's registration in `project`'s part of the store (nil without a
    /// store): what `apply` renews after it ran and the agent renews every third of
    /// the lease's TTL.
    public func registration(project: String) -> HostRegistration? {
        guard let store, let host = reconciler.cluster?.host else { return nil }
        return HostRegistration(store: store, project: project, host: host)
    }

    /// Puts the store's netform keys into the host namespace's `clusterStore`. A store
    /// that does not answer (`StoreError.Kind.unavailable`) is recorded as
    /// `clusterStoreUnreachable`, never as an empty store, and the plan keeps what
    /// depends on it; a store that refuses (credentials, permissions) is an error.
    public static func readStore(into state: inout HostState, _ list: () throws(StoreError) -> [StoreEntry]) throws(StoreError) {
        do {
            let entries = try list()
            state[.host]?.clusterStore = Dictionary(entries.map { ($0.key, $0.text) }, uniquingKeysWith: { a, _ in a })
            state[.host]?.clusterStoreUnreachable = nil
        } catch where error.kind == .unavailable {
            state[.host]?.clusterStore = nil
            state[.host]?.clusterStoreUnreachable = error.message
        }
    }

    /// The store the settings name.
    public static func openStore(_ settings: ClusterSettings) throws(Failure) -> any ClusterStore {
        do { return try settings.openStore() } catch { throw Failure("\(error)") }
    }

    /// `--cluster-advertise`: an address, or an interface's first IPv4 address.
    public static func resolveAdvertise(_ text: String) throws(Failure) -> IPAddress {
        if let ip = IPAddress(text) { return ip }
        let host: NamespaceState
        do { host = try Observer.observe(namespace: .host) } catch { throw Failure("--cluster-advertise \(text): \(error)") }
        guard let a = host.addresses.first(where: { $0.link == text && $0.address.family == .v4 }) else {
            throw Failure("--cluster-advertise \(text): not an address, nor an interface with an IPv4 address on this host")
        }
        return a.address
    }

    /// `dev:inode` of a namespace's nsfs file; nil when it cannot be read.
    public static func namespaceIdentity(_ ref: NamespaceRef) -> String? {
        let path = switch ref {
        case .host: "/proc/thread-self/ns/net"
        case .named(let n): "\(NetworkNamespace.namedDirectory)/\(n)"
        case .path(let p): p
        }
        return (try? NamespaceID(path: path)).map { "\($0.device):\($0.inode)" }
    }

    /// The network namespaces of running processes that are neither the host's, nor
    /// init's, nor under /run/netns: one `/proc/PID/ns/net` per namespace (the lowest
    /// PID), where a container runtime's containers live. `import` reads them to find
    /// the namespaces a project adopted by PID or path.
    ///
    /// Only namespaces that hold a netform link (of `project`, when given) are
    /// returned: each candidate is read once on its own, and one that cannot be read
    /// (its process exited, it changes faster than it can be dumped) is skipped — a
    /// stranger's namespace must not fail the command.
    public static func processNamespaces(holdingLinksOf project: String? = nil) -> [NamespaceRef] {
        processNamespaces { ns in ns.links.contains { l in l.owner.map { project == nil || $0.project == project } ?? false } }
    }

    /// The process namespaces (as above) for which `keep` holds, each read once.
    public static func processNamespaces(where keep: (NamespaceState) -> Bool) -> [NamespaceRef] {
        processNamespaceCandidates().filter { ref in
            guard let ns = try? Observer.observe(namespace: ref) else { return false }
            return keep(ns)
        }
    }

    static func processNamespaceCandidates() -> [NamespaceRef] {
        var seen = Set<String>()
        for ref in [NamespaceRef.host, Reconciler.initNamespace] { if let id = namespaceIdentity(ref) { seen.insert(id) } }
        let named = (try? FileManager.default.contentsOfDirectory(atPath: NetworkNamespace.namedDirectory)) ?? []
        for n in named { if let id = namespaceIdentity(.named(n)) { seen.insert(id) } }
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }.sorted()
        var out: [NamespaceRef] = []
        for pid in pids {
            let ref = NamespaceRef.path("/proc/\(pid)/ns/net")
            guard let id = namespaceIdentity(ref), seen.insert(id).inserted else { continue }
            out.append(ref)
        }
        return out
    }

    /// The /run/netns entries that are not namespaces, read from the file system.
    public static let namespaceFiles = NamespaceFiles(
        blocker: { name in
            if case .other(let what) = NetworkNamespace.entry(name: name) { return what }
            return nil
        },
        placeholders: { project in try NetworkNamespace.placeholders(prefix: "\(project).") },
        removePlaceholder: { name in try NetworkNamespace.removePlaceholder(name: name) })
}
