import Addressing
import Compile
import Execute
import Foundation
import Model
import Plan
import Reconcile
import Testing

/// Issue 8, items 1, 2, 5 and 8, on a simulated host: one namespace has one identity
/// whatever its names; rollback never deletes what a failed step did not create; a
/// link carrying only the project's group is a repair of the resource it belongs to;
/// foreign routes with netform's protocol number are still foreign; rollback reports
/// what it could not undo.
@Suite struct NamespaceIdentity {
    /// A host where `hostalias` and `/proc/555/ns/net` are other names of the host
    /// namespace, `initns` and PID 1 name init's (the machine's own, which is not
    /// this host's when netform runs in a sandbox or container), and `dbg` is a
    /// second name of `legacy` (the observer reports it once, under `dbg`).
    func identity(_ ref: NamespaceRef) -> String? {
        switch ref {
        case .host, .named("hostalias"), .path("/run/netns/hostalias"), .path("/proc/555/ns/net"): "host"
        case .named("initns"), .path("/proc/1/ns/net"), .path("/run/netns/initns"): "init"
        case .named("legacy"), .named("dbg"), .path("/run/netns/legacy"): "legacy"
        case .named(let n): "named:\(n)"
        case .path: nil
        }
    }

    func reconciler(_ start: HostState) -> (Reconciler, SimulatedDriver) {
        var (r, driver) = simulatedReconciler(start)
        r.namespaceIdentity = identity
        return (r, driver)
    }

    func adoptSpec(_ netns: String) -> String {
        """
        version: 1
        project: adopt
        networks:
          net: {subnets: [{subnet: 10.9.0.0/24}]}
        containers:
          app: {netns: \(netns), networks: [net]}
        """
    }

    @Test(arguments: ["{name: hostalias}", "{path: /run/netns/hostalias}", "{pid: 555}"])
    func theHostNamespaceIsNeverAdoptedWhateverItsName(netns: String) throws {
        let (r, driver) = reconciler(pristineHost())
        #expect(throws: CompileError("container 'app': its netns is this host's own namespace; use `networks: [host]` to share the host's stack")) {
            try r.plan(try spec(adoptSpec(netns)))
        }
        #expect(driver.log.isEmpty)
    }

    @Test(arguments: ["{name: initns}", "{pid: 1}", "{path: /run/netns/initns}"])
    func initsNamespaceIsNeverAdopted(netns: String) throws {
        let (r, driver) = reconciler(pristineHost())
        let error = #expect(throws: CompileError.self) { try r.plan(try spec(adoptSpec(netns))) }
        #expect(error?.message.hasPrefix("container 'app': its netns is the network namespace of PID 1 (init)") == true, "\(String(describing: error))")
        #expect(driver.log.isEmpty)
    }

    @Test func aSecondNameOfAnAdoptedNamespaceIsTheSameNamespace() throws {
        // `ip netns attach dbg <pid in legacy>`: the observer reports the namespace once.
        var start = pristineHost()
        start[.named("dbg")] = NamespaceState(ref: .named("dbg"), links: [LinkState(name: "lo", kind: .loopback, mtu: 65536)])
        let (r, driver) = reconciler(start)
        let planned = try r.plan(try spec(adoptSpec("{name: legacy}")))
        #expect(planned.plan.conflicts.isEmpty, "\(planned.plan.conflicts)")
        #expect(planned.desired.adoptedNamespaces == [.named("dbg")])
        #expect(try r.apply(planned).succeeded)
        #expect(driver.state[.named("dbg")]?.link(named: "eth0")?.owner == OwnerMark.endpoint("adopt", container: "app", network: "net"))
        #expect(try r.plan(try spec(adoptSpec("{name: legacy}"))).plan.isEmpty, "converged")
    }
}

/// Someone else creates the object a step is about to create (between plan and
/// apply): the create fails with EEXIST, and the foreign object must survive.
final class RacingDriver: OperationDriver {
    private(set) var state: HostState
    let raced: Model.Operation
    let foreign: (inout HostState) -> Void

    init(_ state: HostState, raced: Model.Operation, foreign: @escaping (inout HostState) -> Void) {
        self.state = state
        self.raced = raced
        self.foreign = foreign
    }

    func perform(_ op: Model.Operation) throws(ExecuteError) {
        if op == raced {
            // The other tool wins the race; the kernel answers EEXIST.
            foreign(&state)
            throw ExecuteError(operation: DryRun.describe(op), message: "File exists (EEXIST)")
        }
        do { try state.apply(op) } catch { throw ExecuteError(operation: DryRun.describe(op), message: error.message) }
    }

