import Addressing
import Compile
import Foundation
import Model
import Spec
import Testing
@testable import Plan
import Reconcile

// MARK: helpers

func spec(_ text: String, file: String = "lab.yaml") throws -> Spec {
    let r = SpecLoader.load(bytes: Array(text.utf8), file: file)
    return try #require(r.spec, "\(r.rendered())")
}

/// A host as the kernel shows it before netform: loopback, an uplink with an
/// address and a default route — plus foreign sentinels another tool made.
func pristineHost(sentinels: Bool = true) -> HostState {
    var host = NamespaceState(ref: .host, links: [
        LinkState(name: "lo", kind: .loopback, mtu: 65536),
        LinkState(name: "eth0", kind: .other("physical"), mtu: 1500, mac: MACAddress("52:54:00:12:34:56")),
    ])
    host.addresses = [AddressState(link: "eth0", address: IPAddress("192.168.1.10")!, prefixLength: 24)]
    host.routes = [RouteState(destination: nil, family: .v4, gateway: IPAddress("192.168.1.1"), device: "eth0", proto: 3)]
    host.sysctls = [HostSysctl.ipv4Forwarding: "0", HostSysctl.ipv6Forwarding: "0"]
    var state = HostState(namespaces: [.host: host])
    if sentinels {
        state[.host]!.links += [
            LinkState(name: "br-sentinel", kind: .bridge, mtu: 1500, alias: "someone else's"),
            LinkState(name: "vsent0", kind: .veth(peer: VethPeerRef(namespace: .named("sentinel-ns"), name: "eth0")), master: "br-sentinel"),
        ]
        state[.host]!.addresses.append(AddressState(link: "br-sentinel", address: IPAddress("10.99.0.1")!, prefixLength: 24))
        state[.host]!.routes.append(RouteState(destination: IPNetwork("10.98.0.0/16"), family: .v4, gateway: IPAddress("192.168.1.254"), device: "eth0", proto: 4))
        state[.named("sentinel-ns")] = NamespaceState(ref: .named("sentinel-ns"), links: [
            LinkState(name: "lo", kind: .loopback, mtu: 65536),
            LinkState(name: "eth0", kind: .veth(peer: VethPeerRef(namespace: .host, name: "vsent0"))),
        ], addresses: [AddressState(link: "eth0", address: IPAddress("10.99.0.2")!, prefixLength: 24)])
        // A user's own table, and another project's.
        state[.host]!.firewall = [sentinelTable, otherProjectTable]
    }
    return state
}

/// A foreign nftables table (a user's own drop rule).
let sentinelTable = FirewallTable(family: "inet", name: "sentinel", chains: [
    .init(name: "input", base: .init(type: "filter", hook: "input", priority: 0, policy: "accept"), rules: [
        .init(expr: [["match": ["op": "==", "left": ["payload": ["protocol": "tcp", "field": "dport"]], "right": 23]], ["drop": nil]],
              comment: "sentinel"),
    ]),
])

/// Another netform project's table: as foreign to `seed` as the user's.
let otherProjectTable = FirewallTable(family: "inet", name: "netform_other", chains: [
    .init(name: "forward", base: .init(type: "filter", hook: "forward", priority: 0, policy: "accept"), rules: []),
])

/// What the kernel would report: no veth peers, interface indexes filled in; and,
/// for a reading that leaves them out, no neighbour entries.
func asObserved(_ s: HostState, neighbours: NeighbourReading = .read) -> HostState {
    var out = s
    if neighbours == .leftOut { out.leaveOutNeighbours() }
    var index: Int32 = 1
    for ref in out.namespaces.keys {
        for i in out[ref]!.links.indices {
            if case .veth = out[ref]!.links[i].kind { out[ref]!.links[i].kind = .veth(peer: nil) }
            out[ref]!.links[i].index = index
            index += 1
        }
    }
    return out
}

/// For every prefix of `plan`: run it on the simulated kernel, then the inverses in
/// reverse order; the host must be exactly as it started.
func expectEveryPrefixRollsBack(_ plan: Plan, from start: HostState, sourceLocation: SourceLocation = #_sourceLocation) throws {
    for k in 0...plan.steps.count {
        var s = start
        for step in plan.steps.prefix(k) { try s.apply(step.operation) }
        for step in plan.steps.prefix(k).reversed() {
            for op in step.inverse { try s.apply(op) }
        }
        #expect(s.normalized() == start.normalized(), "rollback after \(k) steps differs", sourceLocation: sourceLocation)
    }
}

func applied(_ plan: Plan, to state: HostState) throws -> HostState {
    var s = state
    for step in plan.steps { try s.apply(step.operation) }
    return s
}

/// `state` after a project was applied and destroyed: IP forwarding, which netform
/// turned on, stays on (a host-wide setting netform never resets).
func forwardingLeftOn(_ state: HostState) -> HostState {
    var s = state
    s[.host]?.sysctls[HostSysctl.ipv4Forwarding] = "1"
    return s
}

