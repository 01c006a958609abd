import Addressing
import Compile
import Execute
import Foundation
import Model
import Plan
import Testing

@Suite struct ExecutorRollback {
    @Test func completesAPlanOnASimulatedHost() throws {
        let start = pristineHost()
        let (compiled, plan) = try planFor(seedSpec, start)
        let driver = SimulatedDriver(start)
        var seen: [Int] = []
        let report = Executor.run(plan, driver: driver) { done, total, step in
            #expect(total == plan.steps.count)
            seen.append(step.id)
            #expect(done == seen.count - 1)
        }
        #expect(report.succeeded)
        #expect(report.completedSteps == plan.steps.count)
        #expect(seen == plan.steps.map(\.id))
        #expect(projection(asObserved(driver.state), like: compiled.desired).normalized() == comparable(compiled.desired))
    }

    @Test func aFailpointAtEveryStepRollsTheHostBack() throws {
        // A seeded host being changed: deletes, in-place changes and creations mixed.
        let seeded = try converge(seedSpec, from: pristineHost()).1
        let changed = seedSpec
            .replacingOccurrences(of: "  container3: {networks: [aislada]}\n", with: "  container4: {networks: [aislada, bridge]}\n")
            .replacingOccurrences(of: "ipv4: 172.17.0.3", with: "ipv4: 172.17.0.33")
            .replacingOccurrences(of: "    bridge: docker0\n", with: "    bridge: docker0\n    mtu: 1400\n")
        let plan = try planFor(changed, seeded).1
        #expect(plan.steps.count >= 10)
        for k in 1...plan.steps.count {
            let driver = SimulatedDriver(seeded)
            let report = Executor.run(plan, driver: driver, failpoint: Failpoint(step: k))
            let failure = try #require(report.failure)
            #expect(failure.step.id == k)
            #expect(failure.error.message == "failpoint NETFORM_FAILPOINT=step:\(k)")
            #expect(failure.rolledBack, "rollback errors at step \(k): \(failure.rollbackErrors)")
            #expect(report.completedSteps == k - 1)
            #expect(driver.state.normalized() == seeded.normalized(), "host differs after rollback from step \(k)")
        }
    }

    @Test func failpointParsing() {
        #expect(Failpoint("step:7") == Failpoint(step: 7))
        #expect(Failpoint("step:0") == nil)
        #expect(Failpoint("7") == nil)
        #expect(Failpoint(nil) == nil)
        #expect(Failpoint("skip:3") == Failpoint(step: 3, action: .skip))
        #expect(Failpoint("skip:3")?.description == "skip:3")
        #expect(Failpoint("skip:0") == nil)
        #expect(Failpoint("skip:") == nil)
        #expect(Failpoint("jump:3") == nil)
    }

    @Test func aSkippedStepIsReportedDoneAndNotRun() throws {
        let (_, plan) = try planFor(seedSpec, pristineHost())
        let k = try #require(plan.steps.first { if case .addAddress(.host, _) = $0.operation { true } else { false } }).id
        let driver = SimulatedDriver(pristineHost())
        let report = Executor.run(plan, driver: driver, failpoint: Failpoint(step: k, action: .skip))
        #expect(report.succeeded)
        #expect(report.completedSteps == plan.steps.count)
        #expect(driver.log.count == plan.steps.count - 1)
        #expect(!driver.log.contains(plan.steps[k - 1].operation))
    }

    @Test func dryRunSpeaksIproute2() throws {
        let (_, plan) = try planFor(seedSpec, pristineHost())
        let lines = plan.steps.flatMap { DryRun.commands(for: $0.operation) }
        #expect(lines.contains("ip netns add seed.container1"))
        #expect(lines.contains { $0.hasPrefix("ip link add docker0 address 02:4e:46:") && $0.hasSuffix(" mtu 1500 type bridge nf_call_iptables 1 nf_call_ip6tables 1") })
        #expect(lines.contains("nft -j -f - <<'NFT'"), "the exact nft batch")
        #expect(lines.contains { $0.hasPrefix(#"{"nftables":[{"add":{"table":{"family":"inet","name":"netform_seed"}}}"#) })
        #expect(lines.contains("ip -n seed.container2 addr add 172.17.0.3/16 dev eth0"))
        #expect(lines.contains("ip -n seed.container1 route add default via 172.17.0.1 dev eth0 proto 78"))
        #expect(lines.contains { $0.hasPrefix("ip link add nfv") && $0.contains("master docker0 up type veth peer name eth0 address 02:42:ac:11:00:02 mtu 1500 netns seed.container1") })
    }
}

/// Fails one operation of a run of independent ones, as a kernel might.
final class FailingDriver: OperationDriver {
    let inner: SimulatedDriver
    let failing: Model.Operation
    private(set) var independentBatches: [[Model.Operation]] = []

    init(_ state: HostState, failing: Model.Operation) {
        inner = SimulatedDriver(state)
        self.failing = failing
    }

    func perform(_ op: Model.Operation) throws(ExecuteError) {
        if op == failing { throw ExecuteError(operation: "\(op)", message: "injected") }
        try inner.perform(op)
    }

    func awaitGone(_ links: [String]) throws(ExecuteError) {}

    func performIndependent(_ ops: [Model.Operation]) -> [ExecuteError?] {
        independentBatches.append(ops)
        return ops.map { op -> ExecuteError? in
            do throws(ExecuteError) { try perform(op); return nil } catch { return error }
        }
    }
}

@Suite struct IndependentRuns {
    @Test func namespaceCreationsGoAsOneRunAndAFailureInsideRollsBackAll() throws {
        let start = pristineHost()
        let plan = try planFor(seedSpec, start).1
        let failing = Model.Operation.createNamespace(name: "seed.container2", owner: .container("seed", "container2"))
        let driver = FailingDriver(start, failing: failing)
        let report = Executor.run(plan, driver: driver)
        #expect(driver.independentBatches.count == 1)
        #expect(driver.independentBatches.first?.count == 4, "the four namespace creations form one run")
        #expect(report.failure?.step.operation == failing)
        #expect(report.failure?.rolledBack == true)
        #expect(driver.inner.state.normalized() == start.normalized(), "the namespaces made in the same run are removed too")
    }
}