    func awaitGone(_ links: [String]) throws(ExecuteError) {}
}

@Suite struct RollbackOwnership {
    let single = """
    version: 1
    project: seed
    networks:
      bridge:
        bridge: docker0
        subnets: [{subnet: 172.17.0.0/16, gateway: 172.17.0.1}]
    containers:
      container1: {networks: [bridge]}
    """

    @Test func aBridgeSomeoneElseMadeMeanwhileIsNotDeletedByRollback() throws {
        let start = pristineHost()
        let plan = try planFor(single, start).1
        let create = try #require(plan.steps.first { if case .createBridge = $0.operation { true } else { false } })
        let driver = RacingDriver(start, raced: create.operation) { s in
            s[.host]!.links.append(LinkState(name: "docker0", kind: .bridge, mtu: 1500, alias: "docker's"))
        }
        let report = Executor.run(plan, driver: driver)
        #expect(report.failure?.step.id == create.id)
        #expect(report.failure?.rolledBack == true, "\(report.failure?.rollbackErrors ?? [])")
        let bridge = driver.state[.host]?.link(named: "docker0")
        #expect(bridge?.alias == "docker's", "the foreign bridge survives the rollback")
        var expected = start
        expected[.host]!.links.append(LinkState(name: "docker0", kind: .bridge, mtu: 1500, alias: "docker's"))
        #expect(driver.state.normalized() == expected.normalized())
    }

    @Test func aNamespaceSomeoneElseMadeMeanwhileIsNotDeletedByRollback() throws {
        let start = pristineHost()
        let plan = try planFor(single, start).1
        let create = try #require(plan.steps.first { if case .createNamespace = $0.operation { true } else { false } })
        let foreignNS = NamespaceState(ref: .named("seed.container1"), links: [LinkState(name: "lo", kind: .loopback, mtu: 65536)])
        let driver = RacingDriver(start, raced: create.operation) { s in s[.named("seed.container1")] = foreignNS }
        let report = Executor.run(plan, driver: driver)
        #expect(report.failure?.step.id == create.id)
        #expect(driver.state[.named("seed.container1")] == foreignNS, "the foreign namespace survives the rollback")
    }

    @Test func aFailedInPlaceChangeIsStillSetBack() throws {
        // A setLink only changes attributes of one of our links: undoing it is safe.
        let seeded = try converge(seedSpec, from: pristineHost()).1
        let mtu = seedSpec.replacingOccurrences(of: "    bridge: docker0\n", with: "    bridge: docker0\n    mtu: 1400\n")
        let plan = try planFor(mtu, seeded).1
        let change = try #require(plan.steps.first { if case .setLink(.host, "docker0", _) = $0.operation { true } else { false } })
        final class HalfDriver: OperationDriver {
            let inner: SimulatedDriver
            let failing: Model.Operation
            init(_ s: HostState, _ f: Model.Operation) { inner = SimulatedDriver(s); failing = f }
            func perform(_ op: Model.Operation) throws(ExecuteError) {
                try inner.perform(op)
                if op == failing { throw ExecuteError(operation: "\(op)", message: "half done") }
            }
            func awaitGone(_ links: [String]) throws(ExecuteError) {}
        }
        let driver = HalfDriver(seeded, change.operation)
        let report = Executor.run(plan, driver: driver)
        #expect(report.failure?.step.id == change.id)
        #expect(driver.inner.state.normalized() == seeded.normalized())
    }
}