/// The namespaces whose `hosts` file a plan writes, sorted.
func hostsWrites(_ plan: Plan) -> [String] {
    plan.steps.compactMap { step -> String? in
        if case .writeNamespaceFile(let f) = step.operation, f.name == "hosts" { return f.namespace }
        return nil
    }.sorted()
}

/// The text of a namespace's `hosts` in `state`.
func hostsFile(_ namespace: String, in state: HostState) -> String? {
    state[.host]?.netnsFiles.first { $0.namespace == namespace && $0.name == "hosts" }?.content
}

/// The part of `state` that `desired` speaks about: its namespaces, the project's
/// links there (and lo in created namespaces), their addresses and owned routes.
func projection(_ state: HostState, like desired: DesiredState) -> HostState {
    var out = HostState()
    for (ref, want) in desired.state.namespaces {
        guard let have = state[ref] else { continue }
        var ns = NamespaceState(ref: ref, owner: have.owner)
        let names = Set(want.links.map(\.name))
        ns.links = have.links.filter { names.contains($0.name) || ($0.owner?.project == desired.project) }
        let kept = Set(ns.links.map(\.name))
        ns.addresses = have.addresses.filter { kept.contains($0.link) }
        ns.routes = have.routes.filter(\.isOwned)
        ns.firewall = have.firewall.filter { $0.belongs(to: desired.project) }
        ns.sysctls = have.sysctls.filter { want.sysctls[$0.key] != nil }
        ns.netnsFiles = have.netnsFiles.filter { $0.project == desired.project }
        out[ref] = ns
    }
    return out
}

/// Desired with veth peers stripped, as it will be compared with observations.
func comparable(_ d: DesiredState) -> HostState { asObserved(d.state).normalized() }

/// Plans `specText` against what the kernel would report for `truth`, applies the
/// plan to `truth` (the simulated kernel, which knows veth peers) and returns the new
/// truth.
func converge(_ specText: String, from truth: HostState) throws -> (DesiredState, HostState, Plan) {
    let (compiled, plan) = try planFor(specText, truth)
    #expect(plan.conflicts.isEmpty, "\(plan.conflicts)")
    return (compiled.desired, try applied(plan, to: truth), plan)
}

/// A spec of `count` containers over three networks: plans of thousands of steps.
func manyContainersSpec(_ count: Int) -> String {
    let containers = (0..<count).map { "  c\($0): {networks: [n\($0 % 3)]}" }.joined(separator: "\n")
    return """
        version: 1
        project: many
        networks:
          n0: {subnets: [{subnet: 10.60.0.0/16}]}
          n1: {subnets: [{subnet: 10.61.0.0/16}]}
          n2: {subnets: [{subnet: 10.62.0.0/16}]}
        containers:
        \(containers)
        """
}

func planFor(_ specText: String, _ truth: HostState) throws -> (CompiledSpec, Plan) {
    let observed = asObserved(truth)
    let compiled = try Compiler.compile(try spec(specText), observed: observed)
    return (compiled, Planner.plan(compiled.desired, observed: observed))
}

let seedSpec = """
version: 1
project: seed
networks:
  bridge:
    bridge: docker0
    subnets: [{subnet: 172.17.0.0/16, gateway: 172.17.0.1}]
  aislada:
    subnets: [{subnet: 172.18.0.0/16}]
containers:
  container1: {networks: [bridge]}
  container2: {networks: {bridge: {ipv4: 172.17.0.3}}}
  container3: {networks: [aislada]}
  loner: {networks: []}
"""

// MARK: tests

@Suite struct Convergence {
    @Test func seedFromEmptyConvergesAndSecondPlanIsEmpty() throws {
        let start = pristineHost()
        let (desired, after, plan) = try converge(seedSpec, from: start)
        #expect(!plan.steps.isEmpty)
        #expect(projection(asObserved(after), like: desired).normalized() == comparable(desired))
        let again = try planFor(seedSpec, after).1
        #expect(again.isEmpty, "second plan: \(again.steps.map(\.operation))")
    }

    /// Verification after an apply plans without the fingerprint and inventory: it
    /// must still see every change and conflict a full plan sees, at every stage.
    @Test func verificationSeesWhatAFullPlanSees() throws {
        var truth = pristineHost()
        // A foreign link in the way of the seed's bridge: a conflict for both.
        truth[.host]!.links.append(LinkState(name: "docker0", kind: .bridge))
        let (compiled, full) = try planFor(seedSpec, truth)
        let verify = Planner.changesStillNeeded(compiled.desired, observed: asObserved(truth))
        #expect(!full.conflicts.isEmpty)
        #expect(verify.steps == full.steps && verify.conflicts == full.conflicts)

        let (desired, half, plan) = try converge(seedSpec, from: pristineHost())
        // Half the steps applied: the same remaining changes.
        let partial = Plan(project: plan.project, steps: Array(plan.steps.prefix(plan.steps.count / 2)), conflicts: [],
                           fingerprint: "", scope: [], existing: [], unmanaged: [])
        let midway = asObserved(try applied(partial, to: pristineHost()))
        let rest = Planner.plan(desired, observed: midway)
        #expect(!rest.steps.isEmpty)
        #expect(Planner.changesStillNeeded(desired, observed: midway).steps == rest.steps)
        #expect(Planner.changesStillNeeded(desired, observed: asObserved(half)).isEmpty)
    }

