import Addressing
import Compile
import Execute
import Model
import Plan
import Spec

/// The plan → apply → verify cycle, as a library: every front end (the CLI, a
/// future agent or CNI plugin) runs the same code. Reading the host and changing
/// it are injected, so the cycle is tested on a simulated host without root.
public struct Reconciler {
    /// Reads the live state: the host, every named namespace, and `extra`; with
    /// `neighbours: .leftOut`, it may leave out the neighbour entries (a reading
    /// that does must say so in `HostState.neighbourReading`).
    public var observe: (_ extra: [NamespaceRef], _ neighbours: NeighbourReading) throws -> HostState
    public var driver: any OperationDriver
    /// When set, each apply gets a new driver from it instead of `driver`: a live
    /// driver caches namespace handles and interface indexes for one run, and a
    /// long-lived process (the agent) must not carry them into the next one — a
    /// namespace deleted and recreated by hand, or a veth recreated with a new
    /// index, would otherwise be addressed through the stale handle or index.
    public var makeDriver: (() -> any OperationDriver)?
    /// This host's name, for `host:` placement.
    public var localHost: String?
    /// How long to wait for asynchronous kernel work before verification fails.
    public var verifyAttempts: Int = 20
    public var verifyDelay: Duration = .milliseconds(50)
    /// Collects time per operation kind (`NETFORM_PROFILE=1` in the CLI).
    public var profile: Executor.Profile?
    /// The identity of a namespace (e.g. `dev:inode` of its nsfs file), nil when it
    /// cannot be read. An adopted namespace given by path or PID that is also a named
    /// one (`/run/netns/X`, a process started with `ip netns exec X`) is then planned
    /// under its name: one namespace must not appear under two refs.
    public var namespaceIdentity: (NamespaceRef) -> String? = { _ in nil }
    /// Files under /run/netns that are not namespaces (none on a simulated host).
    public var namespaceFiles = NamespaceFiles.none
    /// This host in the cluster store (`--cluster-store`): its name and the underlay
    /// address others send VXLAN to. `observe` then also reads the store's keys into
    /// the host namespace's `clusterStore`, and overlays span the hosts.
    public var cluster: ClusterIdentity?

    /// Who this host is in the cluster store.
    public struct ClusterIdentity: Sendable, Equatable {
        public var host: String
        public var advertise: IPAddress
        /// The TTL of the lease the registration is held by (`kv.ttl`).
        public var leaseTTL: Int
        public init(host: String, advertise: IPAddress, leaseTTL: Int = StoreLayout.defaultLeaseTTL) {
            self.host = host
            self.advertise = advertise
            self.leaseTTL = leaseTTL
        }
    }

    /// The view of the cluster store compile needs, from what was observed.
    func clusterView(_ observed: HostState) -> ClusterView? {
        cluster.map { ClusterView(host: $0.host, advertise: $0.advertise, entries: observed[.host]?.clusterStore ?? [:], leaseTTL: $0.leaseTTL,
                                  unreachable: observed[.host]?.clusterStoreUnreachable) }
    }

    public init(observe: @escaping (_ extra: [NamespaceRef], _ neighbours: NeighbourReading) throws -> HostState, driver: any OperationDriver,
                localHost: String?) {
        self.observe = observe
        self.driver = driver
        self.localHost = localHost
    }

    /// A plan together with the desired state it leads to: what `plan --out` saves
    /// and `apply PLANFILE` runs.
    public struct PlannedChange: Sendable, Codable {
        public var plan: Plan
        public var desired: DesiredState
        public var endpoints: [Endpoint]
        /// Spec features this version does not enforce yet.
        public var unenforced: [String] = []
        /// What the firewall cannot express of the spec.
        public var notes: [String] = []
        /// Why the cluster store could not be read, when it could not: the plan then
        /// changes nothing that depends on it (see `Compiler.addClusterUnread`).
        public var storeUnreachable: String?
        /// The spec's `cluster:` section, so `apply PLANFILE` reaches the same store.
        public var cluster: ClusterSpec?
    }

