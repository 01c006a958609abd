import Cluster
import Execute
import Foundation
import Logging
import Model
import Netlink
import Plan
import Reconcile
import ServiceLifecycle
import Spec
import UnixSignals

/// What `netform agent` is told: the spec, who this host is, and how eagerly to react.
public struct AgentConfiguration: Sendable {
    public var specPath: String
    public var host: LiveHost.Options
    public var lockTimeout: Duration = .seconds(30)
    public var policy = TriggerPolicy()
    /// One reconcile, then exit (cron, tests).
    public var once = false
    /// Where named namespaces live (watched for namespaces appearing and going).
    public var namespacesDirectory = NetworkNamespace.namedDirectory

    public init(specPath: String, host: LiveHost.Options) {
        self.specPath = specPath
        self.host = host
    }
}

/// `netform agent`: keeps one host reconciled. The same cycle as `apply` (lock,
/// plan, apply, verify, rollback — `Reconciler.prepare` and `PreparedChange.apply`),
/// started by what changes instead of by a person: netlink events in every namespace
/// the project owns, namespaces appearing under /run/netns, the spec file changing or
/// SIGHUP, the cluster store's watch, and a periodic resync; bursts are coalesced by
/// `TriggerPolicy`.
///
/// Why it exists: a host that must stay as its spec says needs drift repaired without
/// a human, and other hosts' endpoints learned as soon as they appear.
///
/// Safety: an invalid spec (at SIGHUP or a file change) is logged with its
/// diagnostics and the last good one stays; a store that cannot be read makes the
/// reconcile fail before anything is planned, so nothing is ever deleted because
/// the store was unreachable; SIGTERM lets the reconcile in flight finish (or roll
/// back) and release the lock before the agent exits.
public final class ReconcileAgent: Service, Sendable {
    let configuration: AgentConfiguration
    let logger: Logger
    let metrics: AgentMetrics
    let host: HostWork
    let inputs: AsyncStream<Input>
    let input: AsyncStream<Input>.Continuation

    enum Input: Sendable {
        case trigger(ReconcileTrigger)
        case tick
        case shutdown
    }

    /// Builds the agent; the spec must be valid now (later an invalid one is only
    /// logged). Throws `AgentStartError` with the diagnostics or the wiring failure.
    public init(configuration: AgentConfiguration, logger: Logger, metrics: AgentMetrics) throws(AgentStartError) {
        // A long-lived process with a thread per namespace: two arenas serve its few
        // allocating threads (see `Heap`).
        Heap.limitArenas(to: 2)
        self.configuration = configuration
        self.logger = logger
        self.metrics = metrics
        let loaded = LiveHost.loadSpec(path: configuration.specPath)
        guard let spec = loaded.spec else { throw AgentStartError(message: loaded.rendered().joined(separator: "\n") + "\n\(configuration.specPath): invalid spec") }
        let live: LiveHost
        do { live = try LiveHost(configuration.host.over(spec.cluster)) } catch { throw AgentStartError(message: error.description) }
        host = HostWork(live: live, spec: spec, lockTimeout: configuration.lockTimeout)
        (inputs, input) = AsyncStream.makeStream(of: Input.self)
    }

