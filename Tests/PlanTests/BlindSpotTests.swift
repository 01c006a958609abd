import Addressing
import Compile
@testable import Execute
import Foundation
import Model
import Plan
@testable import Reconcile
import Testing
#if canImport(Glibc)
import Glibc
#endif

// Issue 13, "Blind spots": each test here kills a mutant that survived the suite
// before it (Scripts/mutate lists them).

/// Project `other` wants a bridge under the name project `seed`'s bridge has.
let otherOnDocker0 = """
version: 1
project: other
networks:
  lab:
    bridge: docker0
    subnets: [{subnet: 10.77.0.0/24}]
containers:
  probe: {networks: [lab]}
"""

@Suite struct AnotherProjectsLink {
    /// `seed` applied; `other` names seed's bridge `docker0`: a conflict, never a
    /// takeover — no veth of `other` on it, no address of `other` on it.
    @Test func aLinkMarkedByAnotherProjectIsAConflictNotATakeover() throws {
        let seeded = try converge(seedSpec, from: pristineHost()).1
        let (compiled, plan) = try planFor(otherOnDocker0, seeded)
        #expect(plan.conflicts.map(\.description) == [
            "network.lab: link docker0 in namespace host exists and belongs to netform:seed/net/bridge",
        ])
        #expect(!plan.steps.contains { $0.operation == .deleteLink(namespace: .host, name: "docker0") })
        _ = compiled
    }

    /// The audit itself can fail: a plan that attaches a veth to seed's bridge and
    /// adds an address there is caught (what the weakened ownership check planned).
    @Test func theStructuralAuditCatchesATakeover() throws {
        let seeded = asObserved(try converge(seedSpec, from: pristineHost()).1)
        let (compiled, honest) = try planFor(otherOnDocker0, seeded)
        var forged = honest
        forged.conflicts = []
        forged.steps = [
            Step(id: 1, resource: Resource(.container, "probe"), change: .create,
                 operation: .createVeth(namespace: .host, name: "nfvforged", mac: nil, master: "docker0", mtu: 1500,
                                        alias: "netform:other/ep/probe/lab", peer: VethPeerRef(namespace: .named("other.probe"), name: "eth0"),
                                        peerMac: nil, peerAlias: "netform:other/ep/probe/lab"),
                 inverse: [.deleteLink(namespace: .host, name: "nfvforged")], dependsOn: [], disruption: .none, details: []),
            Step(id: 2, resource: Resource(.network, "lab"), change: .update,
                 operation: .addAddress(namespace: .host, address: AddressState(link: "docker0", address: IPAddress("10.77.0.1")!, prefixLength: 24)),
                 inverse: [], dependsOn: [], disruption: .none, details: []),
        ]
        let v = OwnershipAudit.violations(forged, observed: seeded, desired: compiled.desired)
        #expect(v.count == 2, "\(v)")
        #expect(v.allSatisfy { $0.contains("link docker0 in host") })
    }
}

@Suite struct FingerprintScope {
    /// A change inside a container namespace of the plan's scope (not the host's)
    /// makes a saved plan stale: refused as such, before any step runs.
    @Test func aChangeInAContainerNamespaceMakesTheSavedPlanStale() throws {
        let seeded = try converge(seedSpec, from: pristineHost()).1
        let (r, driver) = simulatedReconciler(seeded)
        let changed = seedSpec.replacingOccurrences(of: "    bridge: docker0\n", with: "    bridge: docker0\n    mtu: 1400\n")
        let planned = try PlanJSON.decoder().decode(Reconciler.PlannedChange.self,
                                                    from: try PlanJSON.encoder(pretty: false).encode(try r.plan(try spec(changed))))
        #expect(planned.plan.scope.contains(.named("seed.container1")))
        try r.checkFresh(planned)
        // Another tool adds an address in container1's namespace (on a link of its own).
        let ns = NamespaceRef.named("seed.container1")
        try driver.perform(.createBridge(namespace: ns, name: "dbg0", mtu: 1500, mac: nil, alias: "someone's"))
        try driver.perform(.addAddress(namespace: ns, address: AddressState(link: "dbg0", address: IPAddress("192.0.2.9")!, prefixLength: 32)))
        #expect(throws: Reconciler.StalePlan.self) { try r.checkFresh(planned) }
        let log = driver.log.count
        _ = try? r.checkSaved(planned)
        #expect(driver.log.count == log, "nothing ran")
    }