    /// Observes the host, compiles the spec against it and plans. With
    /// `fingerprinted: false` the plan has no fingerprint (see `Planner.plan`): one
    /// that is applied at once or shown as text is never checked against it. With
    /// `streaming`, the steps go there as they are made, and the plan returned has
    /// none (see `StepStream`); its head has every conflict, these too.
    public func plan(_ spec: Spec, fingerprinted: Bool = true, streaming: StepStream? = nil) throws -> PlannedChange {
        let clock = ContinuousClock()
        var t = clock.now
        func lap(_ name: String) {
            let now = clock.now
            profile?.phases.append((name, now - t))
            t = now
        }
        let (compiled, observed) = try observeAndCompile(spec, lap: lap)
        let storeConflicts = compiled.blockedByStore.sorted(by: { $0.key < $1.key }).map { Conflict(Resource(.container, $0.key), $0.value) }
        let plan = Planner.plan(compiled.desired, observed: observed, fingerprinted: fingerprinted, blocked: namespaceFiles.blocker,
                                alsoConflicting: storeConflicts, streaming: streaming)
        lap("plan")
        return PlannedChange(plan: plan, desired: compiled.desired, endpoints: compiled.endpoints, unenforced: compiled.unenforced,
                             notes: compiled.notes + HostAdvice.warnings(desired: compiled.desired, observed: observed),
                             storeUnreachable: observed[.host]?.clusterStoreUnreachable, cluster: spec.cluster)
    }

    /// Reads the host (adopted namespaces included) and compiles the spec against it:
    /// what `plan` diffs, and what `explain` reasons about.
    ///
    /// The reading holds neighbour entries exactly when the desired state uses them
    /// (`NeighbourReading.needed(by:)`), so that a saved plan's check, which reads by
    /// the saved desired state, reads the same. The spec tells beforehand (only an
    /// overlay network brings them); should the compiled state say otherwise, the
    /// host is read again as it says.
    public func observeAndCompile(_ spec: Spec, lap: (String) -> Void = { _ in }) throws -> (CompiledSpec, HostState) {
        let expected: NeighbourReading = spec.networks.contains { $0.driver == .overlay } ? .read : .leftOut
        let first = try observeAndCompile(spec, neighbours: expected, lap: lap)
        let needed = NeighbourReading.needed(by: first.0.desired)
        return needed == expected ? first : try observeAndCompile(spec, neighbours: needed, lap: lap)
    }

    private func observeAndCompile(_ spec: Spec, neighbours: NeighbourReading, lap: (String) -> Void) throws -> (CompiledSpec, HostState) {
        func observe(_ extra: [NamespaceRef]) throws -> HostState { try self.observe(extra, neighbours) }
        var observed = try observe([])
        lap("observe")
        var compiled = try Compiler.compile(spec, observed: observed, localHost: localHost, cluster: clusterView(observed))
        lap("compile")
        let adopted = compiled.desired.adoptedNamespaces
        let aliases = namespaceAliases(adopted, observed: observed)
        let refused = refusedNamespaces(adopted)
        if !aliases.isEmpty || !refused.isEmpty {
            compiled = try Compiler.compile(spec, observed: observed, localHost: localHost, namespaceAliases: aliases,
                                            refusedNamespaces: refused, cluster: clusterView(observed))
        }
        let extra = compiled.desired.adoptedNamespaces.filter { observed[$0] == nil }
        if !extra.isEmpty {
            // Adopted namespaces given by path or PID are not under /run/netns.
            observed = try observe(Array(extra))
            compiled = try Compiler.compile(spec, observed: observed, localHost: localHost, namespaceAliases: aliases,
                                            refusedNamespaces: refused, cluster: clusterView(observed))
        }
        return (compiled, observed)
    }