@Suite struct HonestRollback {
    @Test func aHalfPairDeleteThatCannotBeUndoneIsReportedAsSuch() throws {
        var truth = try converge(seedSpec, from: pristineHost()).1
        // container1's eth0 is gone; its host end is half a pair.
        truth[.named("seed.container1")]!.links.removeAll { $0.name == "eth0" }
        truth[.named("seed.container1")]!.addresses.removeAll()
        truth[.named("seed.container1")]!.routes.removeAll()
        let plan = try planFor(seedSpec, truth).1
        let half = try #require(plan.steps.first { $0.change == .replace && $0.inverse.isEmpty })
        let last = try #require(plan.steps.last)
        #expect(last.id > half.id)
        let driver = SimulatedDriver(truth)
        let report = Executor.run(plan, driver: driver, failpoint: Failpoint(step: last.id))
        let failure = try #require(report.failure)
        #expect(!failure.rolledBack, "the deleted half pair cannot be recreated: the host is not as before")
        #expect(failure.rollbackErrors.contains { $0.message.contains("cannot be undone") && $0.operation.contains("step \(half.id)") },
                "\(failure.rollbackErrors)")
        #expect(failure.notUndone.map(\.id) == [half.id])
    }

    @Test func anIsolationStepIsUndoneWithTheVethItIsOn() throws {
        let isolated = seedSpec.replacingOccurrences(of: "    bridge: docker0\n", with: "    bridge: docker0\n    icc: false\n")
        let start = pristineHost()
        let plan = try planFor(isolated, start).1
        let iso = try #require(plan.steps.first { if case .setLink(_, _, let c) = $0.operation { c.isolated == true } else { false } })
        #expect(iso.inverse.isEmpty)
        let driver = SimulatedDriver(start)
        let report = Executor.run(plan, driver: driver, failpoint: Failpoint(step: plan.steps.count))
        #expect(report.failure?.rolledBack == true, "\(report.failure?.rollbackErrors ?? [])")
        #expect(report.failure?.notUndone.isEmpty == true)
        #expect(driver.state.normalized() == start.normalized())
    }

    @Test func verificationRollbackIsHonestToo() throws {
        var truth = try converge(seedSpec, from: pristineHost()).1
        truth[.named("seed.container1")]!.links.removeAll { $0.name == "eth0" }
        truth[.named("seed.container1")]!.addresses.removeAll()
        truth[.named("seed.container1")]!.routes.removeAll()
        let driver = SimulatedDriver(truth)
        // An observer that never sees the veth come back: verification fails.
        var r = Reconciler(observe: { _, n in
            var s = asObserved(driver.state, neighbours: n)
            s[.named("seed.container1")]?.links.removeAll { $0.name == "eth0" }
            return s
        }, driver: driver, localHost: nil)
        r.verifyAttempts = 1
        let planned = try r.plan(try spec(seedSpec))
        let outcome = try r.apply(planned)
        #expect(outcome.remaining != nil)
        #expect(!outcome.verificationRolledBack, "a half-pair delete cannot be undone")
    }
}

@Suite struct GroupOnlyLinks {
    @Test func aBridgeLeftWithoutItsAliasIsARepairOfItsNetwork() throws {
        var truth = try converge(seedSpec, from: pristineHost()).1
        // Killed between RTM_NEWLINK (with the group) and the alias.
        let i = try #require(truth[.host]!.links.firstIndex { $0.name == "docker0" })
        truth[.host]!.links[i].alias = nil
        #expect(truth[.host]!.links[i].group == OwnerMark.linkGroup(project: "seed"))
        let plan = try planFor(seedSpec, truth).1
        #expect(plan.conflicts.isEmpty)
        #expect(plan.steps.count == 1)
        #expect(plan.steps.first?.resource == Resource(.network, "bridge"))
        #expect(plan.change(of: Resource(.network, "bridge")) == .update)
        #expect(plan.summary.add == 0 && plan.summary.change == 1 && plan.summary.destroy == 0, "\(plan.summary)")
        let text = PlanRenderer(color: false).render(plan)
        #expect(text.contains("~   network.bridge  (in-place)"), "\(text)")
        #expect(!text.contains("orphan"), "\(text)")
    }

    @Test func anUnwantedGroupOnlyLinkIsNotAnAdd() throws {
        var truth = try converge(seedSpec, from: pristineHost()).1
        truth[.host]!.links.append(LinkState(name: "nfv0123456789ab", kind: .bridge, mtu: 1500, group: OwnerMark.linkGroup(project: "seed")))
        let plan = try planFor(seedSpec, truth).1
        #expect(plan.conflicts.isEmpty)
        let step = try #require(plan.steps.first { $0.operation == .deleteLink(namespace: .host, name: "nfv0123456789ab") })
        #expect(plan.change(of: step.resource) != .create)
        #expect(plan.summary.add == 0, "\(plan.summary)")
        #expect(!PlanRenderer(color: false).render(plan).contains("+   host.orphan"))
    }

