import Addressing
import Model
import Execute
import Plan
@testable import Reconcile
import Testing

/// Issue 8, item 3, on a simulated host: objects without the project's mark that sit
/// inside or on netform's objects (a veth moved into a container's namespace, a link
/// in there, addresses added by hand on a container's eth0 or lo or on a bridge, a
/// foreign route or port on a bridge) are never changed or deleted by an apply; a
/// plan lists them as unmanaged, not as changes; a destroy that necessarily takes
/// them along names each one as the collateral of its step.
@Suite struct ForeignObjectsOnNetformObjects {
    let c1 = NamespaceRef.named("seed.container1")

    /// The seed project applied, then foreign objects added the way `ip` adds them
    /// (no alias, no group, no IFA_PROTO).
    func hostWithForeignObjects() throws -> HostState {
        let (r, driver) = simulatedReconciler(pristineHost())
        #expect(try r.apply(try r.plan(try spec(seedSpec))).succeeded)
        var s = driver.state
        // `ip link add dbg1 type veth peer dbg0 netns seed.container1`
        s[.host]!.links.append(LinkState(name: "dbg1", kind: .veth(peer: VethPeerRef(namespace: c1, name: "dbg0"))))
        s[c1]!.links.append(LinkState(name: "dbg0", kind: .veth(peer: VethPeerRef(namespace: .host, name: "dbg1"))))
        // `ip link add ... ` of another kind, inside the container's namespace.
        s[c1]!.links.append(LinkState(name: "tap9", kind: .other("tun")))
        s[c1]!.addresses += [
            AddressState(link: "eth0", address: IPAddress("172.17.99.9")!, prefixLength: 16, proto: 0),
            AddressState(link: "lo", address: IPAddress("10.255.0.1")!, prefixLength: 32, proto: 0),
        ]
        s[.host]!.addresses.append(AddressState(link: "docker0", address: IPAddress("172.17.250.1")!, prefixLength: 16, proto: 0))
        s[.host]!.routes.append(RouteState(destination: IPNetwork("10.50.0.0/16")!, family: .v4, device: "docker0", proto: 4))
        s[.host]!.links.append(LinkState(name: "fport", kind: .veth(peer: nil), master: "docker0"))
        return s
    }