    /// Adopted namespaces that are another name of a namespace observed under a
    /// different ref — the host's own (`ip netns attach X <host pid>`, a symlink to
    /// `/proc/PID/ns/net`, netform run under `ip netns exec X`), or a named one the
    /// observer reports under its other name — mapped to that ref, by identity
    /// (inode): one namespace has one ref whatever names point at it. A
    /// namespace mapped to `.host` is then refused by the compiler.
    func namespaceAliases(_ adopted: Set<NamespaceRef>, observed: HostState) -> [NamespaceRef: NamespaceRef] {
        guard !adopted.isEmpty else { return [:] }
        let hostID = namespaceIdentity(.host)
        // Identities of every observed named namespace: built only when an adopted
        // namespace is not observed under the ref the spec gives (one stat each).
        var known: [String: NamespaceRef]?
        func knownIdentities() -> [String: NamespaceRef] {
            if let known { return known }
            var out: [String: NamespaceRef] = [:]
            let named = observed.namespaces.keys.filter { if case .named = $0 { true } else { false } }.sorted()
            for ref in named { if let id = namespaceIdentity(ref), out[id] == nil { out[id] = ref } }
            known = out
            return out
        }
        var aliases: [NamespaceRef: NamespaceRef] = [:]
        for ref in adopted.sorted() {
            guard let id = namespaceIdentity(ref) else { continue }
            if id == hostID {
                aliases[ref] = .host
            } else if observed[ref] == nil, let same = knownIdentities()[id], same != ref {
                aliases[ref] = same
            }
        }
        return aliases
    }

    /// Where the namespace of PID 1 lives: init's, the machine's own network stack.
    public static let initNamespace = NamespaceRef.path("/proc/1/ns/net")

    /// Adopted namespaces that must never be adopted, with why: init's (PID 1), by
    /// whatever name or path it is given. When netform runs in the machine's own
    /// namespace that is the host's, refused as such; in a sandbox or a container
    /// it is another namespace, and still not one netform may wire.
    func refusedNamespaces(_ adopted: Set<NamespaceRef>) -> [NamespaceRef: String] {
        guard !adopted.isEmpty, let initID = namespaceIdentity(Self.initNamespace), initID != namespaceIdentity(.host) else { return [:] }
        var refused: [NamespaceRef: String] = [:]
        for ref in adopted where namespaceIdentity(ref) == initID {
            let alias = ref == Self.initNamespace ? "" : " (\(ref) is another name for it)"
            refused[ref] = "the network namespace of PID 1 (init), the machine's own network stack\(alias); netform never adopts it"
        }
        return refused
    }

    /// The plan that removes everything a project owns on this host. An adopted
    /// namespace that is gone (its process exited, someone deleted it) took netform's
    /// interfaces with it: there is nothing to remove there, and no conflict.
    public func destroyPlan(project: String, adopted: Set<NamespaceRef> = []) throws -> PlannedChange {
        // The desired state is empty: no neighbour entry is needed.
        let observed = try observe(Array(adopted), .leftOut)
        let present = adopted.filter { observed[$0] != nil }
        var host = HostState()
        host[.host] = NamespaceState(ref: .host)
        for ref in present { host[ref] = NamespaceState(ref: ref) }
        let unreachable = observed[.host]?.clusterStoreUnreachable
        if cluster != nil, unreachable == nil { host[.host]!.clusterStore = [:] }
        let desired = DesiredState(project: project, state: host, adoptedNamespaces: present, storeHost: unreachable == nil ? cluster?.host : nil)
        var notes: [String] = []
        if let unreachable, let me = cluster?.host {
            notes.append("the cluster store could not be read (\(unreachable)): this host's records there (host \(me), its claims and "
                + "endpoints) stay until its lease expires, when the other hosts collect them")
        }
        // Never saved (there is no `plan --destroy --out`): no fingerprint.
        return PlannedChange(plan: Planner.plan(desired, observed: observed, fingerprinted: false), desired: desired, endpoints: [], notes: notes,
                             storeUnreachable: unreachable)
    }

    /// Why a saved plan cannot be applied any more.
    public struct StalePlan: Error, CustomStringConvertible {
        public var description: String {
            "the host changed since this plan was made (its fingerprint no longer matches); run plan again"
        }
    }

    /// Checks that a saved plan may run on the host as it is now (see `checkSaved`).
    public func checkFresh(_ planned: PlannedChange) throws {
        _ = try checkSaved(planned)
    }

    /// Removes the placeholders under /run/netns that an interrupted run of this
    /// project left (empty mode-000 files named PROJECT.CONTAINER with nothing
    /// mounted on them); returns their names. Call it under the apply lock.
    public func removeLeftoverPlaceholders(project: String) throws -> [String] {
        try namespaceFiles.placeholders(project).filter { try namespaceFiles.removePlaceholder($0) }
    }