    @Test func aHalfMadePeerInAnAdoptedNamespaceIsOurs() throws {
        // kill -9 right after RTM_NEWLINK of a veth into an adopted namespace: both
        // ends carry the project's group (the peer's is set inside VETH_INFO_PEER), no alias.
        let text = """
        version: 1
        project: adopt
        networks:
          net: {subnets: [{subnet: 10.9.0.0/24}]}
        containers:
          app: {netns: {name: legacy}, networks: [net]}
        """
        var start = pristineHost()
        start[.named("legacy")] = NamespaceState(ref: .named("legacy"), links: [LinkState(name: "lo", kind: .loopback, mtu: 65536)])
        let (desired, after, _) = try converge(text, from: start)
        var truth = after
        let group = OwnerMark.linkGroup(project: "adopt")
        for ref in [NamespaceRef.host, .named("legacy")] {
            for i in truth[ref]!.links.indices where truth[ref]!.links[i].alias?.hasPrefix("netform:adopt/ep/") == true {
                truth[ref]!.links[i].alias = nil
                truth[ref]!.links[i].isUp = false
                truth[ref]!.links[i].master = nil
                #expect(truth[ref]!.links[i].group == group)
            }
        }
        truth[.named("legacy")]!.addresses.removeAll()
        truth[.named("legacy")]!.routes.removeAll()
        let plan = try planFor(text, truth).1
        #expect(plan.conflicts.isEmpty, "\(plan.conflicts)")
        #expect(plan.summary.add == 0, "a repair of container app: \(plan.summary)")
        let final = try applied(plan, to: truth)
        #expect(projection(asObserved(final), like: desired).normalized() == comparable(desired))
    }
}

@Suite struct ForeignRoutes {
    @Test func aForeignRouteWithOurProtocolNumberOverlappingASubnetIsAConflict() throws {
        var host = pristineHost()
        // Someone else's route that happens to use protocol 78, over a foreign device.
        host[.host]!.routes.append(RouteState(destination: IPNetwork("172.17.5.0/24"), family: .v4, gateway: IPAddress("192.168.1.254"),
                                              device: "eth0", proto: 78))
        let plan = try planFor(seedSpec, host).1
        #expect(plan.conflicts.map(\.message).contains("foreign route 172.17.5.0/24 via 192.168.1.254 dev eth0 proto 78 overlaps subnet 172.17.0.0/16")
                || plan.conflicts.contains { $0.message.hasPrefix("foreign route 172.17.5.0/24") && $0.message.hasSuffix("overlaps subnet 172.17.0.0/16") },
                "\(plan.conflicts)")
    }
}

/// The mark on a link is read from its alias on every reading: the byte-wise parse
/// must take exactly the marks the `Character`-wise rule took, and the group of a
/// project must stay the number links already carry in the kernel.
@Suite struct MarkParsing {
    /// The rule before the parse walked bytes: `netform:` + PROJECT + `/` + PATH, by
    /// `Character`.
    static func byCharacters(_ alias: String) -> OwnerMark? {
        guard alias.hasPrefix(OwnerMark.prefix) else { return nil }
        let body = alias.dropFirst(OwnerMark.prefix.count)
        guard let slash = body.firstIndex(of: "/"), slash != body.startIndex else { return nil }
        let path = String(body[body.index(after: slash)...])
        return path.isEmpty ? nil : OwnerMark(project: String(body[..<slash]), path: path)
    }

    @Test("an alias is a mark exactly when the old rule said so, with the same project and path")
    func aliasesParseAsBefore() {
        for alias in ["netform:lab/net/front", "netform:lab/ep/web/front", "netform:lab/ctr/web", "netform:lab/", "netform:/net/x",
                      "netform:lab", "netform:", "netform", "Netform:lab/net/x", " netform:lab/net/x", "netform:lab//x", "netform:a/b/",
                      "netform:ä/ö", "netform:lab/ép", "docker0", "", "netform:lab/net/x\n", "xnetform:lab/net/a"] {
            #expect(OwnerMark(alias: alias) == Self.byCharacters(alias), "\(alias)")
        }
        #expect(OwnerMark(alias: nil) == nil)
    }

    @Test("a project's link group is FNV-1a of group:PROJECT, as links already carry")
    func linkGroupIsUnchanged() {
        for project in ["lab", "seed", "a", "bench", "p-1_x"] {
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for b in "group:\(project)".utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            #expect(OwnerMark.linkGroup(project: project) == 0x4e46_0000 | UInt32(truncatingIfNeeded: h & 0xffff))
        }
        // The number a link of project `lab` carries on hosts netform already set up.
        #expect(OwnerMark.linkGroup(project: "lab") == 0x4e46_b249)
        let marked = LinkState(name: "x", kind: .bridge, alias: "netform:lab/net/front")
        #expect(marked.owner == OwnerMark.network("lab", "front"))
        #expect(marked.group == OwnerMark.linkGroup(project: "lab"))
        #expect(LinkState(name: "y", kind: .bridge, alias: "someone's").group == 0)
        #expect(LinkState(name: "lo", kind: .loopback, alias: "netform:lab/ctr/web").group == 0)
    }
}
