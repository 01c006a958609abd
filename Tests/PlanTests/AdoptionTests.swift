import Addressing
import Compile
import Execute
import Model
import Plan
import Reconcile
import Testing

/// Adopted namespaces (`netns:`) and macvlan parents, on a simulated host.
@Suite struct Adoption {
    /// The pristine host plus a namespace `legacy` that someone else made (only lo).
    func hostWithLegacy() -> HostState {
        var s = pristineHost()
        s[.named("legacy")] = NamespaceState(ref: .named("legacy"), links: [LinkState(name: "lo", kind: .loopback, mtu: 65536)])
        return s
    }

    /// Identities as the kernel would give them: /run/netns/legacy and the namespace
    /// of PID 4242 (started with `ip netns exec legacy ...`) are `legacy`; PID 1 is the host.
    func identity(_ ref: NamespaceRef) -> String? {
        switch ref {
        case .host, .path("/proc/1/ns/net"): "host"
        case .named("legacy"), .path("/run/netns/legacy"), .path("/proc/4242/ns/net"): "legacy"
        case .named(let n): "named:\(n)"
        case .path: nil
        }
    }

    func adoptSpec(_ netns: String) -> String {
        """
        version: 1
        project: adopt
        networks:
          net: {subnets: [{subnet: 10.9.0.0/24}]}
        containers:
          app: {netns: \(netns), networks: [net]}
          own: {networks: [net]}
        """
    }

    @Test(arguments: ["{path: /run/netns/legacy}", "{pid: 4242}", "{name: legacy}"])
    func aNamedNamespaceGivenByPathOrPIDIsPlannedUnderItsName(netns: String) throws {
        let (r0, driver) = simulatedReconciler(hostWithLegacy())
        var r = r0
        r.namespaceIdentity = identity
        let planned = try r.plan(try spec(adoptSpec(netns)))
        #expect(planned.plan.conflicts.isEmpty, "\(planned.plan.conflicts)")
        #expect(planned.desired.adoptedNamespaces == [.named("legacy")])
        #expect(planned.plan.steps.allSatisfy { if case .path = $0.operation.namespace { false } else { true } })
        let outcome = try r.apply(planned)
        #expect(outcome.succeeded, "\(outcome.remaining.map { "\($0.steps.map(\.operation))" } ?? "")")
        #expect(driver.state[.named("legacy")]?.link(named: "eth0")?.owner == OwnerMark.endpoint("adopt", container: "app", network: "net"))
        #expect(try r.plan(try spec(adoptSpec(netns))).plan.isEmpty, "converged")

        // destroy: the adopted namespace stays, with only what it had before.
        let full = try r.plan(try spec(adoptSpec(netns)))
        let destroy = try r.destroyPlan(project: "adopt", adopted: full.desired.adoptedNamespaces)
        #expect(try r.apply(destroy).succeeded)
        #expect(driver.state.normalized() == forwardingLeftOn(hostWithLegacy()).normalized())
    }

    @Test func destroyWorksWhenTheAdoptedNamespaceIsGone() throws {
        let (r, driver) = simulatedReconciler(hostWithLegacy())
        let full = try r.plan(try spec(adoptSpec("{name: legacy}")))
        #expect(try r.apply(full).succeeded)
        // The namespace goes away (its process exited): our veth went with it.
        try driver.perform(.deleteNamespace(name: "legacy"))
        let destroy = try r.destroyPlan(project: "adopt", adopted: full.desired.adoptedNamespaces)
        #expect(destroy.plan.conflicts.isEmpty, "\(destroy.plan.conflicts)")
        #expect(try r.apply(destroy).succeeded)
        #expect(driver.state.normalized() == forwardingLeftOn(pristineHost()).normalized())
    }

    @Test func withoutIdentitiesAPathToANamedNamespaceIsAConflictNotAMove() throws {
        // The simulated observer does not read paths: the namespace to adopt is missing.
        let (r, _) = simulatedReconciler(hostWithLegacy())
        let planned = try r.plan(try spec(adoptSpec("{path: /run/netns/legacy}")))
        #expect(planned.plan.conflicts.map(\.message) == ["namespace /run/netns/legacy to adopt does not exist"])
    }

    @Test func adoptingTheHostNamespaceIsRefused() throws {
        var r = simulatedReconciler(hostWithLegacy()).0
        r.namespaceIdentity = identity
        #expect(throws: CompileError("container 'app': its netns is this host's own namespace; use `networks: [host]` to share the host's stack")) {
            try r.plan(try spec(adoptSpec("{pid: 1}")))
        }
    }

    @Test func twoContainersCannotAdoptOneNamespace() throws {
        var r = simulatedReconciler(hostWithLegacy()).0
        r.namespaceIdentity = identity
        let text = """
        version: 1
        project: adopt
        networks:
          net: {subnets: [{subnet: 10.9.0.0/24}]}
        containers:
          a: {netns: {name: legacy}, networks: [net]}
          b: {netns: {pid: 4242}, networks: {net: {interface: eth1}}}
        """
        #expect(throws: CompileError("containers 'a' and 'b' both adopt namespace legacy")) { try r.plan(try spec(text)) }
    }
}

@Suite struct MacvlanParent {
    let lan = """
    version: 1
    project: lan
    networks:
      lan: {driver: macvlan, parent: eth1, subnets: [{subnet: 192.168.50.0/24}]}
    containers:
      c: {networks: [lan]}
    """

    @Test func aMissingParentIsAConflictAtPlanTime() throws {
        let (_, plan) = try planFor(lan, pristineHost())
        #expect(plan.conflicts.map(\.message) == ["macvlan parent eth1 does not exist on this host (eth0 in namespace lan.c)"])
    }

    @Test func withTheParentTheSpecConverges() throws {
        var host = pristineHost()
        host[.host]!.links.append(LinkState(name: "eth1", kind: .other("physical"), mtu: 1500))
        let (desired, after, _) = try converge(lan, from: host)
        #expect(after[.named("lan.c")]?.link(named: "eth0")?.kind == .macvlan(parent: "eth1", mode: "bridge"))
        #expect(try planFor(lan, after).1.isEmpty)
        #expect(desired.createdNamespaces == [.named("lan.c")])
    }

    @Test func aModeChangeRecreatesAndSaysWhy() throws {
        var host = pristineHost()
        host[.host]!.links.append(LinkState(name: "eth1", kind: .other("physical"), mtu: 1500))
        let (_, after, _) = try converge(lan, from: host)
        let vepa = lan.replacingOccurrences(of: "parent: eth1,", with: "parent: eth1, mode: vepa,")
        let (_, final, plan) = try converge(vepa, from: after)
        let replace = try #require(plan.steps.first { $0.change == .replace })
        #expect(replace.details == [AttributeChange("link", old: "eth0 (macvlan on eth1 mode bridge)", new: "eth0 (macvlan on eth1 mode vepa)")])
        #expect(final[.named("lan.c")]?.link(named: "eth0")?.kind == .macvlan(parent: "eth1", mode: "vepa"))
        #expect(try planFor(vepa, final).1.isEmpty)
    }
}
