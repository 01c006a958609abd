import Addressing
import Execute
import Foundation
import Model
import Plan
import Reconcile
import Testing

/// A VXLAN device that a plan deletes and a rollback recreates must come back with
/// the MAC it had: other hosts' FDB entries and neighbours point at it, and the
/// kernel would otherwise pick a new random one.
@Suite struct VXLANRestore {
    let spec = """
    version: 1
    project: mix
    networks:
      ov: {driver: overlay, vni: 4100, subnets: [{subnet: 10.3.0.0/24}]}
    containers:
      a: {networks: [ov]}
    """
    /// What the kernel picked when it created the device.
    let kernelMAC = MACAddress("5e:12:9a:40:07:c1")!

    func running() throws -> (HostState, String) {
        var host = try applied(try planFor(spec, pristineHost()).1, to: pristineHost())
        let i = try #require(host[.host]!.links.firstIndex { if case .vxlan = $0.kind { true } else { false } })
        #expect(host[.host]!.links[i].mac == nil, "created without a MAC: the kernel picks one")
        host[.host]!.links[i].mac = kernelMAC
        return (host, host[.host]!.links[i].name)
    }

    @Test func theInverseOfDeletingAVXLANCarriesItsMAC() throws {
        let (host, name) = try running()
        let destroy = Planner.plan(DesiredState(project: "mix", state: HostState(namespaces: [.host: NamespaceState(ref: .host)])),
                                   observed: asObserved(host))
        let delete = try #require(destroy.steps.first { $0.operation == .deleteLink(namespace: .host, name: name) })
        let recreate = try #require(delete.inverse.first { if case .createVXLAN = $0 { true } else { false } })
        guard case .createVXLAN(.host, name, let s, _, _, let mac, _) = recreate else { Issue.record("\(recreate)"); return }
        #expect(mac == kernelMAC)
        #expect(s.vni == 4100)
        #expect(DryRun.commands(for: recreate).first?.hasPrefix("ip link add \(name) address 5e:12:9a:40:07:c1 ") == true)
        for k in 1...destroy.steps.count {
            let driver = SimulatedDriver(host)
            let report = Executor.run(destroy, driver: driver, failpoint: Failpoint(step: k))
            #expect(report.failure?.rolledBack == true)
            #expect(driver.state[.host]?.link(named: name)?.mac == kernelMAC, "step \(k)")
            #expect(driver.state.normalized() == host.normalized(), "step \(k)")
        }
    }

    @Test func aNewVXLANLetsTheKernelPickItsMAC() throws {
        let plan = try planFor(spec, pristineHost()).1
        let create = try #require(plan.steps.first { if case .createVXLAN = $0.operation { true } else { false } })
        guard case .createVXLAN(_, _, _, _, _, let mac, _) = create.operation else { return }
        #expect(mac == nil)
    }

    @Test func aSavedPlanWrittenBeforeVXLANsHadAMACStillReads() throws {
        let old = #"{"create_vxlan": {"namespace": "host", "name": "vx0", "settings": {"vni": 4100, "port": 4789}, "mtu": 1450, "alias": "netform:mix/net/ov"}}"#
        let op = try PlanJSON.decoder().decode(Model.Operation.self, from: Data(old.utf8))
        #expect(op == .createVXLAN(namespace: .host, name: "vx0", settings: VXLANSettings(vni: 4100), master: nil, mtu: 1450, mac: nil,
                                   alias: "netform:mix/net/ov"))
        let new = try PlanJSON.encoder(pretty: false).encode(Model.Operation.createVXLAN(
            namespace: .host, name: "vx0", settings: VXLANSettings(vni: 4100), master: nil, mtu: 1450, mac: kernelMAC, alias: "a"))
        #expect(String(decoding: new, as: UTF8.self).contains(#""mac":"5e:12:9a:40:07:c1""#))
    }

    @Test func everyOperationWithACapitalisedNameSurvivesAPlanFile() throws {
        let entry = FDBEntryState(link: "vx0", mac: kernelMAC, destination: IPAddress("192.0.2.8"))
        let ops: [Model.Operation] = [
            .createVXLAN(namespace: .host, name: "vx0", settings: VXLANSettings(vni: 4100, local: IPAddress("192.0.2.1"), device: "ul0"),
                         master: "br0", mtu: 1450, mac: kernelMAC, alias: "netform:mix/net/ov"),
            .addFDBEntry(namespace: .host, entry: entry),
            .deleteFDBEntry(namespace: .host, entry: entry),
        ]
        for op in ops {
            let data = try PlanJSON.encoder(pretty: false).encode(op)
            #expect(try PlanJSON.decoder().decode(Model.Operation.self, from: data) == op, "\(String(decoding: data, as: UTF8.self))")
        }
        #expect(String(decoding: try PlanJSON.encoder(pretty: false).encode(ops[1]), as: UTF8.self).hasPrefix(#"{"add_fdb_entry":"#))
        // A whole overlay plan, as `plan --out` writes it and `apply FILE` reads it.
        let plan = try planFor(spec, pristineHost()).1
        #expect(plan.steps.contains { if case .createVXLAN = $0.operation { true } else { false } })
        let data = try PlanJSON.encoder(pretty: false).encode(plan)
        #expect(try PlanJSON.decoder().decode(Plan.self, from: data) == plan)
    }
}
