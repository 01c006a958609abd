import Addressing
import Compile
import Model
import Spec
import Foundation

/// A spec's topology as a picture: networks, the containers on them with their
/// addresses, published ports, the flows the rules allow or deny across networks,
/// and the hosts an overlay spans — as Graphviz DOT or Mermaid text.
///
/// Why it exists: a spec of a dozen containers and rules is read faster as a
/// picture than as YAML, and a picture in a pull request shows what a change does
/// to who reaches whom. Pure: built from the spec and a compile against an empty
/// host (the addresses a fresh apply gives), so it needs no root.
public struct TopologyGraph: Sendable, Equatable {
    public struct Network: Sendable, Equatable {
        public var name: String
        public var driver: String
        public var subnets: [String]
        /// `internal`, `icc off`, `no masquerade`: what isolates it beyond Docker's defaults.
        public var traits: [String]
    }

    public struct Container: Sendable, Equatable {
        public var name: String
        /// The host it is placed on (`host:`), nil for every host.
        public var host: String?
        /// Network → its addresses there (`dynamic` when another host allocates it).
        public var addresses: [(network: String, text: String)]
        public var ports: [String]
        public var sharesHostNetwork: Bool

        public static func == (a: Container, b: Container) -> Bool {
            a.name == b.name && a.host == b.host && a.ports == b.ports && a.sharesHostNetwork == b.sharesHostNetwork
                && a.addresses.map(\.network) == b.addresses.map(\.network) && a.addresses.map(\.text) == b.addresses.map(\.text)
        }
    }

    public struct Flow: Sendable, Equatable {
        public var allow: Bool
        public var from: String
        public var to: String
        public var what: String
    }

    public var project: String
    public var networks: [Network]
    public var containers: [Container]
    public var flows: [Flow]

    public init(spec: Spec) {
        project = spec.project
        networks = spec.networks.map { n in
            var traits: [String] = []
            if n.isInternal { traits.append("internal") }
            if !n.icc { traits.append("icc off") }
            if n.driver == .bridge && !n.masquerade { traits.append("no masquerade") }
            if let vni = n.vni { traits.append("vni \(vni)") }
            return Network(name: n.name, driver: n.driver.rawValue, subnets: n.subnets.map { "\($0.subnet)" }, traits: traits)
        }
        // Addresses as a fresh apply on each host gives them; overlay addresses that
        // no static entry fixes are the cluster store's to hand out.
        var compiled: [String: Endpoint] = [:]
        let hosts = Set(spec.containers.map(\.host))
        for host in hosts.sorted(by: { ($0 ?? "") < ($1 ?? "") }) {
            guard let c = try? Compiler.compile(spec, observed: HostState(), localHost: host) else { continue }
            for ep in c.endpoints { compiled["\(ep.container)/\(ep.network)"] = ep }
        }
        containers = spec.containers.map { c in
            var addresses: [(network: String, text: String)] = []
            for a in c.attachments {
                let overlay = spec.network(named: a.network)?.driver == .overlay
                let statics = [a.ipv4.map { "\($0)" }, a.ipv6.map { "\($0)" }].compactMap { $0 }
                if overlay {
                    addresses.append((a.network, statics.isEmpty ? "dynamic" : statics.joined(separator: ", ")))
                } else if let ep = compiled["\(c.name)/\(a.network)"] {
                    addresses.append((a.network, [ep.ipv4, ep.ipv6].compactMap { $0.map { "\($0.address)" } }.joined(separator: ", ")))
                } else {
                    addresses.append((a.network, statics.joined(separator: ", ")))
                }
            }
            let shares = if case .host = c.networking { true } else { false }
            return Container(name: c.name, host: c.host, addresses: addresses, ports: c.ports.map(\.description), sharesHostNetwork: shares)
        }
        flows = spec.rules.map { r in
            let what = (r.ports.map(\.description) + r.protocols.map(\.rawValue)).joined(separator: ", ")
            return Flow(allow: r.action == .allow, from: r.from.description, to: r.to.description, what: what.isEmpty ? "all" : what)
        }
    }

    // MARK: DOT