    @Test func seedAddressesAndMACsAreDockers() throws {
        let compiled = try Compiler.compile(try spec(seedSpec), observed: pristineHost())
        func ep(_ c: String) -> Endpoint? { compiled.endpoints.first { $0.container == c } }
        #expect(ep("container1")?.ipv4?.description == "172.17.0.2/16 dev eth0")
        #expect(ep("container1")?.mac?.description == "02:42:ac:11:00:02")
        #expect(ep("container2")?.ipv4?.description == "172.17.0.3/16 dev eth0")
        #expect(ep("container2")?.mac?.description == "02:42:ac:11:00:03")
        #expect(ep("container3")?.ipv4?.description == "172.18.0.2/16 dev eth0")
        let ns = try #require(compiled.desired.state[.named("seed.container1")])
        #expect(ns.routes == [RouteState(destination: nil, family: .v4, gateway: IPAddress("172.17.0.1"), device: "eth0")])
        let loner = try #require(compiled.desired.state[.named("seed.loner")])
        #expect(loner.links.map(\.name) == ["lo"], "a container without networks has only loopback")
    }

    /// The builder's chunks give back every step once, in order, at and around a
    /// chunk's size, and are empty afterwards.
    @Test func stepChunksJoinEveryStepInOrder() {
        let step = Step(id: 0, resource: Resource(.host, "x"), change: .create, operation: .deleteNamespace(name: "x"),
                        inverse: [], disruption: .none)
        for n in [0, 1, StepChunks.chunkSize - 1, StepChunks.chunkSize, StepChunks.chunkSize + 1, 2 * StepChunks.chunkSize + 7] {
            var chunks = StepChunks()
            for i in 0..<n {
                var s = step
                s.id = i + 1
                chunks.append(s)
            }
            #expect(chunks.count == n)
            let joined = chunks.joined()
            #expect(joined.map(\.id) == Array(0..<n).map { $0 + 1 }, "n = \(n)")
            #expect(chunks.count == 0 && chunks.joined().isEmpty)
        }
    }

    /// A plan of more steps than the builder keeps in one chunk (4096): every step
    /// in emission order, numbered 1...n, after its dependencies, the same for
    /// verification, and applied it converges.
    @Test func aPlanOfManyChunksKeepsItsOrder() throws {
        let (desired, after, plan) = try converge(manyContainersSpec(900), from: pristineHost())
        #expect(plan.steps.count > 4096)
        #expect(plan.steps.map(\.id) == Array(1...plan.steps.count))
        #expect(plan.steps.allSatisfy { s in s.dependsOn.allSatisfy { $0 < s.id } })
        #expect(Planner.changesStillNeeded(desired, observed: asObserved(pristineHost())).steps == plan.steps)
        #expect(Planner.plan(desired, observed: asObserved(after)).isEmpty)
    }

