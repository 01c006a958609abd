import Addressing
import Compile
import Foundation
import Model
import Testing
@testable import Plan

/// Examples/dual-stack.yaml on a simulated host: IPAM of both families and changes
/// of one family only.
@Suite struct DualStack {
    static let example: String = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Examples/dual-stack.yaml")
        return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }()

    func addresses(_ compiled: CompiledSpec, _ container: String, _ network: String) -> [String] {
        guard let ep = compiled.endpoints.first(where: { $0.container == container && $0.network == network }) else { return [] }
        return [ep.ipv4, ep.ipv6].compactMap { $0.map { "\($0.address)" } }
    }

    @Test func dynamicAddressesComeFromIPRangeOfEachFamily() throws {
        let compiled = try Compiler.compile(try spec(Self.example), observed: pristineHost())
        #expect(addresses(compiled, "app1", "lab") == ["10.2.0.10", "fd3c:5e71:a2b4:1::10"])
        #expect(addresses(compiled, "app2", "lab") == ["10.2.0.128", "fd3c:5e71:a2b4:1::20"])
        #expect(addresses(compiled, "app3", "lab") == ["10.2.0.129", "fd3c:5e71:a2b4:1:8000::"])
        #expect(addresses(compiled, "app2", "storage") == ["10.2.1.2", "fd3c:5e71:a2b4:2::2"])
        #expect(addresses(compiled, "app3", "storage") == ["10.2.1.3", "fd3c:5e71:a2b4:2::3"])
        #expect(addresses(compiled, "nfs", "storage") == ["10.2.1.10", "fd3c:5e71:a2b4:2::10"])
        let app3 = try #require(compiled.desired.state[.named("dualstack.app3")])
        #expect(app3.routes.map(\.description) == ["default via 10.2.0.1 dev eth0 proto 78", "default via fd3c:5e71:a2b4:1::1 dev eth0 proto 78"],
                "defaults of both families via lab; storage is internal")
        #expect(compiled.desired.state[.named("dualstack.nfs")]?.routes == [])
    }

    @Test func auxAddressesAreNeverHandedOut() throws {
        // The aux addresses moved to the first address of each ip_range.
        let text = Self.example.replacingOccurrences(of: "router: 10.2.0.254", with: "router: 10.2.0.128")
            .replacingOccurrences(of: "router: \"fd3c:5e71:a2b4:1::fe\"", with: "router: \"fd3c:5e71:a2b4:1:8000::\"")
        #expect(text != Self.example)
        let compiled = try Compiler.compile(try spec(text), observed: pristineHost())
        #expect(addresses(compiled, "app2", "lab") == ["10.2.0.129", "fd3c:5e71:a2b4:1::20"])
        #expect(addresses(compiled, "app3", "lab") == ["10.2.0.130", "fd3c:5e71:a2b4:1:8000::1"])
    }

    @Test func anIPv6ChangeLeavesIPv4RoutesAlone() throws {
        let (_, after, _) = try converge(Self.example, from: pristineHost())
        let changed = Self.example.replacingOccurrences(of: "ipv6: fd3c:5e71:a2b4:1::10", with: "ipv6: fd3c:5e71:a2b4:1::11")
        let (desired, final, plan) = try converge(changed, from: after)
        let routeSteps = plan.steps.compactMap { step -> RouteState? in
            switch step.operation {
            case .addRoute(_, let r), .deleteRoute(_, let r): r
            default: nil
            }
        }
        #expect(!routeSteps.isEmpty && routeSteps.allSatisfy { $0.family == .v6 }, "\(plan.steps.map(\.operation))")
        #expect(projection(asObserved(final), like: desired).normalized() == comparable(desired))
        #expect(try planFor(changed, final).1.isEmpty)
    }
}