    /// Runs until SIGTERM/SIGINT (a graceful shutdown of the service group), or after
    /// one reconcile with `once`. Returns whether the last reconcile converged.
    @discardableResult
    public func runLoop() async -> Bool {
        var policy = configuration.policy
        policy.note(.startup, at: .now)
        var watches: [DirectoryWatch] = []
        var tasks: [Task<Void, Never>] = []
        defer {
            for w in watches { w.cancel() }
            for t in tasks { t.cancel() }
        }
        let input = self.input
        let subscriptions = NamespaceSubscriptions(
            onEvent: { [logger] ref, event in
                guard !event.isKernelMaintained else { return }
                logger.debug("netlink event", metadata: ["namespace": "\(ref)", "event": "\(event)"])
                input.yield(.trigger(.netlink))
            },
            onError: { [logger] ref, error in logger.warning("cannot watch netlink events", metadata: ["namespace": "\(ref)", "error": "\(error)"]) })
        var watched: Set<NamespaceRef> = [.host]
        defer { subscriptions.cancelAll() }
        if !configuration.once {
            watches = startFileWatches()
            tasks.append(signalTask())
            subscriptions.sync(watched)
            if let store = host.store as? any WatchableStore { tasks.append(storeWatchTask(store)) }
            if host.store != nil { tasks.append(leaseTask()) }
        }
        var lastConverged = false
        var timer: Task<Void, Never>?
        var timerDeadline: ContinuousClock.Instant?
        var iterator = inputs.makeAsyncIterator()
        loop: while true {
            if let next = policy.nextRun(), next <= .now {
                let why = policy.start(at: .now)
                let report = await reconcile(why)
                lastConverged = report.result == .converged || report.result == .repaired
                policy.finish(at: .now, succeeded: lastConverged, jitter: Double.random(in: 0..<1))
                if configuration.once { break }
                if let namespaces = report.namespaces { watched = namespaces.union([.host]) }
                subscriptions.sync(watched)
                continue
            }
            // Wait for an input, or for the policy's next deadline.
            if let next = policy.nextRun(), next != timerDeadline {
                timer?.cancel()
                timerDeadline = next
                let input = self.input
                timer = Task {
                    try? await Task.sleep(until: next, clock: .continuous)
                    if !Task.isCancelled { input.yield(.tick) }
                }
            }
            guard let got = await iterator.next() else { break }
            switch got {
            case .trigger(let t):
                metrics.events(t).increment()
                if t == .spec { reloadSpec() }
                // A namespace deleted by hand must not stay alive through our socket.
                if t == .namespaces { subscriptions.sync(watched) }
                policy.note(t, at: .now)
            case .tick:
                timerDeadline = nil
            case .shutdown:
                logger.info("shutting down")
                break loop
            }
        }
        timer?.cancel()
        return lastConverged
    }

    public func run() async {
        await withGracefulShutdownHandler {
            _ = await runLoop()
        } onGracefulShutdown: { [input] in
            input.yield(.shutdown)
        }
    }

    /// Asks the loop to stop after the reconcile in flight (what SIGTERM does).
    public func stop() { input.yield(.shutdown) }

    // MARK: Reconciling

    struct Report: Sendable {
        var result: ReconcileResult
        var steps = 0
        var changedKinds: [String: Int] = [:]
        var message: String?
        var took: Duration = .zero
        /// The namespaces the spec wants (nil when the reconcile failed before planning).
        var namespaces: Set<NamespaceRef>?
    }

    func reconcile(_ why: Set<ReconcileTrigger>) async -> Report {
        let host = self.host
        let report = await Self.onOwnThread {
            let report = host.reconcile()
            Self.returnFreedMemory()
            return report
        }
        metrics.recorded(why, report.result, took: report.took, changedKinds: report.changedKinds)
        var meta: Logger.Metadata = [
            "trigger": .string(why.sorted().map(\.rawValue).joined(separator: ",")),
            "result": .string(report.result.rawValue),
            "duration_ms": .string(String(format: "%.1f", Double(report.took.components.attoseconds) / 1e15 + Double(report.took.components.seconds) * 1000)),
        ]
        if report.steps > 0 { meta["steps"] = .string(String(report.steps)) }
        switch report.result {
        case .converged, .repaired:
            logger.info("reconciled", metadata: meta)
        case .busy, .storeUnavailable:
            logger.warning("reconcile postponed\(report.message.map { ": \($0)" } ?? "")", metadata: meta)
        case .failed, .conflict:
            logger.error("reconcile failed\(report.message.map { ": \($0)" } ?? "")", metadata: meta)
        }
        return report
    }

    /// Gives the memory a reconcile freed back to the kernel: observing 1000
    /// namespaces allocates tens of MB for a moment, and an idle agent should not
    /// hold them until the next one (measured: RSS 103 → see Benchmarks/agent-results.txt).
    static func returnFreedMemory() {
        Heap.returnFreedMemory()
    }

    /// The blocking cycle runs on a thread of its own, never on the concurrency pool.
    static func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (c: CheckedContinuation<T, Never>) in
            let thread = Thread { c.resume(returning: body()) }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    func reloadSpec() {
        let loaded = LiveHost.loadSpec(path: configuration.specPath)
        guard let spec = loaded.spec else {
            for block in loaded.rendered() { logger.error("\(block)") }
            logger.error("the spec no longer validates; keeping the last good one", metadata: ["spec": .string(configuration.specPath)])
            return
        }
        let before = host.cluster
        if host.replaceSpec(spec) {
            logger.info("spec reloaded", metadata: ["spec": .string(configuration.specPath)])
            // The store is wired once, at start: a changed section waits for a restart.
            if spec.cluster != before {
                logger.warning("the spec's cluster section changed; restart the agent to use it (the store it started with stays)")
            }
        }
    }

