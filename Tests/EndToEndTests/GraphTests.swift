import Foundation
import Testing
import TestSupport

/// `netform graph`: the seed's picture pinned as DOT text, every example rendered
/// by Graphviz (installed by Scripts/install-deps) and as Mermaid.
@Suite struct GraphCommand {
    @Test func theSeedIsDrawnWithItsAddressesAndItsIsolatedNetwork() throws {
        let r = try TestSupport.netform(["graph", "Examples/seed.yaml"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(##""net:bridge" [shape=box, style="rounded,filled", fillcolor="#e8f0fe", label="bridge\nbridge\n172.17.0.0/16"];"##))
        #expect(r.stdout.contains(##""net:aislada" [shape=box, style="rounded,filled", fillcolor="#e8f0fe", label="aislada\nbridge\n172.18.0.0/16"];"##))
        #expect(r.stdout.contains(#""ctr:container1" [shape=ellipse, label="container1\nbridge: 172.17.0.2"];"#))
        #expect(r.stdout.contains(#""ctr:container3" [shape=ellipse, label="container3\naislada: 172.18.0.2"];"#))
        #expect(r.stdout.contains(#""ctr:container3" -> "net:aislada" [dir=none];"#))
        #expect(!r.stdout.contains(#""ctr:container3" -> "net:bridge""#), "container3 is only on aislada")
    }

    @Test(arguments: specFiles("Examples"))
    func everyExampleRendersAsSVGAndMermaid(_ path: String) throws {
        let svg = try TestSupport.netform(["graph", "--format", "svg", path])
        #expect(svg.status == 0 && svg.stdout.contains("<svg") && svg.stdout.contains("</svg>"), "\(path): \(svg.stderr)")
        let mermaid = try TestSupport.netform(["graph", "--format", "mermaid", path])
        #expect(mermaid.status == 0 && mermaid.stdout.hasPrefix("graph LR\n"), "\(mermaid.stderr)")
        // Every container and network of the spec is in the picture.
        let spec = try String(contentsOf: TestSupport.repoRoot.appendingPathComponent(path), encoding: .utf8)
        let dot = try TestSupport.netform(["graph", path]).stdout
        for name in ["container1", "web1", "api", "lb", "cache", "front", "back"] where spec.contains("\n  \(name):") {
            #expect(dot.contains("\(name)") && svg.stdout.contains(name), "\(path): \(name) missing")
        }
    }

    @Test func overlayContainersAreGroupedByHostAndRulesAreArrows() throws {
        let r = try TestSupport.netform(["graph", "Examples/overlay.yaml"])
        #expect(r.stdout.contains(#"subgraph "cluster_host_node3" {"#) && r.stdout.contains(#"label="host node3""#))
        #expect(r.stdout.contains(#""ctr:cache" [shape=ellipse, label="cache\nback: dynamic"];"#), "an overlay's dynamic address is the store's")
        #expect(r.stdout.contains(##""net:front" -> "label:role=cache" [style=dashed, color="#188038", label="rule 1: allow 6379/tcp"];"##), "\(r.stdout)")
        #expect(r.stdout.contains(##""host" -> "ctr:lb" [label="80:8080/tcp", color="#1a73e8"];"##))
    }
}

/// `graph --live`: the picture of what the kernel has, drift included.
@Suite(.enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"))
struct GraphLive {
    @Test func theLiveSeedIsDrawnWithTheAddressesItHoldsNow() throws {
        let r = try sandboxed("""
        netform apply --yes Examples/seed.yaml >/dev/null
        echo "== dot"; netform graph --live --project seed
        echo "== drift"
        ip -n seed.container2 addr add 172.17.0.99/16 dev eth0
        ip -n seed.container2 addr del 172.17.0.3/16 dev eth0
        netform graph --live --project seed --format mermaid
        echo "== svg"; netform graph --live Examples/seed.yaml --format svg -o /tmp/live.svg; grep -c '<svg' /tmp/live.svg || true
        echo "== usage"; set +e; netform graph 2>&1; echo "exit=$?"; set -e
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let dot = text(after: "== dot", in: r.stdout, until: "== drift")
        #expect(dot.contains("digraph \"netform_seed\""), "\(dot)")
        #expect(dot.contains("\"net:aislada\" [shape=box") && dot.contains("172.18.0.0/16"), "\(dot)")
        #expect(dot.contains("label=\"container1\\nbridge: 172.17.0.2\"") && dot.contains("\"ctr:container3\" -> \"net:aislada\""), "\(dot)")
        let drift = text(after: "== drift", in: r.stdout, until: "== svg")
        // container2 lost netform's address; the one added by hand is not netform's.
        #expect(drift.contains("ctr_container2((\"container2<br/>bridge: \"))") && !drift.contains("172.17.0.3")
                && !drift.contains("172.17.0.99"), "what it holds now: \(drift)")
        #expect(text(after: "== svg", in: r.stdout, until: "== usage").contains("1"), "\(r.stdout)")
        #expect(text(after: "== usage", in: r.stdout).contains("give a spec file, or --live") && r.stdout.contains("exit=64"), "\(r.stdout)")
    }
}