    @Test func stepsAreTopologicallyOrdered() throws {
        let (_, _, plan) = try converge(seedSpec, from: pristineHost())
        for step in plan.steps {
            #expect(step.dependsOn.allSatisfy { $0 < step.id }, "step \(step.id) depends on a later step")
        }
        // The veth of container1 waits for its namespace and the bridge.
        let veth = try #require(plan.steps.first {
            if case .createVeth(_, _, _, _, _, _, let peer, _, _) = $0.operation { return peer.namespace == .named("seed.container1") }
            return false
        })
        let deps = veth.dependsOn.map { plan.steps[$0 - 1].operation }
        #expect(deps.contains(.createNamespace(name: "seed.container1", owner: OwnerMark.container("seed", "container1"))))
        #expect(deps.contains { if case .createBridge(_, "docker0", _, _, _) = $0 { true } else { false } })
    }

    @Test func foreignSentinelsAreNeverTouched() throws {
        let start = pristineHost()
        let (desired, after, plan) = try converge(seedSpec, from: start)
        // Structurally (typed targets), then by text as a second net.
        #expect(OwnershipAudit.violations(plan, observed: asObserved(start), desired: desired).isEmpty)
        for step in plan.steps {
            for op in [step.operation] + step.inverse {
                let text = "\(op)"
                #expect(!text.contains("sentinel") && !text.contains("vsent0") && !text.contains("\"eth0\", kind: .other"), "\(op)")
                if case .replaceFirewallTable(_, let t) = op { #expect(t.belongs(to: "seed")) }
                if case .deleteFirewallTable(_, _, let name) = op { #expect(name == "netform_seed") }
            }
        }
        #expect(after[.host]?.firewall.filter { !$0.belongs(to: "seed") } == [sentinelTable, otherProjectTable])
        for name in ["br-sentinel", "vsent0", "eth0", "lo"] {
            #expect(after[.host]?.link(named: name) == start[.host]?.link(named: name))
        }
        let ref = NamespaceRef.named("sentinel-ns")
        #expect(HostState(namespaces: [ref: start[ref]!]).normalized() == HostState(namespaces: [ref: after[ref]!]).normalized())
        // Destroying the project (empty spec) leaves them too.
        let destroy = Planner.plan(DesiredState(project: "seed", state: HostState(namespaces: [.host: NamespaceState(ref: .host)])), observed: asObserved(after))
        let cleaned = asObserved(try applied(destroy, to: after))
        #expect(cleaned.normalized() == forwardingLeftOn(asObserved(start)).normalized(), "destroy must return the host to exactly its original state")
    }

    @Test func otherProjectsAreForeign() throws {
        let (_, after, _) = try converge(seedSpec, from: pristineHost())
        // Another project with different names plans around the seed project's objects.
        let other = try spec("""
        version: 1
        project: other
        networks:
          n: {subnets: [{subnet: 10.50.0.0/24}]}
        containers:
          c: {networks: [n]}
        """)
        let observed = asObserved(after)
        let plan = Planner.plan(try Compiler.compile(other, observed: observed).desired, observed: observed)
        #expect(plan.conflicts.isEmpty)
        for step in plan.steps {
            #expect(!"\(step.operation)".contains("seed."), "\(step.operation)")
            if case .deleteLink = step.operation { Issue.record("other project deletes a link: \(step.operation)") }
            if case .deleteNamespace = step.operation { Issue.record("other project deletes a namespace: \(step.operation)") }
        }
    }
}

@Suite struct Drift {
    func seeded() throws -> (DesiredState, HostState) {
        let (d, after, _) = try converge(seedSpec, from: pristineHost())
        return (d, after)
    }

    func replan(_ state: HostState) throws -> Plan {
        try planFor(seedSpec, state).1
    }

    @Test func deletedVethIsRecreated() throws {
        var (desired, state) = try seeded()
        let veth = Naming.hostVeth(project: "seed", container: "container1", network: "bridge")
        try state.apply(.deleteLink(namespace: .host, name: veth))
        // The kernel took the container end too.
        #expect(state[.named("seed.container1")]?.link(named: "eth0") == nil)
        let plan = try replan(state)
        #expect(plan.conflicts.isEmpty)
        #expect(Set(plan.steps.map(\.resource)) == [Resource(.container, "container1")])
        let ops = plan.steps.map(\.operation)
        #expect(ops.count == 3, "veth, address, route: \(ops)")
        let fixed = try applied(plan, to: state)
        #expect(projection(asObserved(fixed), like: desired).normalized() == comparable(desired))
        #expect(try replan(fixed).isEmpty)
    }

    @Test func deletedAddressIsReadded() throws {
        var (_, state) = try seeded()
        let a = AddressState(link: "eth0", address: IPAddress("172.17.0.3")!, prefixLength: 16)
        try state.apply(.deleteAddress(namespace: .named("seed.container2"), address: a))
        // The default route depended on it; the kernel drops it with the address.
        let route = state[.named("seed.container2")]!.routes[0]
        try state.apply(.deleteRoute(namespace: .named("seed.container2"), route: route))
        let plan = try replan(state)
        #expect(plan.steps.map(\.operation) == [
            .addAddress(namespace: .named("seed.container2"), address: a),
            .addRoute(namespace: .named("seed.container2"), route: route),
        ])
        #expect(plan.steps[1].dependsOn == [1])
    }

    @Test func deletedNamespaceIsRecreatedAndItsStaleHostEndReplaced() throws {
        var (desired, state) = try seeded()
        // Deleted by hand; the host end lingers for a moment (asynchronous teardown).
        state.namespaces[.named("seed.container3")] = nil
        let plan = try replan(state)
        let kinds = plan.steps.map { "\($0.change.rawValue) \($0.operation)".prefix(24) }
        #expect(plan.steps.first { if case .deleteLink = $0.operation { true } else { false } } != nil, "\(kinds)")
        #expect(plan.steps.contains { $0.operation == .createNamespace(name: "seed.container3", owner: .container("seed", "container3")) })
        let fixed = try applied(plan, to: state)
        #expect(projection(asObserved(fixed), like: desired).normalized() == comparable(desired))
    }

    @Test func foreignLinkInTheWayIsAConflictNotATakeover() throws {
        var state = pristineHost()
        state[.host]!.links.append(LinkState(name: "docker0", kind: .bridge, mtu: 1500))
        state[.host]!.addresses.append(AddressState(link: "docker0", address: IPAddress("172.17.0.1")!, prefixLength: 16))
        let plan = try planFor(seedSpec, state).1
        #expect(plan.conflicts.map(\.description).contains("network.bridge: link docker0 in namespace host exists and is not netform's"))
    }

    @Test func foreignRouteOverlappingASubnetIsAConflict() throws {
        var state = pristineHost()
        state[.host]!.routes.append(RouteState(destination: IPNetwork("172.18.0.0/24"), family: .v4, gateway: IPAddress("192.168.1.1"), device: "eth0", proto: 4))
        let plan = try planFor(seedSpec, state).1
        #expect(plan.conflicts.count == 1)
        #expect(plan.conflicts.first?.message.contains("foreign route 172.18.0.0/24") == true)
    }

    @Test func foreignNamespaceWithOurNameIsAConflict() throws {
        var state = pristineHost()
        state[.named("seed.container1")] = NamespaceState(ref: .named("seed.container1"), links: [LinkState(name: "lo", kind: .loopback, mtu: 65536)])
        let plan = try planFor(seedSpec, state).1
        #expect(plan.conflicts.map(\.message) == ["namespace seed.container1 exists and is not netform's; remove or rename it"])
        #expect(!plan.steps.contains { $0.operation.namespace == .named("seed.container1") })
    }
}