    // MARK: Event sources

    func startFileWatches() -> [DirectoryWatch] {
        var watches: [DirectoryWatch] = []
        let input = self.input
        let specURL = URL(fileURLWithPath: configuration.specPath)
        let specDir = specURL.deletingLastPathComponent().path
        let specName = specURL.lastPathComponent
        do {
            watches.append(try DirectoryWatch(directory: specDir) { name in
                if name == specName { input.yield(.trigger(.spec)) }
            })
        } catch {
            logger.warning("cannot watch the spec file; reload it with SIGHUP", metadata: ["error": .string("\(error)")])
        }
        do {
            try? FileManager.default.createDirectory(atPath: configuration.namespacesDirectory, withIntermediateDirectories: true)
            watches.append(try DirectoryWatch(directory: configuration.namespacesDirectory) { _ in input.yield(.trigger(.namespaces)) })
        } catch {
            logger.warning("cannot watch \(configuration.namespacesDirectory); namespaces are seen at the next resync",
                           metadata: ["error": .string("\(error)")])
        }
        return watches
    }

    /// Watches the project's keys; every change asks for a reconcile. When the
    /// watch fails (the store is down), it is opened again after a backoff with
    /// jitter, from a fresh list (a compacted revision means the same).
    func storeWatchTask(_ store: any WatchableStore) -> Task<Void, Never> {
        let input = self.input
        let prefix = StoreLayout.prefix(project: host.project)
        let logger = self.logger
        let metrics = self.metrics
        return Task.detached {
            var failures = 0
            while !Task.isCancelled {
                do {
                    let revision = try await ReconcileAgent.onOwnThread { Result { () throws(StoreError) in try store.list(prefix: prefix).revision } }.get()
                    if failures > 0 {
                        logger.info("cluster store reachable again")
                        input.yield(.trigger(.store))
                    }
                    failures = 0
                    watch: for try await event in store.watch(prefix: prefix, fromRevision: revision + 1) {
                        input.yield(.trigger(.store))
                        if case .compacted = event { break watch }
                    }
                } catch {
                    if Task.isCancelled { return }
                    failures += 1
                    metrics.storeErrors.increment()
                    if failures == 1 { logger.warning("cluster store watch failed; retrying with backoff", metadata: ["error": "\(error)"]) }
                    let wait = min(4.0, 0.5 * pow(2, Double(min(failures - 1, 6)))) * Double.random(in: 1..<1.25)
                    try? await Task.sleep(for: .milliseconds(Int(wait * 1000)))
                }
            }
        }
    }

    /// Renews this host's registration every third of its lease's TTL (so two missed
    /// renewals still leave it registered). A registration found gone (the lease
    /// expired while the store was away) asks for a reconcile, which registers again.
    func leaseTask() -> Task<Void, Never> {
        let input = self.input
        let host = self.host
        let logger = self.logger
        let metrics = self.metrics
        let interval = Duration.seconds(max(1, host.leaseTTL / 3))
        return Task.detached {
            // The first reconcile registers; renew from then on.
            try? await Task.sleep(for: interval)
            var failing = false
            while !Task.isCancelled {
                let result = await ReconcileAgent.onOwnThread { host.renewRegistration() }
                var wait = interval
                switch result {
                case .success(let left?):
                    metrics.leaseRenewals("ok").increment()
                    if failing { logger.info("lease renewed again", metadata: ["ttl_left": "\(left)"]) }
                    failing = false
                    logger.debug("lease renewed", metadata: ["ttl_left": "\(left)"])
                case .success(nil):
                    metrics.leaseRenewals("failed").increment()
                    logger.warning("this host's registration in the cluster store is gone; registering again")
                    input.yield(.trigger(.store))
                case .failure(let error):
                    metrics.leaseRenewals("failed").increment()
                    if !failing { logger.warning("cannot renew this host's lease; retrying", metadata: ["error": "\(error)"]) }
                    failing = true
                    wait = min(interval, .seconds(2))
                }
                try? await Task.sleep(for: wait)
            }
        }
    }

    func signalTask() -> Task<Void, Never> {
        let input = self.input
        return Task {
            for await _ in await UnixSignalsSequence(trapping: .sighup) { input.yield(.trigger(.spec)) }
        }
    }
}