    @Test(arguments: ["address", "mtu", "route", "alias", "isolated", "neighbour", "fdb"])
    func everyAttributeOfAScopedNamespaceIsInTheFingerprint(_ what: String) throws {
        let seeded = asObserved(try converge(seedSpec, from: pristineHost()).1)
        let plan = try planFor(seedSpec, seeded).1
        let ref = NamespaceRef.named("seed.container2")
        #expect(plan.scope.contains(ref))
        var s = seeded
        let eth0 = s[ref]!.links.firstIndex { $0.name == "eth0" }!
        switch what {
        case "address": s[ref]!.addresses.append(AddressState(link: "eth0", address: IPAddress("172.17.0.99")!, prefixLength: 16))
        case "mtu": s[ref]!.links[eth0].mtu = 1400
        case "route": s[ref]!.routes.append(RouteState(destination: IPNetwork("10.1.0.0/16"), family: .v4, device: "eth0", proto: 4))
        case "alias": s[ref]!.links[eth0].alias = "netform:seed/ep/container2/aislada"
        case "isolated": s[ref]!.links[eth0].isolated = true
        case "neighbour": s[ref]!.neighbours.append(NeighbourState(link: "eth0", address: IPAddress("172.17.0.50")!, mac: MACAddress("02:42:ac:11:00:32")!))
        default: s[ref]!.fdb.append(FDBEntryState(link: "eth0", mac: MACAddress("02:42:ac:11:00:32")!))
        }
        #expect(Fingerprint.of(s, scope: plan.scope) != plan.fingerprint, "\(what) in \(ref)")
    }
}

@Suite struct StickyAddresses {
    /// container1 holds 172.17.0.2 (dynamic, sticky); the spec now gives that address
    /// to a newcomer statically: the static address wins, container1 moves, and no
    /// two containers share an address.
    @Test func aStaticAddressTakesPrecedenceOverAStickyOne() throws {
        let seeded = try converge(seedSpec, from: pristineHost()).1
        let more = seedSpec.replacingOccurrences(of: "containers:\n", with: "containers:\n  newcomer: {networks: {bridge: {ipv4: 172.17.0.2}}}\n")
        let (compiled, plan) = try planFor(more, seeded)
        func v4(_ c: String) -> String? { compiled.endpoints.first { $0.container == c && $0.network == "bridge" }?.ipv4?.address.description }
        #expect(v4("newcomer") == "172.17.0.2")
        #expect(v4("container1") == "172.17.0.4", "the lowest free address")
        #expect(v4("container2") == "172.17.0.3")
        let all = compiled.endpoints.compactMap(\.ipv4?.address)
        #expect(Set(all).count == all.count, "duplicate addresses: \(all)")
        #expect(plan.conflicts.isEmpty)
        let after = try applied(plan, to: seeded)
        #expect(try planFor(more, after).1.isEmpty)
    }
}

@Suite struct LockHolder {
    /// The PID in the lock file is written by netform (the process that took it).
    @Test func theLockFileNamesItsHolderWrittenByNetformItself() throws {
        let dir = try #require(mkdtempPath())
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/apply.lock"
        try Data("12345678 stale text\n".utf8).write(to: URL(fileURLWithPath: path))
        let lock = try ApplyLock(path: path, timeout: .zero)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "\(getpid())\n")
        withExtendedLifetime(lock) {}
    }

    /// A waiting apply that cannot read the kernel's lock table still names the
    /// holder from the PID netform wrote (a live process).
    @Test func theWrittenPIDNamesTheHolderWhenItIsAlive() throws {
        let dir = try #require(mkdtempPath())
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/apply.lock"
        let lock = try ApplyLock(path: path, timeout: .zero)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(fd) }
        #expect(ApplyLock.holder(fd: fd, device: 0, inode: 0) == getpid(), "no /proc/locks entry matches device 0: the file's PID is used")
        withExtendedLifetime(lock) {}
    }
}