@Suite struct Changes {
    @Test func mtuChangesInPlace() throws {
        let (_, state, _) = try converge(seedSpec, from: pristineHost())
        let changed = seedSpec.replacingOccurrences(of: "    bridge: docker0\n", with: "    bridge: docker0\n    mtu: 9000\n")
        let plan = try planFor(changed, state).1
        #expect(!plan.steps.isEmpty)
        for step in plan.steps {
            guard case .setLink(_, _, let change) = step.operation else { Issue.record("unexpected \(step.operation)"); continue }
            #expect(change == LinkChangeSet(mtu: 9000))
            #expect(step.disruption == .inPlace)
        }
        // docker0, and both ends of container1's and container2's veths.
        #expect(plan.steps.count == 5)
        #expect(plan.summary == Plan.Summary(add: 0, change: 3, destroy: 0))
    }

    @Test func aLinkThatLostTheProjectsGroupGetsItBack() throws {
        let (_, converged, _) = try converge(seedSpec, from: pristineHost())
        var state = converged
        let docker0 = try #require(state[.host]!.links.firstIndex { $0.name == "docker0" })
        let sentinel = try #require(state[.host]!.links.firstIndex { $0.name == "br-sentinel" })
        let projectGroup = OwnerMark.linkGroup(project: "seed")
        #expect(state[.host]!.links[docker0].group == projectGroup)
        // As a destroy killed between setting its transient group and the delete
        // leaves it; someone else's bridge in another group is none of netform's.
        state[.host]!.links[docker0].group = 0x4e44_0007
        state[.host]!.links[sentinel].group = 5
        let plan = try planFor(seedSpec, state).1
        #expect(plan.steps.map(\.operation) == [.setLink(namespace: .host, name: "docker0", change: LinkChangeSet(group: projectGroup))])
        #expect(plan.steps.first?.inverse == [.setLink(namespace: .host, name: "docker0", change: LinkChangeSet(group: 0x4e44_0007))])
        #expect(plan.summary == Plan.Summary(add: 0, change: 1, destroy: 0))
        let text = PlanRenderer(color: false).render(plan)
        #expect(text.contains("~   docker0 group: 0x4e440007 → 0x\(String(projectGroup, radix: 16))\n"), "\(text)")
        var simulated = state
        for step in plan.steps { try simulated.apply(step.operation) }
        #expect(simulated[.host]!.links[docker0].group == projectGroup)
        #expect(try planFor(seedSpec, simulated).1.steps.isEmpty)
    }

