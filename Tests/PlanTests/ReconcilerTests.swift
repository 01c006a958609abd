import Addressing
import Compile
import Execute
import Foundation
import Model
import Plan
import Reconcile
import Testing

/// A reconciler on a simulated host: observation is what the kernel would report.
func simulatedReconciler(_ start: HostState) -> (Reconciler, SimulatedDriver) {
    let driver = SimulatedDriver(start)
    let r = Reconciler(observe: { _, n in asObserved(driver.state, neighbours: n) }, driver: driver, localHost: "node1")
    return (r, driver)
}

@Suite struct ReconcileCycle {
    @Test func applyVerifiesAndASecondApplyDoesNothing() throws {
        let (r, driver) = simulatedReconciler(pristineHost())
        let planned = try r.plan(try spec(seedSpec))
        let outcome = try r.apply(planned)
        #expect(outcome.succeeded)
        #expect(outcome.report.completedSteps == planned.plan.steps.count)
        let again = try r.plan(try spec(seedSpec))
        #expect(again.plan.isEmpty)
        let log = driver.log.count
        _ = try r.apply(again)
        #expect(driver.log.count == log, "an empty plan performs nothing")
    }

    @Test func failedStepLeavesTheHostAsBefore() throws {
        let start = pristineHost()
        let (r, driver) = simulatedReconciler(start)
        let planned = try r.plan(try spec(seedSpec))
        let outcome = try r.apply(planned, failpoint: Failpoint(step: 9))
        #expect(!outcome.succeeded)
        #expect(outcome.report.failure?.rolledBack == true)
        #expect(driver.state.normalized() == start.normalized())
    }

    @Test func aStepThatSilentlyDidNothingFailsVerificationAndRollsBack() throws {
        let start = pristineHost()
        var (r, driver) = simulatedReconciler(start)
        r.verifyAttempts = 2
        r.verifyDelay = .zero
        let planned = try r.plan(try spec(seedSpec))
        let k = try #require(planned.plan.steps.first { if case .addAddress(.host, _) = $0.operation { true } else { false } }).id
        let outcome = try r.apply(planned, failpoint: Failpoint(step: k, action: .skip))
        #expect(outcome.report.succeeded)
        #expect(!outcome.succeeded)
        let remaining = try #require(outcome.remaining)
        #expect(remaining.steps.map(\.operation) == [planned.plan.steps[k - 1].operation], "exactly the skipped step is still needed")
        // What the user is shown: a change to the network that exists, not an addition.
        #expect(remaining.summary.add == 0 && remaining.summary.change == 1 && remaining.summary.destroy == 0, "\(remaining.summary)")
        #expect(outcome.verificationRolledBack)
        #expect(driver.state.normalized() == start.normalized())
    }

    @Test func destroyRemovesExactlyTheProject() throws {
        let start = pristineHost()
        let (r, driver) = simulatedReconciler(start)
        _ = try r.apply(try r.plan(try spec(seedSpec)))
        // A second project shares the host.
        let other = try spec("""
        version: 1
        project: other
        networks:
          n: {subnets: [{subnet: 10.50.0.0/24}]}
        containers:
          c: {networks: [n]}
        """)
        _ = try r.apply(try r.plan(other))
        let withOther = driver.state
        _ = try r.apply(try r.plan(other))
        let destroy = try r.destroyPlan(project: "seed")
        #expect(destroy.plan.steps.allSatisfy { $0.change == .delete || $0.change == .update })
        let outcome = try r.apply(destroy)
        #expect(outcome.succeeded)
        // What is left is the pristine host plus the other project, untouched.
        var expected = withOther
        for ref in expected.namespaces.keys where ref.description.hasPrefix("seed.") { expected.namespaces[ref] = nil }
        let seedLinks = Set(expected[.host]!.links.filter { $0.owner?.project == "seed" }.map(\.name))
        expected[.host]!.links.removeAll { $0.owner?.project == "seed" }
        expected[.host]!.sysctls = expected[.host]!.sysctls.filter { HostSysctl.bridge(of: $0.key).map { !seedLinks.contains($0) } ?? true }
        expected[.host]!.addresses.removeAll { a in withOther[.host]!.link(named: a.link)?.owner?.project == "seed" }
        #expect(expected[.host]!.firewall.contains { $0.belongs(to: "seed") })
        expected[.host]!.firewall.removeAll { $0.belongs(to: "seed") }
        #expect(expected[.host]!.netnsFiles.contains { $0.project == "seed" } && expected[.host]!.netnsFiles.contains { $0.project == "other" })
        expected[.host]!.netnsFiles.removeAll { $0.project == "seed" }
        #expect(driver.state[.host]!.firewall.contains { $0.belongs(to: "other") } && driver.state[.host]!.firewall.contains(sentinelTable))
        #expect(driver.state.normalized() == expected.normalized())
    }

