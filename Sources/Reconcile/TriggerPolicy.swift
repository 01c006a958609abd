/// Why the agent reconciles: what it saw change (a label of its metrics and logs).
public enum ReconcileTrigger: String, Sendable, Hashable, CaseIterable, Comparable {
    /// The agent started.
    case startup
    /// A link, address, route, neighbour or FDB entry changed in a namespace the
    /// project owns (or the event socket overflowed: everything is re-read anyway).
    case netlink
    /// A namespace appeared or disappeared under /run/netns.
    case namespaces
    /// The spec file changed, or SIGHUP.
    case spec
    /// Another host changed the cluster store.
    case store
    /// The periodic full reconcile (a missed event costs at most this long).
    case resync
    /// A failed reconcile tried again after its backoff.
    case retry

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// When the agent reconciles, given what it saw and when: a pure policy over
/// instants, so bursts, the agent's own applies, failures and quiet periods are
/// tested without a kernel or a clock.
///
/// Why it exists: events come in bursts (one apply of 100 containers is thousands of
/// netlink messages) and from the agent's own changes. The policy waits for a quiet
/// `debounce` after the last event but never longer than `maxDelay` after the first,
/// runs one reconcile for all of them, and when events arrive while a reconcile runs
/// (its own changes, or drift during it) it runs exactly one more afterwards: that one
/// finds the host converged and changes nothing, so it causes no events and the loop
/// ends. A failed reconcile is retried with exponential backoff and jitter (many
/// hosts must not stampede a recovering store).
public struct TriggerPolicy: Sendable {
    public typealias Instant = ContinuousClock.Instant

    /// Quiet time after the last event before reconciling.
    public var debounce: Duration
    /// A steady stream of events postpones a reconcile at most this long.
    public var maxDelay: Duration
    /// A full reconcile at least this often, events or not (nil: never).
    public var resync: Duration?
    /// Backoff after the first failure, doubled per failure up to `maxBackoff` (4 s by
    /// default, so the host reconverges within 5 s of a store's return even with
    /// jitter; the store watch's own reconnects are jittered too).
    public var backoff: Duration
    public var maxBackoff: Duration

    /// Triggers seen since the last reconcile started.
    public private(set) var pending: Set<ReconcileTrigger> = []
    private var firstPending: Instant?
    private var lastEvent: Instant?
    private var running = false
    private var lastFinished: Instant?
    private var retryAt: Instant?
    /// Consecutive failed reconciles.
    public private(set) var failures = 0

    public init(debounce: Duration = .milliseconds(20), maxDelay: Duration = .milliseconds(200),
                resync: Duration? = .seconds(300), backoff: Duration = .milliseconds(500), maxBackoff: Duration = .seconds(4)) {
        self.debounce = debounce
        self.maxDelay = maxDelay
        self.resync = resync
        self.backoff = backoff
        self.maxBackoff = maxBackoff
    }

    /// Something changed at `now`.
    public mutating func note(_ trigger: ReconcileTrigger, at now: Instant) {
        pending.insert(trigger)
        if firstPending == nil { firstPending = now }
        lastEvent = now
    }

    /// When the next reconcile should start (nil: wait for an event). While a
    /// reconcile runs there is none.
    public func nextRun() -> Instant? {
        guard !running else { return nil }
        var next: Instant?
        func earliest(_ t: Instant?) { if let t, next.map({ t < $0 }) ?? true { next = t } }
        if let first = firstPending, let last = lastEvent {
            // During a backoff only a spec change (the user fixed something) or news
            // from the store (it is reachable again, another host changed) goes early;
            // kernel noise waits for the retry.
            let due = min(last + debounce, first + maxDelay)
            if let retryAt, pending.isDisjoint(with: [.spec, .store]) { earliest(max(due, retryAt)) } else { earliest(due) }
        }
        earliest(retryAt)
        if let resync, let lastFinished { earliest(lastFinished + resync) }
        return next
    }

    /// A reconcile starts at `now`: returns why (the triggers it answers); the
    /// triggers seen from now on count for the next one.
    public mutating func start(at now: Instant) -> Set<ReconcileTrigger> {
        var why = pending
        if why.isEmpty { why = retryAt.map { now >= $0 } == true ? [.retry] : [.resync] }
        if retryAt != nil, !why.contains(.retry), failures > 0 { why.insert(.retry) }
        pending = []
        firstPending = nil
        lastEvent = nil
        retryAt = nil
        running = true
        return why
    }

    /// The reconcile started last finished at `now`; `jitter` in 0..<1 spreads the
    /// retries of many hosts (the caller draws it).
    public mutating func finish(at now: Instant, succeeded: Bool, jitter: Double = 0) {
        running = false
        lastFinished = now
        if succeeded {
            failures = 0
            retryAt = nil
        } else {
            failures += 1
            var wait = backoff
            for _ in 1..<failures where wait < maxBackoff { wait = wait * 2 }
            wait = min(wait, maxBackoff)
            retryAt = now + wait * (1 + 0.25 * max(0, min(jitter, 1)))
        }
    }

    /// Is a reconcile running?
    public var isRunning: Bool { running }
}