    @Test func removingAContainerDeletesItsNamespaceOnly() throws {
        let (_, state, _) = try converge(seedSpec, from: pristineHost())
        let smaller = seedSpec.replacingOccurrences(of: "  container3: {networks: [aislada]}\n", with: "")
        let plan = try planFor(smaller, state).1
        // Its /etc/netns files first (an interrupted destroy leaves the namespace
        // that names them); container3 was alone on aislada: no other file changes.
        #expect(plan.steps.map(\.operation) == [
            .deleteNamespaceFile(namespace: "seed.container3", name: "hosts", project: "seed"),
            .deleteNamespaceFile(namespace: "seed.container3", name: "resolv.conf", project: "seed"),
            .deleteNamespace(name: "seed.container3"),
        ])
        let veth = Naming.hostVeth(project: "seed", container: "container3", network: "aislada")
        #expect(plan.steps[2].awaitGone == [veth])
        #expect(plan.steps.allSatisfy { $0.disruption == .destroy })
    }

    @Test func movingAContainerToAnotherNetwork() throws {
        let (desired0, state, _) = try converge(seedSpec, from: pristineHost())
        _ = desired0
        let moved = seedSpec.replacingOccurrences(of: "  container3: {networks: [aislada]}", with: "  container3: {networks: [bridge]}")
        let (compiled, plan) = try planFor(moved, state)
        #expect(plan.conflicts.isEmpty, "\(plan.conflicts)")
        let ops = plan.steps.map(\.operation)
        #expect(ops.first == .deleteLink(namespace: .host, name: Naming.hostVeth(project: "seed", container: "container3", network: "aislada")))
        // Links change for container3 only; its new peers learn its name.
        #expect(Set(plan.steps.filter { $0.operation.backend != .files }.map(\.resource)) == [Resource(.container, "container3")])
        #expect(hostsWrites(plan) == ["seed.container1", "seed.container2", "seed.container3"])
        // It stays: its header says what goes instead of "destroy".
        #expect(PlanRenderer(color: false).render(plan).contains("~   container.container3  (in-place, 1 object removed)\n"),
                "\(PlanRenderer(color: false).render(plan))")
        let after = try applied(plan, to: state)
        #expect(hostsFile("seed.container1", in: after)?.contains("172.17.0.4\tcontainer3\n") == true)
        #expect(hostsFile("seed.container3", in: after)?.contains("\tcontainer1\n") == true)
        #expect(projection(asObserved(after), like: compiled.desired).normalized() == comparable(compiled.desired))
        #expect(compiled.endpoints.first { $0.container == "container3" }?.ipv4?.address == IPAddress("172.17.0.4"))
    }

    @Test func addressesAreSticky() throws {
        let (_, state, _) = try converge(seedSpec, from: pristineHost())
        // A new container listed first must not take container1's address.
        let more = seedSpec.replacingOccurrences(of: "containers:\n", with: "containers:\n  newcomer: {networks: [bridge]}\n")
        let (compiled, plan) = try planFor(more, state)
        #expect(compiled.endpoints.first { $0.container == "container1" }?.ipv4?.address == IPAddress("172.17.0.2"))
        #expect(compiled.endpoints.first { $0.container == "newcomer" }?.ipv4?.address == IPAddress("172.17.0.4"))
        #expect(Set(plan.steps.filter { $0.operation.backend != .files }.map(\.resource)) == [Resource(.container, "newcomer")])
        // The containers of its network learn its name; container3 (aislada) does not.
        #expect(hostsWrites(plan) == ["seed.container1", "seed.container2", "seed.newcomer"])
        #expect(hostsFile("seed.container3", in: try applied(plan, to: state))?.contains("newcomer") == false)
    }

    @Test func changingAStaticAddress() throws {
        let (_, state, _) = try converge(seedSpec, from: pristineHost())
        let changed = seedSpec.replacingOccurrences(of: "ipv4: 172.17.0.3", with: "ipv4: 172.17.0.30")
        let plan = try planFor(changed, state).1
        let ns = NamespaceRef.named("seed.container2")
        let old = AddressState(link: "eth0", address: IPAddress("172.17.0.3")!, prefixLength: 16)
        let new = AddressState(link: "eth0", address: IPAddress("172.17.0.30")!, prefixLength: 16)
        let route = RouteState(destination: nil, family: .v4, gateway: IPAddress("172.17.0.1"), device: "eth0")
        // The default route relies on the address: it is taken out first and put back.
        #expect(hostsWrites(plan) == ["seed.container1", "seed.container2"])
        #expect(hostsFile("seed.container1", in: try applied(plan, to: state))?.contains("172.17.0.30\tcontainer2\n") == true)
        #expect(plan.steps.filter { $0.operation.backend != .files }.map(\.operation) == [
            .deleteRoute(namespace: ns, route: route),
            .deleteAddress(namespace: ns, address: old),
            .setLink(namespace: ns, name: "eth0", change: LinkChangeSet(mac: MACAddress("02:42:ac:11:00:1e"))),
            .addAddress(namespace: ns, address: new),
            .addRoute(namespace: ns, route: route),
        ])
        #expect(plan.steps[2].disruption == .linkFlap)
        #expect(plan.steps[4].dependsOn.contains(1) && plan.steps[4].dependsOn.contains(4))
    }

    @Test func iccOffIsolatesBridgePorts() throws {
        let text = seedSpec.replacingOccurrences(of: "    bridge: docker0\n", with: "    bridge: docker0\n    icc: false\n")
        let (desired, after, _) = try converge(text, from: pristineHost())
        let veth = Naming.hostVeth(project: "seed", container: "container1", network: "bridge")
        #expect(after[.host]?.link(named: veth)?.isolated == true)
        #expect(projection(asObserved(after), like: desired).normalized() == comparable(desired))
    }
}

@Suite struct Rollback {
    /// For every prefix of the plan: run it, then the inverses in reverse order; the
    /// host must be exactly as before.
    @Test(arguments: ["empty", "seeded-changed"])
    func everyPrefixRollsBackToTheStart(_ scenario: String) throws {
        var start = pristineHost()
        var text = seedSpec
        if scenario == "seeded-changed" {
            start = try converge(seedSpec, from: start).1
            text = seedSpec
                .replacingOccurrences(of: "  container3: {networks: [aislada]}\n", with: "  container4: {networks: [aislada, bridge]}\n")
                .replacingOccurrences(of: "ipv4: 172.17.0.3", with: "ipv4: 172.17.0.33")
                .replacingOccurrences(of: "    bridge: docker0\n", with: "    bridge: docker0\n    mtu: 1400\n")
        }
        let plan = try planFor(text, start).1
        #expect(plan.steps.count > 5)
        try expectEveryPrefixRollsBack(plan, from: start)
    }
}