extension LockHolder {
    /// A PID left in the file by a killed apply is never named (no process has it).
    @Test func aDeadPIDInTheFileIsNotTheHolder() throws {
        let dir = try #require(mkdtempPath())
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/apply.lock"
        try Data("99999999\n".utf8).write(to: URL(fileURLWithPath: path))
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(fd) }
        #expect(ApplyLock.holder(fd: fd, device: 0, inode: 0) == nil)
    }
}

func mkdtempPath() -> String? {
    var template = Array("/tmp/netform-blindspot-XXXXXX".utf8CString)
    guard let p = mkdtemp(&template) else { return nil }
    return String(cString: p)
}

/// A driver that silently does not perform one kind of operation (the kernel
/// accepted it, then the object is not there): verification must notice.
final class ForgetfulDriver: OperationDriver {
    let inner: SimulatedDriver
    let forgets: (Model.Operation) -> Bool

    init(_ state: HostState, forgets: @escaping (Model.Operation) -> Bool) {
        inner = SimulatedDriver(state)
        self.forgets = forgets
    }

    var state: HostState { inner.state }

    func perform(_ op: Model.Operation) throws(ExecuteError) {
        if forgets(op) { return }
        try inner.perform(op)
    }

    func awaitGone(_ links: [String]) throws(ExecuteError) {}
}

@Suite struct VerificationFailure {
    @Test func aPlanThatDoesNotConvergeIsRolledBackCompletely() throws {
        let start = pristineHost()
        let driver = ForgetfulDriver(start) { op in
            if case .addRoute(.named("seed.container2"), _) = op { return true }
            return false
        }
        var r = Reconciler(observe: { _, n in asObserved(driver.state, neighbours: n) }, driver: driver, localHost: "node1")
        r.verifyAttempts = 2
        r.verifyDelay = .milliseconds(1)
        let planned = try r.plan(try spec(seedSpec))
        let outcome = try r.apply(planned)
        #expect(outcome.report.succeeded, "every step ran")
        #expect(!outcome.succeeded)
        #expect(outcome.verificationRolledBack)
        #expect(outcome.remaining?.steps.map(\.operation) == [
            .addRoute(namespace: .named("seed.container2"),
                      route: RouteState(destination: nil, family: .v4, gateway: IPAddress("172.17.0.1"), device: "eth0")),
        ])
        #expect(driver.state.normalized() == start.normalized(), "the host is exactly as before")
    }
}

@Suite struct RollbackOfDeletions {
    /// A plan that deletes links (a network removed: its bridge; a container moved:
    /// its veth) and a namespace: a failure after each step puts every one back.
    @Test func deletedLinksAndNamespacesAreRebuiltByRollback() throws {
        let iccOff = seedSpec.replacingOccurrences(of: "  aislada:\n", with: "  aislada:\n    icc: false\n")
        let start = try converge(iccOff, from: pristineHost()).1
        let smaller = seedSpec
            .replacingOccurrences(of: "  aislada:\n    subnets: [{subnet: 172.18.0.0/16}]\n", with: "")
            .replacingOccurrences(of: "  container3: {networks: [aislada]}\n", with: "  container3: {networks: [bridge]}\n")
            .replacingOccurrences(of: "  loner: {networks: []}", with: "")
        let plan = try planFor(smaller, start).1
        let deletes = plan.steps.filter { if case .deleteLink = $0.operation { true } else { false } }
        #expect(deletes.count == 2, "the aislada bridge and container3's veth: \(plan.steps.map(\.operation))")
        #expect(plan.steps.contains { $0.operation == .deleteNamespace(name: "seed.loner") })
        for k in 1...plan.steps.count {
            let driver = SimulatedDriver(start)
            let report = Executor.run(plan, driver: driver, failpoint: Failpoint(step: k))
            #expect(report.failure?.rolledBack == true, "step \(k)")
            #expect(driver.state.normalized() == start.normalized(), "rollback after a failure at step \(k) differs")
        }
        // The isolated port came back isolated.
        let driver = SimulatedDriver(start)
        _ = Executor.run(plan, driver: driver, failpoint: Failpoint(step: plan.steps.count))
        let veth = Naming.hostVeth(project: "seed", container: "container3", network: "aislada")
        #expect(driver.state[.host]?.link(named: veth)?.isolated == true)
    }

