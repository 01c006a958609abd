import Compile
import Model
import Plan
import Testing

/// The seed with a rule and a published port: the firewall has something to change.
let seedWithRules = seedSpec + """

rules:
  - allow: {from: container1, to: container3, ports: [80/tcp]}

"""

/// The firewall is state like links: planned, applied by the simulated kernel,
/// rolled back, and never touching a table that is not the project's.
@Suite struct FirewallPlanning {
    @Test func theProjectTableIsInstalledFirstAndConverges() throws {
        let (desired, after, plan) = try converge(seedSpec, from: pristineHost())
        #expect(plan.steps.first.map { if case .replaceFirewallTable(.host, let t) = $0.operation { t.name == "netform_seed" } else { false } } == true,
                "isolation is in place before any container can send")
        #expect(plan.steps.first?.inverse == [.deleteFirewallTable(namespace: .host, family: "inet", name: "netform_seed")])
        #expect(Planner.plan(desired, observed: asObserved(after)).isEmpty, "second plan is empty")
        #expect(after[.host]?.firewall.contains(sentinelTable) == true)
    }

    @Test func driftInTheTableIsShownAsRuleLinesAndRepaired() throws {
        let (desired, start, _) = try converge(seedWithRules, from: pristineHost())
        var truth = start
        // Someone deletes one rule by hand and adds one of their own.
        let i = truth[.host]!.firewall.firstIndex { $0.belongs(to: "seed") }!
        let project = truth[.host]!.firewall[i].chains.firstIndex { $0.name == "project" }!
        let removed = truth[.host]!.firewall[i].chains[project].rules.remove(at: 1)
        truth[.host]!.firewall[i].chains[project].rules.append(.init(expr: [["counter": nil]], comment: ""))
        let plan = Planner.plan(desired, observed: asObserved(truth))
        #expect(plan.steps.count == 1)
        let step = try #require(plan.steps.first)
        #expect(step.change == .update && step.disruption == .inPlace)
        #expect(step.resource == Resource(.firewall, "inet netform_seed"))
        #expect(step.details == [AttributeChange("project", old: nil, new: removed.nftText + "  # " + removed.comment),
                                 AttributeChange("project", old: "counter", new: nil)])
        let text = PlanRenderer(color: false).render(plan)
        #expect(text.contains("~   firewall.inet netform_seed  (in-place)\n      +   project ip saddr 172.17.0.2 ip daddr 172.18.0.2 tcp dport 80 accept  # rule 1: allow container1 -> container3 ports 80/tcp\n      -   project counter\n"), "\(text)")
        #expect(text.hasSuffix("Plan: 0 to add, 1 to change, 0 to destroy.\n"))
        // The inverse puts back exactly what was there (the hand-made rule too).
        if case .replaceFirewallTable(_, let old) = step.inverse.first { #expect(old == truth[.host]!.firewall[i].normalized()) } else { Issue.record("inverse") }
        truth = try applied(plan, to: truth)

        #expect(Planner.plan(desired, observed: asObserved(truth)).isEmpty)
    }

    @Test func aRuleChangeReplacesTheTableInOneStep() throws {
        let start = try converge(seedSpec, from: pristineHost()).1
        let plan = try planFor(seedWithRules, start).1
        #expect(plan.steps.map(\.resource) == [Resource(.firewall, "inet netform_seed")])
        #expect(plan.steps[0].details.map(\.attribute) == ["project"])
    }

    @Test(arguments: ["rule added", "destroy", "from empty"])
    func everyPrefixRollsBackIncludingTheFirewall(_ scenario: String) throws {
        var start = try converge(seedSpec, from: pristineHost()).1
        let plan: Plan
        switch scenario {
        case "rule added": plan = try planFor(seedWithRules.replacingOccurrences(of: "  container3: {networks: [aislada]}\n",
                                                                                  with: "  container3: {networks: [aislada], ports: [\"8080:80\"]}\n"), start).1
        case "destroy": plan = Planner.plan(DesiredState(project: "seed", state: HostState(namespaces: [.host: NamespaceState(ref: .host)])),
                                            observed: asObserved(start))
        default:
            start = pristineHost()
            plan = try planFor(seedWithRules, start).1
        }
        #expect(plan.steps.contains { $0.operation.backend == .nftables })
        try expectEveryPrefixRollsBack(plan, from: start)
    }

    @Test func destroyRemovesTheTableLastAndNoOtherTable() throws {
        var start = try converge(seedSpec, from: pristineHost()).1
        // A table of the same name in a family netform does not use is not ours.
        let lookalike = FirewallTable(family: "ip", name: "netform_seed", chains: [])
        start[.host]!.firewall.append(lookalike)
        let plan = Planner.plan(DesiredState(project: "seed", state: HostState(namespaces: [.host: NamespaceState(ref: .host)])),
                                observed: asObserved(start))
        #expect(plan.steps.last?.operation == .deleteFirewallTable(namespace: .host, family: "inet", name: "netform_seed"))
        #expect(plan.steps.filter { $0.operation.backend == .nftables }.count == 1)
        #expect(PlanRenderer(color: false).render(plan).contains("-   firewall.inet netform_seed  (destroy)\n      -   table inet netform_seed (6 chains, 14 rules)\n"))
        let after = try applied(plan, to: start)
        #expect(after[.host]!.firewall == [sentinelTable, otherProjectTable, lookalike])
    }

    @Test func setOrderFromTheKernelIsNoChange() throws {
        let (desired, start, _) = try converge(seedSpec, from: pristineHost())
        var truth = start
        let i = truth[.host]!.firewall.firstIndex { $0.belongs(to: "seed") }!
        // The kernel lists anonymous set elements in an order of its own.
        func reversingSets(_ v: JSONValue) -> JSONValue {
            switch v {
            case .object(let m): .object(m.mapValues { x in
                if case .array(let a) = x, m["set"] == x { return .array(a.reversed().map(reversingSets)) }
                return reversingSets(x) })
            case .array(let a): .array(a.map(reversingSets))
            default: v
            }
        }
        for c in truth[.host]!.firewall[i].chains.indices {
            for r in truth[.host]!.firewall[i].chains[c].rules.indices {
                truth[.host]!.firewall[i].chains[c].rules[r].expr = truth[.host]!.firewall[i].chains[c].rules[r].expr.map(reversingSets)
            }
        }
        #expect(truth[.host]!.firewall[i] != desired.state[.host]!.firewall[0], "the test really reorders")
        #expect(Planner.plan(desired, observed: asObserved(truth)).isEmpty)

    }

    @Test func aSavedPlanIsStaleWhenTheProjectTableChanged() throws {
        let start = try converge(seedSpec, from: pristineHost()).1
        let plan = try planFor(seedWithRules, start).1
        var changed = asObserved(start)
        let i = changed[.host]!.firewall.firstIndex { $0.belongs(to: "seed") }!
        changed[.host]!.firewall[i].chains[1].rules.removeLast()
        #expect(Fingerprint.of(changed, scope: plan.scope) != plan.fingerprint)
        // A foreign table changing does not make it stale.
        var foreign = asObserved(start)
        foreign[.host]!.firewall.removeAll { $0.name == "sentinel" }
        #expect(Fingerprint.of(foreign, scope: plan.scope) == plan.fingerprint)
    }
}

