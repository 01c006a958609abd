#if canImport(Glibc)
import Glibc
#endif
import Firewall
import Model
import Netlink

/// Reads the live kernel state into the `Model` values the planner diffs against.
///
/// Why it exists: the kernel is netform's only source of truth (no state file), so
/// every `plan`, `apply` verification and `show` starts by reading every namespace
/// netform may own. Observe is strictly read-only: it sends dump and get requests
/// only and never changes anything.
///
/// How: one dedicated pthread per worker (never a Swift concurrency or Dispatch
/// thread) enters each namespace in turn with `setns`, opens a netlink socket there,
/// dumps links, addresses, routes, neighbours (and the FDB of VXLAN devices) and
/// moves on; the worker threads exit at the end. See `NamespaceWalker`.
///
/// What is reported is documented on `ObservedMapping` (kinds, masters, ownership,
/// and which kernel-managed objects are left out).
public enum Observer {
    /// Reads the host namespace, every named namespace under /run/netns, and `extra`
    /// (e.g. adopted namespaces by path); returns them as a HostState.
    ///
    /// "Host" is the network namespace of the calling thread. A named namespace (or
    /// an `extra` one) that disappears while being read — `open` fails with ENOENT,
    /// or `setns` with EINVAL because the bind mount is gone — is left out, not an
    /// error: the planner then treats it as absent. Any other failure throws, naming
    /// the namespace.
    ///
    /// Namespaces are identified by inode, never by name: each one under /run/netns
    /// is reported once, whatever names point at it (see `canonical(_:over:)`), and a
    /// name there (or an `extra` path) that is the host's own namespace is not
    /// reported at all: the host is `.host`. An `extra` ref is reported as asked.
    ///
    /// `neighbours: .leftOut` reads no neighbour entries (see `NeighbourReading`);
    /// the state says so (`HostState.neighbourReading`).
    public static func observe(extra: [NamespaceRef] = [], neighbours: NeighbourReading = .read) throws(ObserveError) -> HostState {
        try observe(extra: extra, parallelism: nil, neighbours: neighbours)
    }

    /// Reads one namespace. Unlike `observe(extra:)`, a namespace that does not exist
    /// is an error here.
    public static func observe(namespace: NamespaceRef) throws(ObserveError) -> NamespaceState {
        let home: NetworkNamespace
        do { home = try NetworkNamespace.current() } catch { throw ObserveError(namespace: .host, error) }
        let outcome = NamespaceWalker.run([namespace], home: home, parallelism: 1, skipVanished: false)[0]
        switch outcome {
        case .read(var observed, _):
            // Cheap cross-namespace names: a veth whose peer, or a macvlan whose parent,
            // lives in the caller's namespace gets that link's name.
            if namespace != .host, observed.crossLinks.contains(where: { $0.nsid == observed.homeNsid }) {
                do {
                    let hostLinks = try NetlinkHandle().links()
                    let names = Dictionary(hostLinks.map { ($0.index, $0.name) }, uniquingKeysWith: { a, _ in a })
                    ObservedMapping.resolveTowardsHost(&observed, hostNames: names)
                } catch {
                    throw ObserveError(namespace: .host, error)
                }
            }
            var state = observed.state
            if namespace == .host {
                state.firewall = try firewall()
                state.sysctls = sysctls(bridges: state.links.filter { $0.kind == .bridge }.map(\.name))
                state.netnsFiles = try netnsFiles()
                state.hostResolver = hostResolver()
            }
            return state
        case .vanished(let error), .failed(let error):
            throw error
        case .home:
            throw ObserveError(namespace: namespace, NetlinkError(errno: EINVAL, request: "observe \(namespace)",
                                                                  detail: "it is this host's own namespace under another name"))
        }
    }

    /// `observe(extra:)` with an explicit number of worker threads (nil: automatic).
    /// Exposed for the benchmark and tests; results do not depend on it.
    ///
    /// The host namespace's firewall, /etc/netns files and resolver are read while
    /// the workers read the namespaces (from the calling thread, in its namespace).
    public static func observe(extra: [NamespaceRef], parallelism: Int?,
                               neighbours: NeighbourReading = .read) throws(ObserveError) -> HostState {
        let home: NetworkNamespace
        do { home = try NetworkNamespace.current() } catch { throw ObserveError(namespace: .host, error) }
        let named: [String]
        do {
            named = try NetworkNamespace.listNamed()
        } catch {
            throw ObserveError(namespace: .path(NetworkNamespace.namedDirectory), error)
        }
        var refs: [NamespaceRef] = [.host] + named.map { .named($0) }
        var seen = Set(refs)
        for ref in extra where !seen.contains(ref) {
            seen.insert(ref)
            refs.append(ref)
        }
        let workers = parallelism ?? NamespaceWalker.defaultParallelism(jobs: refs.count)
        var hostFiles: Result<(firewall: [FirewallTable], files: [NamespaceFile], resolver: String?), ObserveError>?
        let outcomes = NamespaceWalker.run(refs, home: home, parallelism: workers, skipVanished: true, neighbours: neighbours) {
            hostFiles = Result { () throws(ObserveError) in (try firewall(), try netnsFiles(), hostResolver()) }
        }

        var observed: [ObservedNamespace] = []
        observed.reserveCapacity(outcomes.count)
        var byIdentity: [NamespaceID: Int] = [:]
        let listed = 1 + named.count
        for (position, outcome) in outcomes.enumerated() {
            switch outcome {
            case .read(let o, _) where position >= listed:
                // An `extra` ref is reported as asked (the reconciler maps adopted
                // paths to the names they are observed under before it asks).
                observed.append(o)
            case .read(let o, let id):
                if let i = byIdentity[id] {
                    // Another name of a namespace already read: one namespace, one ref.
                    if canonical(o.state, over: observed[i].state) { observed[i] = o }
                    continue
                }
                byIdentity[id] = observed.count
                observed.append(o)
            case .home, .vanished: continue
            case .failed(let error): throw error
            }
        }
        ObservedMapping.resolveAcrossNamespaces(&observed)
        var state = HostState()
        state.neighbourReading = neighbours
        for o in observed { state.namespaces[o.state.ref] = o.state }
        let host = try hostFiles!.get()
        state.namespaces[.host]?.firewall = host.firewall
        let bridges = state.namespaces[.host]?.links.filter { $0.kind == .bridge }.map(\.name) ?? []
        state.namespaces[.host]?.sysctls = sysctls(bridges: bridges)
        state.namespaces[.host]?.netnsFiles = host.files
        state.namespaces[.host]?.hostResolver = host.resolver
        return state
    }