    @Test func turningIsolationOnAndOffIsInPlaceAndRollsBack() throws {
        let start = try converge(seedSpec, from: pristineHost()).1
        let iccOff = seedSpec.replacingOccurrences(of: "    bridge: docker0\n", with: "    bridge: docker0\n    icc: false\n")
        let plan = try planFor(iccOff, start).1
        let v1 = Naming.hostVeth(project: "seed", container: "container1", network: "bridge")
        let v2 = Naming.hostVeth(project: "seed", container: "container2", network: "bridge")
        let links = { (p: Plan) in p.steps.map(\.operation).filter { if case .setLink = $0 { true } else { false } } }
        #expect(plan.steps.count == 3, "the two ports and the firewall's icc rule")
        #expect(sameOperations(links(plan), [
            .setLink(namespace: .host, name: v1, change: LinkChangeSet(isolated: true)),
            .setLink(namespace: .host, name: v2, change: LinkChangeSet(isolated: true)),
        ]))
        for k in 1...plan.steps.count {
            let driver = SimulatedDriver(start)
            _ = Executor.run(plan, driver: driver, failpoint: Failpoint(step: k))
            #expect(driver.state.normalized() == start.normalized())
        }
        let after = try applied(plan, to: start)
        #expect(try planFor(iccOff, after).1.isEmpty)
        let back = try planFor(seedSpec, after).1
        #expect(sameOperations(links(back), [
            .setLink(namespace: .host, name: v1, change: LinkChangeSet(isolated: false)),
            .setLink(namespace: .host, name: v2, change: LinkChangeSet(isolated: false)),
        ]))
    }
}

/// The same operations, in any order.
func sameOperations(_ a: [Model.Operation], _ b: [Model.Operation]) -> Bool {
    a.count == b.count && a.allSatisfy { op in b.contains(op) } && b.allSatisfy { op in a.contains(op) }
}

@Suite struct VXLANAndMacvlan {
    let spec = """
    version: 1
    project: mix
    networks:
      ov: {driver: overlay, vni: 4100, subnets: [{subnet: 10.3.0.0/24}]}
      lan: {driver: macvlan, parent: eth0, mode: bridge, subnets: [{subnet: 192.168.1.0/24, gateway: 192.168.1.1, ip_range: 192.168.1.192/27}]}
    containers:
      a: {networks: [ov, lan]}
      b: {networks: [ov]}
    """

    @Test func overlayAndMacvlanConvergeAndRollBackAtEveryStep() throws {
        var host = pristineHost()
        // The LAN's own address is on eth0 already; the macvlan subnet is the LAN's.
        host[.host]!.addresses = [AddressState(link: "eth0", address: IPAddress("192.168.1.10")!, prefixLength: 24)]
        let (compiled, plan) = try planFor(spec, host)
        #expect(plan.conflicts.isEmpty, "\(plan.conflicts)")
        #expect(plan.steps.contains { if case .createVXLAN(.host, _, let s, _, _, _, _) = $0.operation { s.vni == 4100 } else { false } })
        #expect(plan.steps.contains { if case .createMacvlan(.named("mix.a"), _, "eth0", "bridge", _, _, _) = $0.operation { true } else { false } })
        #expect(OwnershipAudit.violations(plan, observed: asObserved(host), desired: compiled.desired).isEmpty)
        let after = try applied(plan, to: host)
        #expect(projection(asObserved(after), like: compiled.desired).normalized() == comparable(compiled.desired))
        #expect(try planFor(spec, after).1.isEmpty)
        #expect(after[.host]?.link(named: "eth0") == host[.host]?.link(named: "eth0"), "the macvlan parent is not changed")
        for k in 1...plan.steps.count {
            let driver = SimulatedDriver(host)
            _ = Executor.run(plan, driver: driver, failpoint: Failpoint(step: k))
            #expect(driver.state.normalized() == host.normalized(), "step \(k)")
        }
        // Destroy: VXLAN and macvlan go, eth0 stays; a failure at every step of the
        // destroy rebuilds them.
        let destroy = Planner.plan(DesiredState(project: "mix", state: HostState(namespaces: [.host: NamespaceState(ref: .host)])),
                                   observed: asObserved(after))
        #expect(destroy.steps.contains { if case .deleteLink(.host, _) = $0.operation { true } else { false } }, "the VXLAN port")
        for k in 1...destroy.steps.count {
            let driver = SimulatedDriver(after)
            let report = Executor.run(destroy, driver: driver, failpoint: Failpoint(step: k))
            #expect(report.failure?.rolledBack == true, "\(report.failure?.rollbackErrors ?? [])")
            let same = driver.state.normalized() == after.normalized()
            #expect(same, "destroy step \(k): \(destroy.steps.map(\.operation)) inverses \(destroy.steps.map(\.inverse))")
        }
        let gone = try applied(destroy, to: after)
        #expect(gone[.host]?.links.map(\.name).sorted() == host[.host]?.links.map(\.name).sorted())
    }
}