    /// Graphviz DOT: a box per network (a cluster per host for overlay containers
    /// placed on hosts), an ellipse per container linked to its networks, the host's
    /// published ports, and each rule as a dashed arrow (green allow, red deny).
    public var dot: String {
        var out = "digraph \(Self.quote("netform_\(project)")) {\n"
        out += "  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=11];\n  edge [fontname=\"Helvetica\", fontsize=9];\n"
        out += "  label=\(Self.quote("netform project \(project)")); labelloc=t;\n"
        for n in networks {
            let label = ([n.name, n.driver] + n.subnets + n.traits).joined(separator: "\\n")
            out += "  \(Self.quote("net:\(n.name)")) [shape=box, style=\"rounded,filled\", fillcolor=\"#e8f0fe\", label=\(Self.quote(label))];\n"
        }
        let byHost = Dictionary(grouping: containers.filter { $0.host != nil }, by: { $0.host! })
        func node(_ c: Container) -> String {
            let lines = [c.name] + (c.sharesHostNetwork ? ["host network"] : c.addresses.map { "\($0.network): \($0.text)" })
            return "\(Self.quote("ctr:\(c.name)")) [shape=ellipse, label=\(Self.quote(lines.joined(separator: "\\n")))];\n"
        }
        for host in byHost.keys.sorted() {
            out += "  subgraph \(Self.quote("cluster_host_\(host)")) {\n    label=\(Self.quote("host \(host)")); style=dashed;\n"
            for c in byHost[host]! { out += "    " + node(c) }
            out += "  }\n"
        }
        for c in containers where c.host == nil { out += "  " + node(c) }
        for c in containers {
            for a in c.addresses { out += "  \(Self.quote("ctr:\(c.name)")) -> \(Self.quote("net:\(a.network)")) [dir=none];\n" }
        }
        let publishing = containers.filter { !$0.ports.isEmpty }
        if !publishing.isEmpty || containers.contains(where: \.sharesHostNetwork) {
            out += "  \"host\" [shape=house, label=\"this host\"];\n"
        }
        for c in publishing {
            out += "  \"host\" -> \(Self.quote("ctr:\(c.name)")) [label=\(Self.quote(c.ports.joined(separator: "\\n"))), color=\"#1a73e8\"];\n"
        }
        for c in containers where c.sharesHostNetwork { out += "  \(Self.quote("ctr:\(c.name)")) -> \"host\" [dir=none, style=bold];\n" }
        // Rule sides that are not a container or a network: `any`, label selectors.
        var extra: [String] = []
        for f in flows {
            for n in [Self.endpointNode(f.from), Self.endpointNode(f.to)] where !n.hasPrefix("net:") && !n.hasPrefix("ctr:") && !extra.contains(n) {
                extra.append(n)
            }
        }
        for n in extra { out += "  \(Self.quote(n)) [shape=\(n == "any" ? "plaintext" : "note")];\n" }
        for (i, f) in flows.enumerated() {
            let (from, to) = (Self.endpointNode(f.from), Self.endpointNode(f.to))
            out += "  \(Self.quote(from)) -> \(Self.quote(to)) [style=dashed, color=\(f.allow ? "\"#188038\"" : "\"#d93025\""), "
                + "label=\(Self.quote("rule \(i + 1): \(f.allow ? "allow" : "deny") \(f.what)"))];\n"
        }
        return out + "}\n"
    }

    // MARK: Mermaid

    /// Mermaid `graph LR` text (GitHub renders it in Markdown).
    public var mermaid: String {
        var out = "graph LR\n"
        func id(_ s: String) -> String {
            String(s.map { $0.isLetter || $0.isNumber ? $0 : "_" })
        }
        func text(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "#quot;") + "\"" }
        for n in networks {
            out += "  \(id("net_\(n.name)"))[\(text(([n.name, n.driver] + n.subnets + n.traits).joined(separator: "<br/>")))]\n"
        }
        for host in Set(containers.compactMap(\.host)).sorted() {
            out += "  subgraph \(id("host_\(host)"))[\(text("host \(host)"))]\n"
            for c in containers where c.host == host { out += "    \(id("ctr_\(c.name)"))((\(text(Self.lines(c).joined(separator: "<br/>")))))\n" }
            out += "  end\n"
        }
        for c in containers where c.host == nil { out += "  \(id("ctr_\(c.name)"))((\(text(Self.lines(c).joined(separator: "<br/>")))))\n" }
        for c in containers {
            for a in c.addresses { out += "  \(id("ctr_\(c.name)")) --- \(id("net_\(a.network)"))\n" }
        }
        if containers.contains(where: { !$0.ports.isEmpty || $0.sharesHostNetwork }) { out += "  host{{\"this host\"}}\n" }
        for c in containers where !c.ports.isEmpty { out += "  host -- \(text(c.ports.joined(separator: ", "))) --> \(id("ctr_\(c.name)"))\n" }
        for c in containers where c.sharesHostNetwork { out += "  \(id("ctr_\(c.name)")) === host\n" }
        for (i, f) in flows.enumerated() {
            let from = Self.endpointNode(f.from), to = Self.endpointNode(f.to)
            func mid(_ n: String) -> String {
                n == "any" ? "any_\(i)((any))" : n.hasPrefix("net:") ? id("net_\(n.dropFirst(4))") : n.hasPrefix("ctr:") ? id("ctr_\(n.dropFirst(4))") : "\(id(n))[\(text(n))]"
            }
            out += "  \(mid(from)) -. \(text("rule \(i + 1): \(f.allow ? "allow" : "deny") \(f.what)")) .-> \(mid(to))\n"
        }
        return out
    }

    static func lines(_ c: Container) -> [String] {
        [c.name] + (c.sharesHostNetwork ? ["host network"] : c.addresses.map { "\($0.network): \($0.text)" })
    }

    /// A rule side as a node: a container's, a network's, a label's own node, or any.
    static func endpointNode(_ selector: String) -> String {
        if selector == "any" { return "any" }
        if selector.hasPrefix("network:") { return "net:" + selector.dropFirst("network:".count) }
        if selector.hasPrefix("label:") { return selector }
        return "ctr:" + selector
    }

    static func quote(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\\\\n", with: "\\n") + "\""
    }
}