    /// How each reading of the host was asked for.
    final class Readings { var asked: [NeighbourReading] = [] }

    @Test("without an overlay network, plan, verification, a saved plan's check and destroy read no neighbour entry, and plan the same")
    func neighboursAreReadOnlyWhereAPlanCanUseThem() throws {
        var start = pristineHost()
        // Someone's static entry on the host's uplink: nothing a plan does depends on it.
        let entry = NeighbourState(link: "eth0", address: IPAddress("192.168.1.77")!, mac: MACAddress("02:00:00:00:00:77")!)
        start[.host]!.neighbours = [entry]
        let driver = SimulatedDriver(start)
        let readings = Readings()
        let r = Reconciler(observe: { _, n in
            readings.asked.append(n)
            return asObserved(driver.state, neighbours: n)
        }, driver: driver, localHost: "node1")
        let planned = try r.plan(try spec(seedSpec))
        #expect(readings.asked == [.leftOut])
        // The plan a reading with the entry gives has the same steps.
        let full = asObserved(start)
        let compiled = try Compiler.compile(try spec(seedSpec), observed: full, localHost: "node1")
        #expect(Planner.plan(compiled.desired, observed: full).steps == planned.plan.steps)
        // The check reads as the plan was made: an entry added meanwhile, which the
        // plan could not change, does not make it stale.
        let saved = try PlanJSON.decoder().decode(Reconciler.PlannedChange.self, from: try PlanJSON.encoder(pretty: false).encode(planned))
        try driver.perform(.addNeighbour(namespace: .host, neighbour: NeighbourState(link: "eth0", address: IPAddress("192.168.1.78")!,
                                                                                     mac: MACAddress("02:00:00:00:00:78")!)))
        let checked = try r.checkSaved(saved)
        #expect(readings.asked.last == .leftOut)
        #expect(try r.apply(checked).succeeded)
        #expect(readings.asked.last == .leftOut, "verification")
        #expect(try r.apply(try r.destroyPlan(project: "seed")).succeeded)
        #expect(!readings.asked.contains(.read), "\(readings.asked)")
        #expect(driver.state[.host]!.neighbours.count == 2, "the entries are left alone")
    }

    @Test func savedPlanIsRefusedWhenTheHostChanged() throws {
        let (r, driver) = simulatedReconciler(pristineHost())
        let planned = try r.plan(try spec(seedSpec))
        let data = try PlanJSON.encoder(pretty: false).encode(planned)
        #expect(String(decoding: data, as: UTF8.self).contains("\"format_version\":1"), "snake_case keys, like all netform JSON")
        #expect(String(decoding: data, as: UTF8.self).contains("\"peer_mac\":\"02:42:ac:11:00:02\""))
        let loaded = try PlanJSON.decoder().decode(Reconciler.PlannedChange.self, from: data)
        #expect(loaded.plan == planned.plan)
        #expect(loaded.desired == planned.desired)
        try r.checkFresh(loaded)
        try driver.perform(.createBridge(namespace: .host, name: "late", mtu: 1500, mac: nil, alias: "someone"))
        #expect(throws: Reconciler.StalePlan.self) { try r.checkFresh(loaded) }
    }
}
