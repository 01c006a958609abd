import Addressing
import Cluster
import Compile
import Execute
import Model
import Plan
import Reconcile
import Testing

/// For every prefix of `plan`: run it on the simulated host, then the inverses in
/// reverse order; the cluster store must hold exactly what it held (the store's
/// operations and their inverses, whatever the kernel's part of the plan).
func expectStoreRollsBack(_ plan: Plan, from start: HostState, sourceLocation: SourceLocation = #_sourceLocation) throws {
    for k in 0...plan.steps.count {
        var s = start
        for step in plan.steps.prefix(k) { try s.apply(step.operation) }
        for step in plan.steps.prefix(k).reversed() {
            for op in step.inverse { try s.apply(op) }
        }
        #expect(s[.host]?.clusterStore == start[.host]?.clusterStore, "store after rolling back \(k) steps differs", sourceLocation: sourceLocation)
    }
}

/// One simulated host of a cluster: its own kernel (the simulation) and the shared
/// store, which the host reads into its host namespace's `clusterStore` as the live
/// observer does.
final class ClusterHost: OperationDriver {
    let kernel: SimulatedDriver
    let store: StoreBackend

    init(_ store: any ClusterStore) {
        kernel = SimulatedDriver(pristineHost(sentinels: false))
        self.store = StoreBackend(store)
    }

    func perform(_ op: Model.Operation) throws(ExecuteError) {
        if op.backend == .store { try store.perform(op) } else { try kernel.perform(op) }
    }

    func awaitGone(_ links: [String]) throws(ExecuteError) {}

    /// When set, the store does not answer (connection refused): the host reads it
    /// through `LiveHost.readStore`, as the live observer does.
    var outage: String?

    func observed() throws -> HostState {
        var s = asObserved(kernel.state)
        try LiveHost.readStore(into: &s) { () throws(StoreError) in
            if let outage { throw StoreError(.unavailable, outage) }
            return try store.store.list(prefix: "/netform/").entries
        }
        return s
    }

    /// The simulated kernel as it is (veth peers known) with the store's keys: where
    /// a plan's prefixes are run and rolled back.
    func simulated() throws -> HostState {
        var s = kernel.state
        s[.host]?.clusterStore = try observed()[.host]?.clusterStore
        return s
    }

    func reconciler(_ name: String, advertise: String) -> Reconciler {
        var r = Reconciler(observe: { [unowned self] _, n in
            var s = try self.observed()
            if n == .leftOut { s.leaveOutNeighbours() }
            return s
        }, driver: self, localHost: name)
        r.cluster = .init(host: name, advertise: IPAddress(advertise)!)
        return r
    }
}

let overlaySpec = """
version: 1
project: swarm
networks:
  front:
    driver: overlay
    vni: 4100
    subnets: [{subnet: 10.3.0.0/24}]
containers:
  web1: {host: node1, networks: [front]}
  web2: {host: node2, networks: [front]}
  web3: {host: node2, networks: [front]}
"""