@Suite struct PlanFormat {
    @Test func planRoundTripsThroughJSONAndFingerprintTracksState() throws {
        let start = asObserved(pristineHost())
        let plan = try planFor(seedSpec, start).1
        #expect(plan.formatVersion == 1)
        #expect(plan.fingerprint == Fingerprint.of(start, scope: plan.scope))
        var changed = start
        changed[.host]!.links[1].mtu = 9000
        #expect(Fingerprint.of(changed, scope: plan.scope) != plan.fingerprint)
        // Namespaces outside the plan's scope do not matter.
        var elsewhere = start
        elsewhere[.named("unrelated")] = NamespaceState(ref: .named("unrelated"))
        #expect(Fingerprint.of(elsewhere, scope: plan.scope) == plan.fingerprint)
        let data = try PlanJSON.encoder(pretty: true).encode(plan)
        #expect(try PlanJSON.decoder().decode(Plan.self, from: data) == plan)
        // Index changes alone (a re-read) do not change the fingerprint.
        #expect(Fingerprint.of(asObserved(pristineHost()), scope: plan.scope) == plan.fingerprint)
        // Nor does the order the kernel listed things in: a converged host, its lists
        // reversed, digests as its normalized form.
        let (_, after, applied) = try converge(seedSpec, from: pristineHost())
        var reversed = asObserved(after)
        for ref in Array(reversed.namespaces.keys) {
            reversed[ref]!.links.reverse(); reversed[ref]!.addresses.reverse(); reversed[ref]!.routes.reverse()
            reversed[ref]!.netnsFiles.reverse()
        }
        #expect(reversed.namespaces.values.contains { $0.links.count > 2 && $0.routes.count > 1 })
        #expect(Fingerprint.of(reversed, scope: applied.scope) == Fingerprint.of(asObserved(after).normalized(), scope: applied.scope))
        #expect(Fingerprint.of(reversed, scope: applied.scope) != Fingerprint.of(start, scope: applied.scope))
    }
}


@Suite struct Rendering {
    @Test func groupedByResourceWithSummary() throws {
        let (_, plan) = try planFor(seedSpec, pristineHost())
        let text = PlanRenderer(color: false).render(plan)
        #expect(text.contains("+   container.container1\n      +   namespace seed.container1\n"))
        #expect(text.contains("      +   address 172.17.0.2/16 dev eth0\n"))
        #expect(text.contains("+   network.bridge\n      +   bridge docker0 mtu 1500\n"))
        #expect(text.contains("+   firewall.inet netform_seed\n      +   chain forward { type filter hook forward priority 0; policy accept; }\n"))
        #expect(text.contains("      +   project iifname { \"docker0\", \"nf-6623926fcb7c\" } oifname { \"docker0\", \"nf-6623926fcb7c\" } drop  # between the project's networks\n"))
        #expect(text.contains("~   host.sysctls  (in-place)\n      ~   net.ipv4.ip_forward: 0 → 1 (a host-wide setting; netform never resets it)\n"))
        #expect(!text.contains("net.ipv6"), "an IPv4-only spec leaves IPv6 forwarding alone")
        #expect(text.hasSuffix("Plan: 7 to add, 1 to change, 0 to destroy.\n"))
        #expect(!text.contains("\u{1B}["), "no colour when asked for none")
        #expect(PlanRenderer(color: true).render(plan).contains("\u{1B}[32m+  \u{1B}[0m"))
    }

    @Test func changesShowOldAndNewAndDisruption() throws {
        let state = try converge(seedSpec, from: pristineHost()).1
        let changed = seedSpec.replacingOccurrences(of: "    bridge: docker0\n", with: "    bridge: docker0\n    mtu: 9000\n")
            .replacingOccurrences(of: "  container3: {networks: [aislada]}\n", with: "")
        let text = PlanRenderer(color: false).render(try planFor(changed, state).1)
        #expect(text.contains("~   network.bridge  (in-place)\n      ~   docker0 mtu: 1500 → 9000\n"))
        #expect(text.contains("-   container.container3  (destroy)\n      -   file /etc/netns/seed.container3/hosts (8 lines)\n"
            + "      -   file /etc/netns/seed.container3/resolv.conf (2 lines)\n      -   namespace seed.container3\n"))
        #expect(text.hasSuffix("Plan: 0 to add, 3 to change, 1 to destroy.\n"))
    }

    @Test func noChangesAndConflicts() throws {
        let state = try converge(seedSpec, from: pristineHost()).1
        #expect(PlanRenderer(color: false).render(try planFor(seedSpec, state).1) == "No changes. The host matches the spec (project 'seed').\n")
        var foreign = pristineHost()
        foreign[.host]!.links.append(LinkState(name: "docker0", kind: .bridge))
        let text = PlanRenderer(color: false).render(try planFor(seedSpec, foreign).1)
        #expect(text.hasPrefix("error: network.bridge: link docker0 in namespace host exists and is not netform's\n"))
        #expect(text.contains("Plan refused: 1 conflict (above); nothing will be changed."))
    }
}

