import Reconcile
import Testing

/// The agent's coalescing policy on virtual time: what a user of the agent notices is
/// how many reconciles a burst costs, how soon drift is repaired, and that the agent
/// settles instead of reacting to its own changes forever.
struct TriggerPolicyTests {
    let t0 = ContinuousClock.now
    func at(_ ms: Int) -> ContinuousClock.Instant { t0 + .milliseconds(ms) }

    /// Runs the policy against events at the given times (ms), each reconcile taking
    /// `runTime` ms and causing `echo` events of its own while it runs (the kernel
    /// reporting the agent's own changes) when `changes(run)` says it changed
    /// something. Returns the start times of the reconciles.
    func simulate(events: [Int], runTime: Int = 30, until end: Int = 10_000,
                  changes: (Int) -> Bool = { _ in false }, policy: TriggerPolicy = TriggerPolicy(resync: nil)) -> [Int] {
        var p = policy
        var queue = events.sorted()
        var starts: [Int] = []
        var now = 0
        while now <= end {
            let next = p.nextRun().map { Int(($0 - t0) / .milliseconds(1)) }
            let nextEvent = queue.first
            if let nextEvent, next.map({ nextEvent < $0 }) ?? true {
                now = max(now, nextEvent)
                p.note(.netlink, at: at(now))
                queue.removeFirst()
                continue
            }
            guard let next, next <= end else { break }
            now = max(now, next)
            _ = p.start(at: at(now))
            let run = starts.count
            starts.append(now)
            // Events that happen while it runs are noted at their time.
            while let e = queue.first, e < now + runTime {
                p.note(.netlink, at: at(max(e, now)))
                queue.removeFirst()
            }
            if changes(run) { p.note(.netlink, at: at(now + runTime / 2)) }
            now += runTime
            p.finish(at: at(now), succeeded: true)
        }
        return starts
    }

    @Test func oneEventIsAnsweredAfterTheQuietTime() {
        #expect(simulate(events: [100]) == [120])
    }

    @Test func aBurstOf1000EventsCostsABoundedNumberOfReconciles() {
        // 1000 events over one second (an apply of many containers, someone's script).
        let starts = simulate(events: Array(0..<1000))
        // At most one per maxDelay (200 ms) while the burst lasts, plus one after it.
        #expect(starts.count >= 2 && starts.count <= 7, "\(starts)")
        // The last event (999 ms) is answered by a reconcile that starts after it.
        #expect(starts.last! >= 999 && starts.last! <= 999 + 200 + 30, "\(starts)")
    }

    @Test func aSteadyStreamCannotPostponeARepairPastMaxDelay() {
        // An event every 10 ms, for 5 s: never quiet for 20 ms.
        let starts = simulate(events: Array(stride(from: 0, to: 5000, by: 10)))
        let gaps = zip(starts, starts.dropFirst()).map { $1 - $0 }
        #expect(starts.first! <= 200)
        #expect(gaps.allSatisfy { $0 <= 200 + 30 }, "\(gaps)")
    }

    @Test func theAgentsOwnChangesCauseOneMoreReconcileThenItSettles() {
        // The first reconcile repairs drift (its changes echo back as events); the
        // second finds nothing to do and causes no events.
        let starts = simulate(events: [0], changes: { $0 == 0 })
        #expect(starts.count == 2, "\(starts)")
    }

    @Test func eventsDuringAReconcileAreNotLost() {
        // Drift at 25 ms, while the first reconcile (20–50 ms) runs: answered as soon
        // as that one ends (its quiet time passed during the run).
        #expect(simulate(events: [0, 25]) == [20, 50])
        // Drift at 45 ms: 20 ms of quiet after it first.
        #expect(simulate(events: [0, 45]) == [20, 65])
    }

    @Test func resyncRunsWhenNothingHappens() {
        var p = TriggerPolicy(resync: .seconds(60))
        #expect(p.nextRun() == nil)
        p.note(.startup, at: at(0))
        _ = p.start(at: at(20))
        p.finish(at: at(50), succeeded: true)
        #expect(p.nextRun() == at(60_050))
        #expect(p.start(at: at(60_050)) == [.resync])
    }

    @Test func failuresBackOffExponentiallyWithJitterAndAFixedSpecGoesAtOnce() {
        var p = TriggerPolicy(resync: nil, backoff: .milliseconds(500), maxBackoff: .seconds(30))
        var now = 0
        var waits: [Int] = []
        for _ in 0..<10 {
            _ = p.start(at: at(now))
            p.finish(at: at(now), succeeded: false, jitter: 0)
            let next = Int((p.nextRun()! - t0) / .milliseconds(1))
            waits.append(next - now)
            now = next
        }
        #expect(waits == [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000])
        // The default cap keeps a host within 5 s of a store's return, jitter included.
        var d = TriggerPolicy(resync: nil)
        for _ in 0..<10 {
            _ = d.start(at: at(0))
            d.finish(at: at(0), succeeded: false, jitter: 0.999)
        }
        #expect(d.nextRun()! - at(0) <= .seconds(5) + .milliseconds(1))
        // Jitter spreads retries by up to a quarter of the wait.
        var q = TriggerPolicy(resync: nil)
        _ = q.start(at: at(0))
        q.finish(at: at(0), succeeded: false, jitter: 0.999)
        let w = q.nextRun()! - at(0)
        #expect(w > .milliseconds(600) && w < .milliseconds(626))
        // Netlink noise during a backoff waits for the retry; a spec change does not,
        // nor does news from the store (it came back).
        q.note(.netlink, at: at(10))
        #expect(q.nextRun()! >= at(600))
        var r = q
        q.note(.spec, at: at(20))
        #expect(q.nextRun()! == at(40))
        r.note(.store, at: at(20))
        #expect(r.nextRun()! == at(40))
        // A success resets the backoff.
        _ = q.start(at: at(40))
        q.finish(at: at(50), succeeded: true)
        #expect(q.failures == 0 && q.nextRun() == nil)
    }
}