    /// The outcome of an apply.
    public struct Outcome {
        public var report: ExecutionReport
        /// Changes still needed after the steps ran (verification failed), if any.
        public var remaining: Plan?
        /// Inverse operations run because verification failed.
        public var verificationRolledBack: Bool

        public var succeeded: Bool { report.succeeded && remaining == nil }
    }

    /// Runs the plan, then re-observes and re-plans: the new plan must be empty
    /// (retrying briefly for asynchronous kernel work). A failed step or a failed
    /// verification rolls the host back.
    public func apply(_ planned: PlannedChange, failpoint: Failpoint? = nil,
                      progress: (_ done: Int, _ total: Int, _ step: Step) -> Void = { _, _, _ in }) throws -> Outcome {
        let driver = makeDriver?() ?? self.driver
        let report = Executor.run(planned.plan, driver: driver, failpoint: failpoint, profile: profile, progress: progress)
        profile?.phases.append(("execute", report.duration))
        let clock = ContinuousClock()
        let verifyStart = clock.now
        defer { profile?.phases.append(("verify", clock.now - verifyStart)) }
        guard report.succeeded else { return Outcome(report: report, remaining: nil, verificationRolledBack: false) }
        var remaining: Plan?
        for attempt in 0..<verifyAttempts {
            let observed = try observe(Array(planned.desired.adoptedNamespaces), .needed(by: planned.desired))
            if Planner.changesStillNeeded(planned.desired, observed: observed).isEmpty {
                return Outcome(report: report, remaining: nil, verificationRolledBack: false)
            }
            // The last failed attempt's plan is shown to the user: a full one, whose
            // inventory tells changes and deletions from additions.
            if attempt + 1 < verifyAttempts { sleepFor(verifyDelay) } else { remaining = Planner.plan(planned.desired, observed: observed, fingerprinted: false) }
        }
        // Verification failed: undo every step, newest first (a step that cannot be
        // undone makes the rollback incomplete, as in the executor).
        let clean = Executor.undo(planned.plan.steps, driver: driver).errors.isEmpty
        return Outcome(report: report, remaining: remaining, verificationRolledBack: clean)
    }
}

#if canImport(Glibc)
import Glibc
#endif

func sleepFor(_ d: Duration) {
    let (s, atto) = d.components
    var ts = timespec(tv_sec: Int(s), tv_nsec: Int(atto / 1_000_000_000))
    nanosleep(&ts, nil)
}

import Foundation

/// The JSON form of plans and plan files: snake_case keys like every other JSON
/// netform prints (`validate --format json`, `show --json`).
public enum PlanJSON {
    public static func encoder(pretty: Bool) -> JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}

/// The entries under /run/netns that are not namespaces, as the reconcile cycle
/// needs them: what blocks a namespace's name, and the placeholders an interrupted
/// run left (see `NetworkNamespace.NamedEntry`).
///
/// Why it exists: the cycle is tested on a simulated host, so the file system is
/// injected like observation; the CLI wires it to `NetworkNamespace`.
public struct NamespaceFiles: Sendable {
    /// What is at /run/netns/NAME when it is neither absent, a namespace nor a
    /// placeholder ("a regular file of 3 bytes, mode 644"); nil otherwise.
    public var blocker: @Sendable (_ name: String) -> String?
    /// The placeholders of a project's namespaces (names `PROJECT.*`).
    public var placeholders: @Sendable (_ project: String) throws -> [String]
    /// Removes a placeholder after checking again that it is one; false when not.
    public var removePlaceholder: @Sendable (_ name: String) throws -> Bool

    public init(blocker: @escaping @Sendable (_ name: String) -> String?,
                placeholders: @escaping @Sendable (_ project: String) throws -> [String],
                removePlaceholder: @escaping @Sendable (_ name: String) throws -> Bool) {
        self.blocker = blocker
        self.placeholders = placeholders
        self.removePlaceholder = removePlaceholder
    }

    /// No such files (a simulated host).
    public static let none = NamespaceFiles(blocker: { _ in nil }, placeholders: { _ in [] }, removePlaceholder: { _ in false })
}