    /// Whether `candidate` is the better of two names of one namespace: the name
    /// netform gave a namespace it created (`PROJECT.CONTAINER`, read back from the
    /// mark on its `lo`, `netform:PROJECT/ctr/CONTAINER`) wins over any other name
    /// (`ip netns attach dbg …`); otherwise the first in walk order stays (named
    /// namespaces sorted, then paths), so the choice is stable from run to run.
    static func canonical(_ candidate: NamespaceState, over current: NamespaceState) -> Bool {
        func isOwnName(_ ns: NamespaceState) -> Bool {
            guard case .named(let name) = ns.ref, let owner = ns.owner, owner.path.hasPrefix("ctr/") else { return false }
            return name == "\(owner.project).\(owner.path.dropFirst(4))"
        }
        return isOwnName(candidate) && !isOwnName(current)
    }

    /// The values of the global sysctls netform manages (`HostSysctl.managed`) in the
    /// caller's namespace; keys the kernel does not have (IPv6 disabled) are left out.
    public static func sysctls(bridges: [String] = []) -> [String: String] {
        var out: [String: String] = [:]
        for key in HostSysctl.managed + bridges.map(HostSysctl.routeLocalnet) {
            let fd = open(HostSysctl.path(key), O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var buf = [UInt8](repeating: 0, count: 64)
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { continue }
            out[key] = String(decoding: buf[..<n].filter { $0 != 0x0a && $0 != 0x20 }, as: UTF8.self)
        }
        return out
    }

    /// The files netform manages under `/etc/netns` (`NamespaceFile.managedNames`),
    /// in every namespace's directory, netform's and anyone else's (the planner needs
    /// to see a foreign file in the way). Read through `EtcNetns`: never a symlink.
    public static func netnsFiles(root: String = NamespaceFile.directory) throws(ObserveError) -> [NamespaceFile] {
        do {
            return try EtcNetns(root: root).readAll(names: NamespaceFile.managedNames).map {
                NamespaceFile(namespace: $0.namespace, name: $0.name, content: $0.content)
            }
        } catch {
            throw ObserveError(namespace: .host, error)
        }
    }

    /// The host's resolver configuration, which the containers' `resolv.conf` is made
    /// from: `/etc/resolv.conf`, or — when that names only loopback nameservers, as
    /// systemd-resolved's stub does — the upstream list it keeps in
    /// `/run/systemd/resolve/resolv.conf` (as Docker does). nil: the host has none.
    public static func hostResolver() -> String? {
        let main = (try? EtcNetns.readText(path: "/etc/resolv.conf")) ?? nil
        guard let main else { return nil }
        let servers = main.split(separator: "\n").compactMap { line -> Substring? in
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return f.count > 1 && f[0] == "nameserver" ? f[1] : nil
        }
        if !servers.isEmpty, servers.allSatisfy({ $0.hasPrefix("127.") || $0 == "::1" }),
           let upstream = (try? EtcNetns.readText(path: "/run/systemd/resolve/resolv.conf")) ?? nil {
            return upstream
        }
        return main
    }

    /// Every nftables table of the host namespace (netform's and everyone else's:
    /// the planner changes only the project's, `plan` reads the others to warn
    /// about chains that would drop what the spec allows). netform puts no table in
    /// container namespaces, so those are not read (a libnftables context per
    /// namespace would cost more than reading its links). Each table comes
    /// normalized (`FirewallTable.normalized()`: set elements in canonical order, not
    /// the kernel's, which means nothing), once here rather than at every comparison.
    public static func firewall() throws(ObserveError) -> [FirewallTable] {
        do {
            return try Nftables(namespace: nil).ruleset().map { $0.normalized() }
        } catch {
            throw ObserveError(namespace: .host, NetlinkError(errno: EIO, request: error.operation, detail: "nftables: \(error.message)"))
        }
    }
}

/// Why observing failed: which namespace, and the netlink or system-call error
/// underneath (with the request that failed).
///
/// Why it exists: with hundreds of namespaces, an error is only actionable when it
/// names the namespace it came from.
public struct ObserveError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The namespace being read (`.path("/run/netns")` when listing named ones failed).
    public var namespace: NamespaceRef
    public var underlying: NetlinkError

    public init(namespace: NamespaceRef, _ underlying: NetlinkError) {
        self.namespace = namespace
        self.underlying = underlying
    }

    public var description: String { "observing namespace \(namespace): \(underlying)" }
}