@Suite struct ClusterPlanning {
    @Test func twoHostsLearnEachOthersEndpointsAndNeverShareAnAddress() throws {
        let store = MemoryStore()
        let h1 = ClusterHost(store), h2 = ClusterHost(store)
        let r1 = h1.reconciler("node1", advertise: "192.168.50.1"), r2 = h2.reconciler("node2", advertise: "192.168.50.2")
        // Both plan before either applies: node2's dynamic addresses must still not
        // collide with node1's, because node1 claims first and node2 plans again.
        #expect(try r1.apply(try r1.plan(try spec(overlaySpec))).succeeded)
        #expect(try r2.apply(try r2.plan(try spec(overlaySpec))).succeeded)
        // node1 learns node2's endpoints on its next reconcile.
        let again = try r1.plan(try spec(overlaySpec))
        #expect(again.plan.steps.map(\.operation).allSatisfy {
            if case .addFDBEntry = $0 { true } else if case .addNeighbour = $0 { true }
            else if case .writeNamespaceFile(let f) = $0 { f.name == "hosts" } else { false }
        }, "\(again.plan.steps.map(\.operation))")
        #expect(try r1.apply(again).succeeded)
        // node1's containers resolve node2's by name (from the store's endpoints).
        let web1Hosts = try h1.observed()[.host]?.netnsFiles.first { $0.key == "swarm.web1/hosts" }?.content ?? ""
        #expect(web1Hosts.contains("\tweb3\n") && web1Hosts.contains("\tweb1\n"), "\(web1Hosts)")
        #expect(try r1.plan(try spec(overlaySpec)).plan.isEmpty && r2.plan(try spec(overlaySpec)).plan.isEmpty, "converged")

        // Addresses: one per container, all different, claimed in the store.
        let a1 = h1.kernel.state[.named("swarm.web1")]!.addresses.map(\.address)
        let a2 = h2.kernel.state[.named("swarm.web2")]!.addresses.map(\.address)
        let a3 = h2.kernel.state[.named("swarm.web3")]!.addresses.map(\.address)
        #expect(Set(a1 + a2 + a3).count == 3, "\(a1) \(a2) \(a3)")
        let claims = try store.list(prefix: "/netform/swarm/claims/").entries.map(\.key)
        #expect(claims.count == 3)
        // node1's VXLAN device knows node2's MACs at node2's VTEP, and floods
        // (all-zero MAC) to node2 once; web1 has static neighbours for web2 and web3.
        let vxlan = Naming.vxlan(project: "swarm", network: "front")
        let fdb = h1.kernel.state[.host]!.fdb.filter { $0.link == vxlan }
        #expect(fdb.count == 3 && fdb.allSatisfy { $0.destination == IPAddress("192.168.50.2") })
        #expect(fdb.filter { $0.mac == MACAddress("00:00:00:00:00:00") }.count == 1, "one flood entry per remote VTEP: \(fdb)")
        #expect(Set(h1.kernel.state[.named("swarm.web1")]!.neighbours.map(\.address)) == Set(a2 + a3))
        if case .vxlan(let s) = h1.kernel.state[.host]!.link(named: vxlan)?.kind { #expect(s.local == IPAddress("192.168.50.1")) }
        else { Issue.record("no vxlan") }
    }

    @Test func aContainerLeavingIsForgottenEverywhereAndDestroyRemovesOnlyThisHostsKeys() throws {
        let store = MemoryStore()
        let h1 = ClusterHost(store), h2 = ClusterHost(store)
        let r1 = h1.reconciler("node1", advertise: "192.168.50.1"), r2 = h2.reconciler("node2", advertise: "192.168.50.2")
        for r in [r1, r2, r1] { #expect(try r.apply(try r.plan(try spec(overlaySpec))).succeeded) }
        // web3 goes from the spec: node2 deletes it and its store keys; node1 drops
        // its FDB and neighbour entries on the next reconcile (a full compare).
        let fewer = overlaySpec.replacingOccurrences(of: "\n  web3: {host: node2, networks: [front]}", with: "")
        #expect(fewer != overlaySpec)
        let p2 = try r2.plan(try spec(fewer))
        #expect(p2.plan.steps.contains { if case .storeTransaction(let t) = $0.operation { t.deletes.count == 2 } else { false } },
                "web3's claim and endpoint go in one transaction")
        try expectStoreRollsBack(p2.plan, from: try h2.simulated())
        #expect(try r2.apply(p2).succeeded)
        #expect(try r2.plan(try spec(fewer)).plan.isEmpty)
        #expect(try store.list(prefix: "/netform/swarm/endpoints/").entries.map(\.key) == [
            "/netform/swarm/endpoints/front/web1", "/netform/swarm/endpoints/front/web2"])
        let cleanup = try r1.plan(try spec(fewer))
        #expect(cleanup.plan.steps.count == 3, "one FDB entry, one neighbour, the hosts file that named web3: \(cleanup.plan.steps.map(\.operation))")
        #expect(try r1.apply(cleanup).succeeded)
        // Destroy on node2: its keys go, node1's stay, the network definition stays.
        let destroy = try r2.destroyPlan(project: "swarm")
        try expectStoreRollsBack(destroy.plan, from: try h2.simulated())
        let storeSteps = destroy.plan.steps.filter { $0.operation.backend == .store }.map(\.operation)
        #expect(storeSteps.count == 2 && storeSteps.last == .deleteStoreKey(key: "/netform/swarm/hosts/node2"),
                "its claims and endpoints in one transaction, then the registration: \(storeSteps)")
        #expect(try r2.apply(destroy).succeeded)
        #expect(try r2.destroyPlan(project: "swarm").plan.isEmpty)
        #expect(try store.list(prefix: "/netform/swarm/").entries.map(\.key) == [
            "/netform/swarm/claims/front/\(h1.kernel.state[.named("swarm.web1")]!.addresses[0].address)",
            "/netform/swarm/endpoints/front/web1", "/netform/swarm/hosts/node1", "/netform/swarm/networks/front"])
    }

    @Test func storeStepsRollBackAndConflictsAreNamed() throws {
        let store = MemoryStore()
        let h1 = ClusterHost(store)
        let r1 = h1.reconciler("node1", advertise: "192.168.50.1")
        let planned = try r1.plan(try spec(overlaySpec))
        // Every prefix of the plan, store steps included, rolls back exactly.
        try expectEveryPrefixRollsBack(planned.plan, from: try h1.observed())
        #expect(planned.plan.steps.first?.operation.backend == .store,
                "registration and claims come before any kernel change")
        // Another definition of the network in the store is a conflict naming both.
        try store.put("/netform/swarm/networks/front", Array(#"{"subnets":["10.9.0.0/24"],"vni":4100}"#.utf8), lease: nil)
        let refused = try r1.plan(try spec(overlaySpec))
        #expect(refused.plan.conflicts.map(\.message) == [
            #"overlay network front is defined differently in the cluster store: {"subnets":["10.9.0.0/24"],"vni":4100}, this spec: {"subnets":["10.3.0.0/24"],"vni":4100}"#])
        // A static address another host holds: a compile error naming the host.
        try store.delete("/netform/swarm/networks/front")
        try store.put("/netform/swarm/claims/front/10.3.0.7", Array(#"{"container":"x","host":"node9"}"#.utf8), lease: nil)
        let pinned = overlaySpec.replacingOccurrences(of: "web1: {host: node1, networks: [front]}", with: "web1: {host: node1, networks: {front: {ipv4: 10.3.0.7}}}")
        #expect(throws: CompileError.self) { try r1.plan(try spec(pinned)) }
        // A claim taken meanwhile (after planning): the apply fails and rolls back.
        let racing = try r1.plan(try spec(overlaySpec))
        let wanted: [String] = racing.plan.steps.flatMap { step -> [String] in if case .storeTransaction(let t) = step.operation { t.creates.map(\.key) } else { [] } }
        try store.put(wanted[0], Array(#"{"container":"y","host":"node3"}"#.utf8), lease: nil)
        let outcome = try r1.apply(racing)
        #expect(!outcome.succeeded && outcome.report.failure?.rolledBack == true)
        #expect(try store.list(prefix: "/netform/swarm/hosts/").entries.isEmpty, "the registration was rolled back")
        #expect(h1.kernel.state[.named("swarm.web1")] == nil)
    }

    @Test func foreignNeighboursAndFDBEntriesAreLeftAlone() throws {
        let store = MemoryStore()
        let h1 = ClusterHost(store), h2 = ClusterHost(store)
        let r1 = h1.reconciler("node1", advertise: "192.168.50.1"), r2 = h2.reconciler("node2", advertise: "192.168.50.2")
        for r in [r1, r2, r1] { #expect(try r.apply(try r.plan(try spec(overlaySpec))).succeeded) }
        // A user's static neighbour outside the overlay's subnet on web1's eth0, and a
        // static FDB entry on the overlay's bridge: not netform's to remove.
        let user = NeighbourState(link: "eth0", address: IPAddress("192.0.2.9")!, mac: MACAddress("02:00:00:00:99:09")!)
        try h1.kernel.perform(.addNeighbour(namespace: .named("swarm.web1"), neighbour: user))
        let bridge = try #require(h1.kernel.state[.host]!.links.first { $0.alias == "netform:swarm/net/front" && $0.kind == .bridge }?.name)
        let fdb = FDBEntryState(link: bridge, mac: MACAddress("02:00:00:00:99:0a")!)
        try h1.kernel.perform(.addFDBEntry(namespace: .host, entry: fdb))
        // A stale overlay neighbour (an endpoint that no longer exists): netform's.
        let stale = NeighbourState(link: "eth0", address: IPAddress("10.3.0.99")!, mac: MACAddress("02:00:00:00:99:0b")!)
        try h1.kernel.perform(.addNeighbour(namespace: .named("swarm.web1"), neighbour: stale))
        let planned = try r1.plan(try spec(overlaySpec))
        #expect(planned.plan.steps.map(\.operation) == [.deleteNeighbour(namespace: .named("swarm.web1"), neighbour: stale)])
        // Saved, the plan is checked on a reading with the neighbours, as it was made
        // with them: it runs; a neighbour that changes meanwhile makes it stale.
        let saved = try PlanJSON.decoder().decode(Reconciler.PlannedChange.self, from: try PlanJSON.encoder(pretty: false).encode(planned))
        #expect(try r1.checkSaved(saved).plan.steps == planned.plan.steps)
        try h1.kernel.perform(.addNeighbour(namespace: .named("swarm.web1"),
                                            neighbour: NeighbourState(link: "eth0", address: IPAddress("192.0.2.10")!, mac: MACAddress("02:00:00:00:99:0c")!)))
        #expect(throws: Reconciler.StalePlan.self) { try r1.checkSaved(saved) }
    }

    /// node1 (default lease TTL) and node2 (a lease of `node2TTL` seconds) on one
    /// memory store, the overlay spec applied on node1, node2, node1.
    static func twoHostsApplied(node2TTL: Int) throws -> (MemoryStore, ClusterHost, ClusterHost, Reconciler, Reconciler) {
        let store = MemoryStore()
        let h1 = ClusterHost(store), h2 = ClusterHost(store)
        let r1 = h1.reconciler("node1", advertise: "192.168.50.1")
        var r2 = h2.reconciler("node2", advertise: "192.168.50.2")
        r2.cluster?.leaseTTL = node2TTL
        for r in [r1, r2, r1] { #expect(try r.apply(try r.plan(try spec(overlaySpec))).succeeded) }
        return (store, h1, h2, r1, r2)
    }

    /// The addresses of a host's containers, by container, from its kernel.
    static func addresses(_ h: ClusterHost, _ containers: [String]) -> [String: [IPAddress]] {
        Dictionary(uniqueKeysWithValues: containers.map { ($0, h.kernel.state[.named("swarm.\($0)")]?.addresses.map(\.address) ?? []) })
    }

    @Test func aHostWhoseLeaseExpiredIsForgottenAndItsKeysCollected() throws {
        let (store, h1, h2, r1, r2) = try Self.twoHostsApplied(node2TTL: 30)
        let node2 = try #require(try store.get("/netform/swarm/hosts/node2"))
        #expect(node2.text == #"{"advertise":"192.168.50.2","ttl":30}"# && node2.lease != nil, "registered on a lease of kv.ttl")
        let before = Self.addresses(h2, ["web2", "web3"])

        // node2 vanishes without a destroy: nobody renews its lease.
        store.advance(seconds: 31)
        #expect(try store.get("/netform/swarm/hosts/node2") == nil && store.get("/netform/swarm/hosts/node1") != nil)
        let cleanup = try r1.plan(try spec(overlaySpec))
        let collected = cleanup.plan.steps.compactMap { step -> String? in
            guard case .collectStoreKey(let key, let guardKey) = step.operation else { return nil }
            #expect(guardKey == "/netform/swarm/hosts/node2")
            return key
        }
        let a2 = before["web2"]![0], a3 = before["web3"]![0]
        #expect(collected == ["/netform/swarm/claims/front/\(a2)", "/netform/swarm/claims/front/\(a3)",
                              "/netform/swarm/endpoints/front/web2", "/netform/swarm/endpoints/front/web3"])
        #expect(cleanup.plan.steps.contains { if case .writeNamespaceFile(let f) = $0.operation { !f.content.contains("web2") } else { false } },
                "the vanished host's containers leave the hosts files")
        let kernel = cleanup.plan.steps.filter { $0.operation.backend != .store && $0.operation.backend != .files }.map(\.operation)
        #expect(kernel.count == 5 && kernel.allSatisfy {
            if case .deleteFDBEntry = $0 { true } else if case .deleteNeighbour = $0 { true } else { false }
        }, "its FDB entries (two MACs, the flood entry) and neighbours go in the same reconcile: \(kernel)")
        try expectEveryPrefixRollsBack(cleanup.plan, from: try h1.observed())
        #expect(try r1.apply(cleanup).succeeded)
        let a1 = h1.kernel.state[.named("swarm.web1")]!.addresses[0].address
        #expect(try store.list(prefix: "/netform/swarm/").entries.map(\.key) == [
            "/netform/swarm/claims/front/\(a1)", "/netform/swarm/endpoints/front/web1", "/netform/swarm/hosts/node1",
            "/netform/swarm/networks/front"])
        #expect(h1.kernel.state[.host]!.fdb.isEmpty && h1.kernel.state[.named("swarm.web1")]!.neighbours.isEmpty)
        #expect(try r1.plan(try spec(overlaySpec)).plan.isEmpty, "converged")

        // node2 comes back: its containers keep their addresses (the kernel's), it
        // claims and publishes them again, and node1 learns them on its next reconcile.
        #expect(try r2.apply(try r2.plan(try spec(overlaySpec))).succeeded)
        #expect(Self.addresses(h2, ["web2", "web3"]) == before)
        #expect(try r1.apply(try r1.plan(try spec(overlaySpec))).succeeded)
        #expect(h1.kernel.state[.host]!.fdb.count == 3)
    }

    @Test func garbageGoesOnlyWhileItsHostIsGoneAndDestroyTakesOnlyItsOwn() throws {
        let (store, h1, _, r1, r2) = try Self.twoHostsApplied(node2TTL: 30)
        store.advance(seconds: 31)
        // A destroy on node1 removes node1's keys, not the vanished node2's.
        let destroy = try r1.destroyPlan(project: "swarm")
        #expect(!destroy.plan.steps.contains { if case .collectStoreKey = $0.operation { true } else { false } })
        // node1 plans the collection, node2 registers again before node1 applies it:
        // node2's keys stay.
        let stale = try r1.plan(try spec(overlaySpec))
        #expect(stale.plan.steps.contains { if case .collectStoreKey = $0.operation { true } else { false } })
        #expect(try r2.apply(try r2.plan(try spec(overlaySpec))).succeeded)
        _ = try r1.apply(stale)
        #expect(try store.list(prefix: "/netform/swarm/endpoints/").entries.map(\.key) == [
            "/netform/swarm/endpoints/front/web1", "/netform/swarm/endpoints/front/web2", "/netform/swarm/endpoints/front/web3"])
        #expect(try store.list(prefix: "/netform/swarm/claims/").entries.count == 3)
        #expect(try r1.apply(try r1.plan(try spec(overlaySpec))).succeeded)
        #expect(h1.kernel.state[.host]!.fdb.count == 3, "node1 learns node2's endpoints (and floods to it) again")
    }

    @Test func anUnreachableStoreChangesNothingThatDependsOnItAndRefusesWhatNeedsAClaim() throws {
        let bridged = overlaySpec.replacingOccurrences(of: "networks:\n", with: "networks:\n  local: {subnets: [{subnet: 10.8.0.0/24}]}\n")
        let (store, h1, _, r1, _) = try Self.twoHostsApplied(node2TTL: 30)
        let keys = try store.list(prefix: "/").entries
        let fdb = h1.kernel.state[.host]!.fdb, neighbours = h1.kernel.state[.named("swarm.web1")]!.neighbours
        #expect(fdb.count == 3 && neighbours.count == 2)
        h1.outage = "192.168.50.254:2379: connection refused"

        // plan works, says what it could not check, and deletes nothing it would
        // have learned from the store (the other hosts' FDB and neighbour entries).
        let quiet = try r1.plan(try spec(bridged))
        #expect(quiet.storeUnreachable == "192.168.50.254:2379: connection refused")
        #expect(quiet.notes.contains { $0.contains("cluster store could not be read (192.168.50.254:2379: connection refused)") }, "\(quiet.notes)")
        #expect(quiet.plan.conflicts.isEmpty)
        #expect(!quiet.plan.steps.contains { $0.operation.backend == .store }, "no store step while it cannot be read")
        #expect(!quiet.plan.steps.contains {
            if case .deleteFDBEntry = $0.operation { true } else if case .deleteNeighbour = $0.operation { true } else { false }
        }, "\(quiet.plan.steps.map(\.operation))")
        // The new local bridge needs no claim: it is built, the overlay is untouched.
        #expect(quiet.plan.steps.contains { $0.resource == Resource(.network, "local") })
        #expect(try r1.apply(quiet).succeeded)
        #expect(h1.kernel.state[.host]!.fdb == fdb && h1.kernel.state[.named("swarm.web1")]!.neighbours == neighbours)
        #expect(try r1.plan(try spec(bridged)).plan.isEmpty, "converged as far as it can see")

        // web1's interface deleted by hand: its address needs a claim, so the plan
        // names the container and the store's error, and apply refuses.
        let veth = try #require(h1.kernel.state[.host]!.links.first { $0.alias == "netform:swarm/ep/web1/front" }?.name)
        try h1.kernel.perform(.deleteLink(namespace: .host, name: veth))
        let blocked = try r1.plan(try spec(bridged))
        #expect(blocked.plan.conflicts.map(\.resource) == [Resource(.container, "web1")])
        #expect(blocked.plan.conflicts.first?.message.contains("could not be read: 192.168.50.254:2379: connection refused") == true,
                "\(blocked.plan.conflicts)")
        #expect(throws: PreparedChange.Conflicts.self) { try r1.prepare(.spec(try spec(bridged)), lock: .none).apply() }
        #expect(h1.kernel.state[.host]!.link(named: veth) == nil)
        // A saved plan made during the outage is stale once the store answers.
        let saved = try r1.plan(try spec(overlaySpec))
        h1.outage = nil
        #expect(throws: Reconciler.StalePlan.self) { try r1.checkFresh(saved) }
        #expect(try store.list(prefix: "/").entries == keys, "the store was never written during the outage")

        // The store is back: web1 is rebuilt with its address and everything converges.
        let back = try r1.plan(try spec(bridged))
        #expect(back.storeUnreachable == nil && back.plan.conflicts.isEmpty)
        #expect(try r1.apply(back).succeeded)
        #expect(try r1.plan(try spec(bridged)).plan.isEmpty)
        #expect(h1.kernel.state[.host]!.fdb == fdb)

        // destroy during an outage removes the kernel's objects and leaves the store's
        // records to the lease, saying so.
        h1.outage = "timeout"
        let destroy = try r1.destroyPlan(project: "swarm")
        #expect(!destroy.plan.steps.contains { $0.operation.backend == .store })
        #expect(destroy.notes.contains { $0.contains("stay until its lease expires") }, "\(destroy.notes)")
        #expect(try r1.apply(destroy).succeeded)
        #expect(h1.kernel.state.namespaces.keys.allSatisfy { $0 == .host } && h1.kernel.state[.host]!.fdb.isEmpty)
    }

    @Test func rulesNamingAnotherHostsContainerMatchItsPublishedAddressAndSurviveAnOutage() throws {
        let ruled = overlaySpec + """

        rules:
          - allow: {from: web2, to: web1, ports: [8080/tcp]}
          - deny: {to: web1}
        """
        let store = MemoryStore()
        let h1 = ClusterHost(store), h2 = ClusterHost(store)
        let r1 = h1.reconciler("node1", advertise: "192.168.50.1"), r2 = h2.reconciler("node2", advertise: "192.168.50.2")
        #expect(try r1.apply(try r1.plan(try spec(ruled))).succeeded)
        func table(_ h: ClusterHost) -> String {
            h.kernel.state[.host]!.firewall.first { $0.name == "netform_swarm" }.map { "\($0)" } ?? "(none)"
        }
        let before = table(h1)
        #expect(try r2.apply(try r2.plan(try spec(ruled))).succeeded)
        let web2 = try #require(h2.kernel.state[.named("swarm.web2")]?.addresses.first?.address)
        #expect(!before.contains("\(web2)"), "node1 does not know web2's address before node2 published it")
        // node1 learns web2's endpoint: the allow rule now matches web2's address.
        let learned = try r1.plan(try spec(ruled))
        #expect(learned.plan.steps.contains { if case .replaceFirewallTable = $0.operation { true } else { false } })
        #expect(!learned.notes.contains { $0.contains("match no address") }, "\(learned.notes)")
        #expect(try r1.apply(learned).succeeded)
        #expect(table(h1).contains("\(web2)"), "\(table(h1))")
        // The store goes away: the table (which only the store could fill) stays.
        h1.outage = "connection refused"
        let quiet = try r1.plan(try spec(ruled))
        #expect(quiet.plan.isEmpty, "\(quiet.plan.steps.map(\.operation))")
        #expect(table(h1).contains("\(web2)"))
    }

    @Test func aWipedStoreIsRebuiltFromTheKernelsAndNothingIsRenumbered() throws {
        let store = MemoryStore()
        let h1 = ClusterHost(store), h2 = ClusterHost(store)
        let r1 = h1.reconciler("node1", advertise: "192.168.50.1"), r2 = h2.reconciler("node2", advertise: "192.168.50.2")
        for r in [r1, r2, r1] { #expect(try r.apply(try r.plan(try spec(overlaySpec))).succeeded) }
        let addresses = (Self.addresses(h1, ["web1"]), Self.addresses(h2, ["web2", "web3"]))
        let keys = try store.list(prefix: "/").entries.map(\.key)
        let values = try store.list(prefix: "/").entries.map(\.text)
        // etcd lost its data.
        for e in try store.list(prefix: "/").entries { try store.delete(e.key) }
        for r in [r1, r2, r1] { #expect(try r.apply(try r.plan(try spec(overlaySpec))).succeeded) }
        #expect(Self.addresses(h1, ["web1"]) == addresses.0 && Self.addresses(h2, ["web2", "web3"]) == addresses.1, "no container changed address")
        #expect(try store.list(prefix: "/").entries.map(\.key) == keys && store.list(prefix: "/").entries.map(\.text) == values,
                "the same claims, endpoints, registrations and definitions, republished from the kernels")
        #expect(try r1.plan(try spec(overlaySpec)).plan.isEmpty && r2.plan(try spec(overlaySpec)).plan.isEmpty)
        #expect(h1.kernel.state[.host]!.fdb.count == 3)
    }
}

/// Plans with store steps are saved and read back (`plan --out`, `plan --json`):
/// every operation kind the cluster planner emits encodes and decodes.
@Suite struct ClusterPlanFiles {
    @Test func aPlanWithStoreTransactionsAndCollectionsRoundTrips() throws {
        let (store, _, _, r1, _) = try ClusterPlanning.twoHostsApplied(node2TTL: 30)
        store.advance(seconds: 31)
        let more = overlaySpec.replacingOccurrences(of: "  web3: {host: node2, networks: [front]}", with: "  web3: {host: node2, networks: [front]}\n  web4: {host: node1, networks: [front]}")
        let planned = try r1.plan(try spec(more))
        let kinds = Set(planned.plan.steps.map { String(describing: $0.operation).prefix { $0 != "(" } })
        #expect(kinds.contains("storeTransaction") && kinds.contains("collectStoreKey"), "\(kinds)")
        let data = try PlanJSON.encoder(pretty: false).encode(planned)
        let back = try PlanJSON.decoder().decode(Reconciler.PlannedChange.self, from: data)
        #expect(back.plan == planned.plan && back.desired == planned.desired)
    }
}