/// Why the agent could not start (an invalid spec, a bad store option).
public struct AgentStartError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The host side of the agent: the live reconciler and the current spec, used by one
/// reconcile at a time on the agent's reconcile thread.
final class HostWork: @unchecked Sendable {
    // Guarded by `lock`: the spec is replaced from the agent's loop while a reconcile
    // may be reading it on its own thread.
    private let lock = NSLock()
    private var spec: Spec
    private let live: LiveHost
    let lockTimeout: Duration

    init(live: LiveHost, spec: Spec, lockTimeout: Duration) {
        self.live = live
        self.spec = spec
        self.lockTimeout = lockTimeout
    }

    /// Replaces the spec; false when it is the same.
    func replaceSpec(_ new: Spec) -> Bool {
        lock.withLock {
            guard new != spec else { return false }
            spec = new
            return true
        }
    }

    var store: (any ClusterStore)? { live.store }
    /// The spec's `cluster:` section now.
    var cluster: ClusterSpec? { lock.withLock { spec.cluster } }
    var project: String { lock.withLock { spec.project } }
    /// The TTL this host's registration is held for (`kv.ttl`).
    var leaseTTL: Int { live.reconciler.cluster?.leaseTTL ?? StoreLayout.defaultLeaseTTL }

    /// Renews the registration: the seconds left, nil when it is gone (or there is
    /// no store).
    func renewRegistration() -> Result<Int?, StoreError> {
        guard let registration = live.registration(project: project) else { return .success(nil) }
        return Result { () throws(StoreError) in try registration.renew() }
    }

    /// One observe → plan → apply → verify cycle, as `apply` runs it.
    func reconcile() -> ReconcileAgent.Report {
        let spec = lock.withLock { self.spec }
        let clock = ContinuousClock()
        let start = clock.now
        var report = reconcileOnce(spec)
        report.took = clock.now - start
        return report
    }

    private func reconcileOnce(_ spec: Spec) -> ReconcileAgent.Report {
        let prepared: PreparedChange
        do {
            prepared = try live.reconciler.prepare(.spec(spec), lock: .wait(lockTimeout))
        } catch let error as StoreError {
            return .init(result: error.isRetryable ? .storeUnavailable : .failed, message: "cluster store: \(error)")
        } catch let error as ApplyLock.Busy {
            return .init(result: .busy, message: error.description)
        } catch {
            return .init(result: .failed, message: "\(error)")
        }
        defer { prepared.release() }
        let plan = prepared.planned.plan
        let namespaces = Set(prepared.planned.desired.state.namespaces.keys)
        // The store could not be read: the plan changes only what does not depend on
        // it; the reconcile counts as postponed (retried with backoff) until it answers.
        let unreachable = prepared.planned.storeUnreachable.map { "cluster store: \($0)" }
        if !plan.conflicts.isEmpty {
            return .init(result: unreachable == nil ? .conflict : .storeUnavailable,
                         message: plan.conflicts.map { "\($0)" }.joined(separator: "; "), namespaces: namespaces)
        }
        if plan.steps.isEmpty { return .init(result: unreachable == nil ? .converged : .storeUnavailable, message: unreachable, namespaces: namespaces) }
        var kinds: [String: Int] = [:]
        for step in plan.steps { kinds[String(String(describing: step.operation).prefix { $0 != "(" }), default: 0] += 1 }
        let outcome: Reconciler.Outcome
        do { outcome = try prepared.apply() } catch let error as StoreError {
            return .init(result: error.isRetryable ? .storeUnavailable : .failed, steps: plan.steps.count, message: "cluster store: \(error)")
        } catch {
            return .init(result: .failed, steps: plan.steps.count, message: "\(error)")
        }
        if let failure = outcome.report.failure {
            let rolledBack = failure.rolledBack ? "rolled back" : "rollback incomplete: \(failure.rollbackErrors.map { "\($0)" }.joined(separator: "; "))"
            return .init(result: .failed, steps: plan.steps.count,
                         message: "step \(failure.step.id) (\(failure.step.change.rawValue) \(failure.step.resource)) failed: \(failure.error); \(rolledBack)")
        }
        if let remaining = outcome.remaining {
            return .init(result: .failed, steps: plan.steps.count,
                         message: "verification failed (\(remaining.steps.count) changes still needed); \(outcome.verificationRolledBack ? "rolled back" : "rollback incomplete")")
        }
        return .init(result: unreachable == nil ? .repaired : .storeUnavailable, steps: plan.steps.count, changedKinds: kinds,
                     message: unreachable, namespaces: namespaces)
    }
}
