import Prometheus
import Reconcile
import Synchronization

/// What a reconcile came to, as the agent counts it.
public enum ReconcileResult: String, Sendable, CaseIterable {
    /// The host already matched the spec.
    case converged
    /// Steps ran and verification passed: drift (or a spec change) repaired.
    case repaired
    /// A step or verification failed; the host was rolled back.
    case failed
    /// The plan has conflicts (an object in the way that is not the project's).
    case conflict
    /// The cluster store could not be read or written; nothing was changed.
    case storeUnavailable = "store_unavailable"
    /// Another apply held the lock for the whole wait.
    case busy
}

/// The agent's Prometheus metrics (`--metrics`): reconciles by trigger and result, a
/// duration histogram, drift repaired by kind, events by source, store errors and
/// lease renewals; plus what `/healthz` answers.
///
/// Why it exists: an agent nobody can watch is an agent nobody trusts; these are the
/// figures an operator alerts on (reconciles failing, drift repaired every minute).
public final class AgentMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let duration: DurationHistogram
    let storeErrors: Counter
    private let health = Mutex<(healthy: Bool, reason: String)>((false, "starting: no reconcile finished yet"))

    public init() {
        duration = registry.makeDurationHistogram(
            descriptor: Self.name("reconcile_duration", "seconds", "Time of one observe → plan → apply → verify cycle."),
            buckets: [.milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                      .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30)])
        storeErrors = registry.makeCounter(
            descriptor: Self.name("store_errors", "total", "Cluster store requests that failed (the reconcile changed nothing)."))
        // Every series exists from the start, at 0, so rates and alerts work at once.
        for trigger in ReconcileTrigger.allCases {
            for result in ReconcileResult.allCases { _ = reconciles(trigger, result) }
            _ = events(trigger)
        }
        for result in ["ok", "failed"] { _ = leaseRenewals(result) }
    }

    func reconciles(_ trigger: ReconcileTrigger, _ result: ReconcileResult) -> Counter {
        registry.makeCounter(
            descriptor: Self.name("reconciles", "total",
                                  "Reconciles, by the trigger that started them (the first of spec, store, netlink, namespaces, startup, retry, resync) and their result."),
            labels: [("trigger", trigger.rawValue), ("result", result.rawValue)])
    }

    func events(_ source: ReconcileTrigger) -> Counter {
        registry.makeCounter(descriptor: Self.name("events", "total", "Events seen, by source (each asks for a reconcile; bursts are coalesced)."),
                             labels: [("source", source.rawValue)])
    }

    func drift(_ kind: String) -> Counter {
        registry.makeCounter(
            descriptor: Self.name("drift_repaired", "total", "Objects changed by the agent's reconciles, by kind (namespace, link, address, route, firewall, …)."),
            labels: [("kind", kind)])
    }

    func leaseRenewals(_ result: String) -> Counter {
        registry.makeCounter(descriptor: Self.name("lease_renewals", "total", "Renewals of this host's lease in the cluster store."),
                             labels: [("result", result)])
    }

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "netform", subsystem: "agent", metricName: metric, unitName: unit, helpText: help)
    }

    /// The trigger a reconcile is counted under when it answers several.
    static func primary(_ triggers: Set<ReconcileTrigger>) -> ReconcileTrigger {
        let order: [ReconcileTrigger] = [.spec, .store, .netlink, .namespaces, .startup, .retry, .resync]
        return order.first(where: triggers.contains) ?? .resync
    }

    func recorded(_ triggers: Set<ReconcileTrigger>, _ result: ReconcileResult, took: Duration, changedKinds: [String: Int]) {
        reconciles(Self.primary(triggers), result).increment()
        duration.record(took)
        for (kind, n) in changedKinds { drift(kind).increment(by: Int64(n)) }
        if result == .storeUnavailable { storeErrors.increment() }
        let healthy = result == .converged || result == .repaired
        health.withLock { $0 = (healthy, healthy ? "ok" : "last reconcile: \(result.rawValue)") }
    }

    /// `/healthz`: healthy when the last reconcile left the host matching its spec.
    public var healthStatus: (healthy: Bool, reason: String) { health.withLock { $0 } }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}
