import Addressing
import Cluster
import Compile
import Execute
import Model
import Plan
import Reconcile
import Testing

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

    func observed() throws -> HostState {
        var s = asObserved(kernel.state)
        s[.host]?.clusterStore = Dictionary(try store.store.list(prefix: "/netform/").entries.map { ($0.key, $0.text) },
                                            uniquingKeysWith: { a, _ in a })
        return s
    }

    func reconciler(_ name: String, advertise: String) -> Reconciler {
        var r = Reconciler(observe: { [unowned self] _ in try self.observed() }, driver: self, localHost: name)
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
            if case .addFDBEntry = $0 { true } else if case .addNeighbour = $0 { true } else { false }
        }, "\(again.plan.steps.map(\.operation))")
        #expect(try r1.apply(again).succeeded)
        #expect(try r1.plan(try spec(overlaySpec)).plan.isEmpty && r2.plan(try spec(overlaySpec)).plan.isEmpty, "converged")

        // Addresses: one per container, all different, claimed in the store.
        let a1 = h1.kernel.state[.named("swarm.web1")]!.addresses.map(\.address)
        let a2 = h2.kernel.state[.named("swarm.web2")]!.addresses.map(\.address)
        let a3 = h2.kernel.state[.named("swarm.web3")]!.addresses.map(\.address)
        #expect(Set(a1 + a2 + a3).count == 3, "\(a1) \(a2) \(a3)")
        let claims = try store.list(prefix: "/netform/swarm/claims/").entries.map(\.key)
        #expect(claims.count == 3)
        // node1's VXLAN device knows node2's MACs at node2's VTEP; web1 has static
        // neighbours for web2 and web3.
        let vxlan = Naming.vxlan(project: "swarm", network: "front")
        let fdb = h1.kernel.state[.host]!.fdb.filter { $0.link == vxlan }
        #expect(fdb.count == 2 && fdb.allSatisfy { $0.destination == IPAddress("192.168.50.2") })
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
        #expect(try r2.apply(p2).succeeded)
        #expect(try store.list(prefix: "/netform/swarm/endpoints/").entries.map(\.key) == [
            "/netform/swarm/endpoints/front/web1", "/netform/swarm/endpoints/front/web2"])
        let cleanup = try r1.plan(try spec(fewer))
        #expect(cleanup.plan.steps.count == 2, "one FDB entry, one neighbour: \(cleanup.plan.steps.map(\.operation))")
        #expect(try r1.apply(cleanup).succeeded)
        // Destroy on node2: its keys go, node1's stay, the network definition stays.
        #expect(try r2.apply(try r2.destroyPlan(project: "swarm")).succeeded)
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
        let start = try h1.observed()
        for k in 0...planned.plan.steps.count {
            var s = start
            for step in planned.plan.steps.prefix(k) { try s.apply(step.operation) }
            for step in planned.plan.steps.prefix(k).reversed() { for op in step.inverse { try s.apply(op) } }
            #expect(s.normalized() == start.normalized(), "rollback after \(k) steps")
        }
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
        let wanted = racing.plan.steps.compactMap { if case .claimStoreKey(let k, _) = $0.operation, k.contains("/claims/") { k } else { nil } }
        try store.put(wanted[0], Array(#"{"container":"y","host":"node3"}"#.utf8), lease: nil)
        let outcome = try r1.apply(racing)
        #expect(!outcome.succeeded && outcome.report.failure?.rolledBack == true)
        #expect(try store.list(prefix: "/netform/swarm/hosts/").entries.isEmpty, "the registration was rolled back")
        #expect(h1.kernel.state[.named("swarm.web1")] == nil)
    }
}