@Suite struct InterruptedApply {
    /// netform killed between creating a link and setting its alias leaves a link
    /// that carries only the project's interface group: it is the project's, fixed
    /// in place, not a conflict.
    @Test func halfCreatedLinksAreAdoptedNotConflicts() throws {
        var truth = try converge(seedSpec, from: pristineHost()).1
        let veth = Naming.hostVeth(project: "seed", container: "container1", network: "bridge")
        let i = truth[.host]!.links.firstIndex { $0.name == veth }!
        truth[.host]!.links[i].alias = nil
        // The container end keeps the group the creating request gave it (a link with
        // neither alias nor group in a container's namespace is someone else's).
        let j = truth[.named("seed.container1")]!.links.firstIndex { $0.name == "eth0" }!
        truth[.named("seed.container1")]!.links[j].alias = nil
        let plan = try planFor(seedSpec, truth).1
        #expect(plan.conflicts.isEmpty, "\(plan.conflicts)")
        #expect(plan.steps.map(\.operation) == [
            .setLink(namespace: .host, name: veth, change: LinkChangeSet(alias: "netform:seed/ep/container1/bridge")),
            .setLink(namespace: .named("seed.container1"), name: "eth0", change: LinkChangeSet(alias: "netform:seed/ep/container1/bridge")),
        ])
    }

    @Test func aLinkWithOurNameButNoMarkIsStillAConflict() throws {
        var truth = pristineHost()
        let veth = Naming.hostVeth(project: "seed", container: "container1", network: "bridge")
        truth[.host]!.links.append(LinkState(name: veth, kind: .veth(peer: nil), group: 0))
        let plan = try planFor(seedSpec, truth).1
        #expect(plan.conflicts.map(\.message) == ["link \(veth) in namespace host exists and is not netform's"])
    }
}

@Suite struct Unenforced {
    @Test func onlyMultiHostOverlaysAreNamed() throws {
        let s = try spec("""
        version: 1
        networks:
          bridge: {subnets: [{subnet: 10.0.0.0/24}]}
          db: {internal: true, subnets: [{subnet: 10.0.1.0/24}]}
          ov: {driver: overlay, vni: 42, subnets: [{subnet: 10.0.2.0/24}]}
        containers:
          web: {ports: ["8080:80"]}
        rules:
          - deny: {from: web, to: "network:db"}
        """)
        // Rules, ports, masquerade and internal networks are the firewall's now.
        let compiled = try Compiler.compile(s, observed: pristineHost())
        #expect(compiled.unenforced == ["overlay networks span this host only: no cluster store is given (--cluster-store, or a cluster: section in the spec)"])
        #expect(compiled.desired.state[.host]?.firewall.map(\.qualifiedName) == ["inet netform_lab"])
        let plain = try spec("version: 1\nnetworks:\n  n: {masquerade: false, subnets: [{subnet: 10.0.0.0/24}]}\n")
        #expect(try Compiler.compile(plain, observed: pristineHost()).unenforced.isEmpty)
    }
}

@Suite struct ResourceNames {
    /// What `resource(for:)` answered while it split the path into an array
    /// (`split(separator: "/")`, empty components dropped): the rule, written out.
    static func byComponents(_ path: String) -> Resource {
        let parts = path.split(separator: "/")
        switch parts.first {
        case "net"?: return Resource(.network, parts.dropFirst().joined(separator: "/"))
        case "ctr"?, "ep"?: return Resource(.container, parts.count > 1 ? String(parts[1]) : "?")
        default: return Resource(.host, path)
        }
    }

    @Test("a mark names its network, container or the host, whatever its slashes")
    func aMarksPathNamesItsResource() {
        let b = PlanBuilder(desired: DesiredState(project: "p", state: HostState()), observed: HostState())
        #expect(b.resource(for: nil, fallback: .named("p.x")) == Resource(.host, "p.x"))
        #expect(b.resource(for: OwnerMark(project: "p", path: "net/front"), fallback: .host) == Resource(.network, "front"))
        #expect(b.resource(for: OwnerMark(project: "p", path: "ep/web/front"), fallback: .host) == Resource(.container, "web"))
        #expect(b.resource(for: OwnerMark(project: "p", path: "ctr/web"), fallback: .host) == Resource(.container, "web"))
        for path in ["net/a/b", "net//a", "/net/a", "net/a/", "net", "ctr", "ep/", "//ctr//c1//x", "orphan/veth0", "", "/", "network/a",
                     "ctrl/x", "ép/x", "net/ä/ö"] {
            #expect(b.resource(for: OwnerMark(project: "p", path: path), fallback: .host) == Self.byComponents(path), "\(path)")
        }
    }
}