/// IP forwarding is a step of the plan (never a silent change, never reset), and a
/// foreign forward chain with a drop policy is named with the fix its owner knows.
@Suite struct HostSettings {
    @Test func forwardingIsSetOnceAndLeftOnByDestroy() throws {
        let (desired, after, plan) = try converge(seedSpec, from: pristineHost())
        let set = plan.steps.filter { $0.operation.backend == .sysctl }
        #expect(set.map(\.operation) == [.setSysctl(namespace: .host, key: "net.ipv4.ip_forward", value: "1")])
        #expect(set.first?.inverse == [.setSysctl(namespace: .host, key: "net.ipv4.ip_forward", value: "0")])
        #expect(Planner.plan(desired, observed: asObserved(after)).isEmpty)
        let destroy = Planner.plan(DesiredState(project: "seed", state: HostState(namespaces: [.host: NamespaceState(ref: .host)])),
                                   observed: asObserved(after))
        #expect(!destroy.steps.contains { $0.operation.backend == .sysctl })
        // Already on: nothing to do; a host that does not report it: not touched.
        var on = pristineHost()
        on[.host]!.sysctls[HostSysctl.ipv4Forwarding] = "1"
        #expect(!(try planFor(seedSpec, on).1.steps.contains { $0.operation.backend == .sysctl }))
        var unknown = pristineHost()
        unknown[.host]!.sysctls = [:]
        #expect(!(try planFor(seedSpec, unknown).1.steps.contains { $0.operation.backend == .sysctl }))
    }

    @Test func anInternalOnlySpecNeedsNoForwarding() throws {
        let text = "version: 1\nproject: quiet\nnetworks:\n  db: {internal: true, subnets: [{subnet: 10.0.1.0/24}]}\n"
        #expect(!(try planFor(text, pristineHost()).1.steps.contains { $0.operation.backend == .sysctl }))
    }

    @Test func aForeignForwardDropIsNamedWithTheFix() throws {
        var host = pristineHost()
        host[.host]!.firewall.append(FirewallTable(family: "ip", name: "filter", chains: [
            .init(name: "FORWARD", base: .init(type: "filter", hook: "forward", priority: 0, policy: "drop"), rules: []),
            .init(name: "DOCKER-USER", base: nil, rules: []),
        ]))
        let (compiled, _) = try planFor(seedSpec, host)
        let warnings = HostAdvice.warnings(desired: compiled.desired, observed: asObserved(host))
        #expect(warnings.count == 1)
        #expect(warnings.first?.hasPrefix("table ip filter, chain FORWARD (hook forward, policy drop) belongs to another tool") == true)
        #expect(warnings.first?.contains("iptables -I DOCKER-USER -i docker0 -j ACCEPT; iptables -I DOCKER-USER -o docker0 -j ACCEPT") == true)
        // An accepting policy, or netform's own tables, are no reason to warn.
        #expect(HostAdvice.warnings(desired: compiled.desired, observed: asObserved(pristineHost())).isEmpty)
    }
}