@Suite struct StructuralOwnership {
    /// The seed scenarios the suite uses, audited by typed targets.
    @Test func noOperationOfTheSeedPlansTouchesAForeignObject() throws {
        let start = pristineHost()
        let (compiled, plan) = try planFor(seedSpec, start)
        var found = OwnershipAudit.violations(plan, observed: asObserved(start), desired: compiled.desired)
        let after = try applied(plan, to: start)
        let changed = seedSpec
            .replacingOccurrences(of: "  container3: {networks: [aislada]}\n", with: "  container4: {networks: [aislada, bridge]}\n")
            .replacingOccurrences(of: "ipv4: 172.17.0.3", with: "ipv4: 172.17.0.33")
            .replacingOccurrences(of: "    bridge: docker0\n", with: "    bridge: docker0\n    mtu: 1400\n    icc: false\n")
        let (c2, p2) = try planFor(changed, after)
        found += OwnershipAudit.violations(p2, observed: asObserved(after), desired: c2.desired)
        let destroy = DesiredState(project: "seed", state: HostState(namespaces: [.host: NamespaceState(ref: .host)]))
        let p3 = Planner.plan(destroy, observed: asObserved(after))
        found += OwnershipAudit.violations(p3, observed: asObserved(after), desired: destroy)
        #expect(found.isEmpty, "\(found.joined(separator: "\n"))")
    }
}

@Suite struct MoreOwnership {
    /// A link without a mark in someone else's interface group (another tool that
    /// uses groups, or another project's half-made link) is not this project's.
    @Test(arguments: [UInt32(7), OwnerMark.linkGroup(project: "other")])
    func aForeignGroupDoesNotMakeALinkOurs(_ group: UInt32) throws {
        var state = pristineHost()
        state[.host]!.links.append(LinkState(name: "docker0", kind: .bridge, mtu: 1500, group: group))
        let plan = try planFor(seedSpec, state).1
        #expect(plan.conflicts.map(\.description) == ["network.bridge: link docker0 in namespace host exists and is not netform's"])
    }

    /// A namespace the project owns but no longer wants is in the saved plan's
    /// scope: a change there (while its deletion waits) makes the plan stale.
    @Test func aNamespaceToBeDeletedIsInTheFingerprint() throws {
        let seeded = asObserved(try converge(seedSpec, from: pristineHost()).1)
        let smaller = seedSpec.replacingOccurrences(of: "  container3: {networks: [aislada]}\n", with: "")
        let plan = try planFor(smaller, seeded).1
        let ref = NamespaceRef.named("seed.container3")
        #expect(plan.steps.map(\.operation).contains(.deleteNamespace(name: "seed.container3")))
        #expect(plan.scope.contains(ref))
        var changed = seeded
        changed[ref]!.links.append(LinkState(name: "dbg0", kind: .bridge, mtu: 1500, alias: "a debugging session's"))
        #expect(Fingerprint.of(changed, scope: plan.scope) != plan.fingerprint)
    }
}