    @Test func aPlainApplyLeavesThemAloneAndListsThemAsUnmanaged() throws {
        let start = try hostWithForeignObjects()
        let (r, driver) = simulatedReconciler(start)
        let planned = try r.plan(try spec(seedSpec))
        #expect(planned.plan.conflicts.isEmpty, "\(planned.plan.conflicts)")
        #expect(planned.plan.steps.isEmpty, "\(planned.plan.steps.map(\.operation))")
        #expect(planned.plan.summary.description == "0 to add, 0 to change, 0 to destroy")
        let listed = Set(planned.plan.unmanaged.map { "\($0.resource) \($0.kind.rawValue) \($0.namespace) \($0.object)" })
        #expect(listed == [
            "container.container1 link seed.container1 dbg0 (veth)",
            "container.container1 link seed.container1 tap9 (tun)",
            "container.container1 address seed.container1 172.17.99.9/16 dev eth0",
            "container.container1 address seed.container1 10.255.0.1/32 dev lo",
            "network.bridge address host 172.17.250.1/16 dev docker0",
            "network.bridge route host 10.50.0.0/16 dev docker0 proto 4",
            "network.bridge port host fport (veth)",
        ], "\(listed)")
        #expect(planned.plan.unmanaged.allSatisfy { $0.fate == nil })
        let rendered = PlanRenderer(color: false).render(planned.plan)
        #expect(rendered.contains("No changes."), "\(rendered)")
        #expect(rendered.contains("foreign address 172.17.99.9/16 dev eth0 in seed.container1"), "\(rendered)")
        #expect(!rendered.contains("~"), "nothing rendered as a change: \(rendered)")
        #expect(try r.apply(planned).succeeded)
        #expect(driver.state.normalized() == start.normalized(), "nothing changed")
    }

    @Test func aDestroyNamesEveryForeignObjectItTakesAlong() throws {
        let start = try hostWithForeignObjects()
        let (r, driver) = simulatedReconciler(start)
        let destroy = try r.destroyPlan(project: "seed")
        let nsStep = try #require(destroy.plan.steps.first { $0.operation == .deleteNamespace(name: "seed.container1") })
        #expect(Set(nsStep.collateral.map(\.description)) == [
            "foreign link dbg0 (veth) in seed.container1: deleted with the namespace",
            "foreign link tap9 (tun) in seed.container1: deleted with the namespace",
            "foreign address 172.17.99.9/16 dev eth0 in seed.container1: deleted with the namespace",
            "foreign address 10.255.0.1/32 dev lo in seed.container1: deleted with the namespace",
        ], "\(nsStep.collateral)")
        let bridgeStep = try #require(destroy.plan.steps.first { $0.operation == .deleteLink(namespace: .host, name: "docker0") })
        #expect(Set(bridgeStep.collateral.map(\.description)) == [
            "foreign address 172.17.250.1/16 dev docker0 in host: deleted with the link",
            "foreign route 10.50.0.0/16 dev docker0 proto 4 in host: deleted with the link",
            "foreign port fport (veth) in host: detached from the bridge",
        ], "\(bridgeStep.collateral)")
        #expect(destroy.plan.unmanaged.isEmpty, "what goes is collateral, not unmanaged: \(destroy.plan.unmanaged)")
        let rendered = PlanRenderer(color: false).render(destroy.plan)
        #expect(rendered.contains("takes foreign link dbg0 (veth) in seed.container1: deleted with the namespace"), "\(rendered)")
        #expect(rendered.contains("takes foreign port fport (veth) in host: detached from the bridge"), "\(rendered)")
        // No step deletes a foreign object by itself.
        for step in destroy.plan.steps {
            switch step.operation {
            case .deleteLink(_, let name): #expect(!["dbg0", "dbg1", "tap9", "fport"].contains(name))
            case .deleteAddress(_, let a): #expect(a.isMarked)
            case .deleteRoute(_, let route): #expect(route.isOwned)
            default: break
            }
        }
        #expect(try r.apply(destroy).succeeded)
        #expect(driver.state[.host]?.link(named: "fport")?.master == nil, "the port stays, detached")
    }

    @Test func aForeignVethKnownFromTheOtherSideOnlyIsNamedWithItsNamespace() throws {
        // A foreign veth in the host whose end in the container's namespace does not
        // name it back (its peer unknown from inside): the host end is collateral of
        // that namespace, and of no other namespace's deletion.
        var start = try hostWithForeignObjects()
        start[.host]!.links.append(LinkState(name: "dbg5", kind: .veth(peer: VethPeerRef(namespace: c1, name: "dbg6"))))
        start[c1]!.links.append(LinkState(name: "dbg6", kind: .veth(peer: nil)))
        // Planned on the state as given (the simulated observer forgets veth peers).
        var nothing = HostState()
        nothing[.host] = NamespaceState(ref: .host)
        let destroy = Planner.plan(DesiredState(project: "seed", state: nothing), observed: start)
        let nsStep = try #require(destroy.steps.first { $0.operation == .deleteNamespace(name: "seed.container1") })
        #expect(nsStep.collateral.map(\.description).contains("foreign link dbg5 (veth, peer dbg6 in seed.container1): the peer of dbg6 in host: deleted with the namespace"),
                "\(nsStep.collateral)")
        for step in destroy.steps where step.id != nsStep.id {
            #expect(!step.collateral.contains { $0.description.contains("dbg5") }, "\(step.collateral)")
        }
    }

    @Test func aForeignLinkNamedLikeTheProjectsIsAConflictNotATakeover() throws {
        var start = try hostWithForeignObjects()
        // eth0 of container1 replaced by a foreign link of the same name.
        start[c1]!.links.removeAll { $0.name == "eth0" }
        start[c1]!.addresses.removeAll { $0.link == "eth0" }
        start[c1]!.routes.removeAll { $0.device == "eth0" }
        start[c1]!.links.append(LinkState(name: "eth0", kind: .other("dummy")))
        let (r, driver) = simulatedReconciler(start)
        let planned = try r.plan(try spec(seedSpec))
        #expect(planned.plan.conflicts.map(\.message) == ["link eth0 in namespace seed.container1 exists and is not netform's"])
        #expect(driver.log.isEmpty)
    }
}

