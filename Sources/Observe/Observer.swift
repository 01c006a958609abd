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
    public static func observe(extra: [NamespaceRef] = []) throws(ObserveError) -> HostState {
        try observe(extra: extra, parallelism: nil)
    }

    /// Reads one namespace. Unlike `observe(extra:)`, a namespace that does not exist
    /// is an error here.
    public static func observe(namespace: NamespaceRef) throws(ObserveError) -> NamespaceState {
        let home: NetworkNamespace
        do { home = try NetworkNamespace.current() } catch { throw ObserveError(namespace: .host, error) }
        let outcome = NamespaceWalker.run([namespace], home: home, parallelism: 1, skipVanished: false)[0]
        switch outcome {
        case .read(var observed):
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
            if namespace == .host { state.firewall = try firewall() }
            return state
        case .vanished(let error), .failed(let error):
            throw error
        }
    }

    /// `observe(extra:)` with an explicit number of worker threads (nil: automatic).
    /// Exposed for the benchmark and tests; results do not depend on it.
    public static func observe(extra: [NamespaceRef], parallelism: Int?) throws(ObserveError) -> HostState {
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
        let outcomes = NamespaceWalker.run(refs, home: home, parallelism: workers, skipVanished: true)

        var observed: [ObservedNamespace] = []
        observed.reserveCapacity(outcomes.count)
        for outcome in outcomes {
            switch outcome {
            case .read(let o): observed.append(o)
            case .vanished: continue
            case .failed(let error): throw error
            }
        }
        ObservedMapping.resolveAcrossNamespaces(&observed)
        var state = HostState()
        for o in observed { state.namespaces[o.state.ref] = o.state }
        state.namespaces[.host]?.firewall = try firewall()
        return state
    }

    /// Every nftables table of the host namespace (netform's and everyone else's:
    /// the planner changes only the project's, `plan` reads the others to warn
    /// about chains that would drop what the spec allows). netform puts no table in
    /// container namespaces, so those are not read (a libnftables context per
    /// namespace would cost more than reading its links).
    public static func firewall() throws(ObserveError) -> [FirewallTable] {
        do {
            return try Nftables(namespace: nil).ruleset()
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