/// The delete audit under a saved plan holds the same rule: an unmarked address on
/// a netform link, or a link without alias or group in the project's namespace, is
/// never a target, whatever the plan file says.
@Suite struct DeleteAuditOfForeignObjects {
    @Test func unmarkedAddressesAndUnmarkedLinksInOurNamespacesAreRefused() throws {
        let start = try ForeignObjectsOnNetformObjects().hostWithForeignObjects()
        let c1 = NamespaceRef.named("seed.container1")
        func step(_ op: Model.Operation) -> Plan {
            Plan(project: "seed", steps: [Step(id: 1, resource: Resource(.container, "container1"), change: .update, operation: op,
                                               inverse: [], disruption: .inPlace)], conflicts: [], fingerprint: "", scope: [])
        }
        let foreign = AddressState(link: "eth0", address: IPAddress("172.17.99.9")!, prefixLength: 16)
        #expect(Reconciler.unownedDelete(in: step(.deleteAddress(namespace: c1, address: foreign)), observed: start)
                == "address 172.17.99.9/16 dev eth0 in seed.container1")
        #expect(Reconciler.unownedDelete(in: step(.deleteLink(namespace: c1, name: "tap9")), observed: start) == "link tap9 in seed.container1")
        let ours = try #require(start[c1]!.addresses.first { $0.link == "eth0" && $0.isMarked })
        #expect(Reconciler.unownedDelete(in: step(.deleteAddress(namespace: c1, address: ours)), observed: start) == nil)
    }
}

/// Addresses netform added before it marked them (no IFA_PROTO) are adopted when
/// they are exactly what the spec wants on the project's link: kept as they are,
/// never re-added, never listed as unmanaged.
@Suite struct UnmarkedAddressAdoption {
    @Test func anUnmarkedAddressThatEqualsTheDesiredOneIsOurs() throws {
        let (r0, d0) = simulatedReconciler(pristineHost())
        #expect(try r0.apply(try r0.plan(try spec(seedSpec))).succeeded)
        var old = d0.state
        for ref in old.namespaces.keys {
            for i in old[ref]!.addresses.indices { old[ref]!.addresses[i].proto = 0 }
        }
        let (r, driver) = simulatedReconciler(old)
        let planned = try r.plan(try spec(seedSpec))
        #expect(planned.plan.isEmpty, "\(planned.plan.steps.map(\.operation))")
        #expect(planned.plan.unmanaged.isEmpty, "\(planned.plan.unmanaged)")
        // A destroy wants nothing, so it cannot tell them from someone else's: it
        // names them as collateral (a warning too many, never one too few), and takes
        // them with their links and namespaces.
        let destroy = try r.destroyPlan(project: "seed")
        #expect(destroy.plan.collateral.allSatisfy { $0.object.kind == .address }, "\(destroy.plan.collateral.map(\.object))")
        #expect(try r.apply(destroy).succeeded)
        #expect(driver.state.namespaces.keys.allSatisfy { !$0.description.hasPrefix("seed.") })
    }

    @Test func theAddressesNetformAddsCarryItsProtocol() throws {
        let (r, driver) = simulatedReconciler(pristineHost())
        let planned = try r.plan(try spec(seedSpec))
        let adds = planned.plan.steps.compactMap { if case .addAddress(_, let a) = $0.operation { a } else { nil } }
        #expect(!adds.isEmpty && adds.allSatisfy { $0.proto == netformAddressProtocol })
        #expect(try r.apply(planned).succeeded)
        #expect(driver.state[.named("seed.container1")]?.addresses.allSatisfy(\.isMarked) == true)
    }
}

@Suite struct OtherProjectsConflicts {
    @Test func anOverlappingSubnetOfAnotherNetformProjectIsNamedAsSuch() throws {
        let kernel = SimulatedDriver(pristineHost(sentinels: false))
        let r = Reconciler(observe: { _, n in asObserved(kernel.state, neighbours: n) }, driver: kernel, localHost: nil)
        #expect(try r.apply(try r.plan(try spec("version: 1\nproject: a\nnetworks: {n: {subnets: [{subnet: 10.9.0.0/24}]}}\n"))).succeeded)
        let conflicts = try r.plan(try spec("version: 1\nproject: b\nnetworks: {m: {subnets: [{subnet: 10.9.0.0/16}]}}\n")).plan.conflicts.map(\.message)
        #expect(conflicts.count == 1 && conflicts[0].hasPrefix("address 10.9.0.1/24 on ")
                && conflicts[0].hasSuffix(", of netform project 'a' (netform:a/net/n), overlaps subnet 10.9.0.0/16"), "\(conflicts)")
    }
}
