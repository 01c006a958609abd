import Addressing
import Model
import Spec

/// A `Spec` as the YAML a person would write: the examples' layout (block mappings,
/// short flow lists and attachment maps), defaults left out, strings quoted only where
/// YAML would read them as something else.
///
/// Why it exists: `netform import` must hand back a file a user keeps in git and
/// edits, not a dump. What is written is read back by the same loader as any spec
/// (`netform validate`), so the writer and the decoder cannot drift apart unnoticed:
/// the import round trip tests compile what is read back.
public enum SpecWriter {
    /// - Parameter header: comment lines written first (without `# `).
    public static func yaml(_ spec: Spec, header: [String] = []) -> String {
        var out = ""
        for line in header { out += line.isEmpty ? "#\n" : "# \(line)\n" }
        if !header.isEmpty { out += "#\n" }
        out += "version: \(spec.version)\n"
        out += "project: \(scalar(spec.project))\n"
        if let c = spec.cluster {
            out += "\ncluster:\n  store: \(scalar(c.store))\n"
            if let a = c.advertise { out += "  advertise: \(scalar(a))\n" }
            if !c.options.isEmpty {
                out += "  options:\n"
                for (k, v) in c.options.sorted(by: { $0.key < $1.key }) { out += "    \(scalar(k)): \(scalar(v))\n" }
            }
        }
        if !spec.networks.isEmpty {
            out += "\nnetworks:\n"
            for net in spec.networks { out += network(net, project: spec.project) }
        }
        if !spec.containers.isEmpty {
            out += "\ncontainers:\n"
            for c in spec.containers { out += container(c) }
        }
        if !spec.rules.isEmpty {
            out += "\nrules:\n"
            for r in spec.rules { out += "  - " + rule(r) + "\n" }
        }
        return out
    }

    static func network(_ net: NetworkSpec, project: String) -> String {
        var lines: [String] = []
        if net.driver != .bridge { lines.append("driver: \(net.driver.rawValue)") }
        if net.driver != .macvlan, net.device != defaultBridgeName(project: project, network: net.name) {
            lines.append("bridge: \(scalar(net.device))")
        }
        if net.driver == .macvlan {
            lines.append("parent: \(scalar(net.parent ?? ""))")
            lines.append("mode: \((net.macvlanMode ?? .bridge).rawValue)")
        }
        if net.driver == .overlay, let vni = net.vni, vni != defaultVNI(project: project, network: net.name) {
            lines.append("vni: \(vni)")
        }
        if net.subnets.isEmpty {
            lines.append("subnets: []")
        } else {
            lines.append("subnets:")
            for s in net.subnets {
                var item = ["subnet: \(scalar("\(s.subnet)"))"]
                if s.gateway != s.subnet.address(at: 1) { item.append("gateway: \(scalar("\(s.gateway)"))") }
                if s.ipRange != s.subnet { item.append("ip_range: \(scalar("\(s.ipRange)"))") }
                lines.append("  - " + item.joined(separator: "\n    "))
                if !s.auxAddresses.isEmpty {
                    lines.append("    aux_addresses:")
                    for (name, a) in s.auxAddresses.sorted(by: { $0.key < $1.key }) { lines.append("      \(scalar(name)): \(scalar("\(a)"))") }
                }
            }
        }
        if !net.icc { lines.append("icc: false") }
        if net.isInternal { lines.append("internal: true") }
        if net.driver == .bridge, !net.isInternal, !net.masquerade { lines.append("masquerade: false") }
        let defaultMTU = net.driver == .overlay ? 1450 : 1500
        if net.mtu != defaultMTU { lines.append("mtu: \(net.mtu)") }
        if net.hostBindingIPv4 != IPv4Address(0) { lines.append("host_binding_ipv4: \(scalar("\(net.hostBindingIPv4)"))") }
        if !net.labels.isEmpty { lines.append("labels: " + flowMap(net.labels.sorted { $0.key < $1.key })) }
        return "  \(scalar(net.name)):\n" + lines.map { "    \($0)\n" }.joined()
    }

    static func container(_ c: ContainerSpec) -> String {
        var lines: [String] = []
        if let h = c.host { lines.append("host: \(scalar(h))") }
        switch c.netns {
        case .name(let n)?: lines.append("netns: {name: \(scalar(n))}")
        case .path(let p)?: lines.append("netns: {path: \(scalar(p))}")
        case .pid(let pid)?: lines.append("netns: {pid: \(pid)}")
        case nil: break
        }
        switch c.networking {
        case .host:
            lines.append("networks: [host]")
        case .attached(let list) where list.isEmpty:
            lines.append("networks: [none]")
        case .attached(let list):
            let settings = list.enumerated().map { i, a in attachmentSettings(a, position: i) }
            if settings.allSatisfy(\.isEmpty) {
                lines.append("networks: [" + list.map { scalar($0.network) }.joined(separator: ", ") + "]")
            } else {
                lines.append("networks:")
                for (a, s) in zip(list, settings) {
                    lines.append("  \(scalar(a.network)):" + (s.isEmpty ? " null" : " {" + s.joined(separator: ", ") + "}"))
                }
            }
        }
        if !c.ports.isEmpty { lines.append("ports: [" + c.ports.map { quoted($0.description) }.joined(separator: ", ") + "]") }
        if let n = c.dns.nameservers { lines.append("dns: [" + n.map { scalar("\($0)") }.joined(separator: ", ") + "]") }
        if let s = c.dns.search { lines.append("dns_search: [" + s.map(scalar).joined(separator: ", ") + "]") }
        if let o = c.dns.options { lines.append("dns_options: [" + o.map(quoted).joined(separator: ", ") + "]") }
        if !c.extraHosts.isEmpty {
            lines.append("extra_hosts:")
            for h in c.extraHosts { lines.append("  \(scalar(h.name)): \(scalar("\(h.address)"))") }
        }
        if !c.labels.isEmpty {
            lines.append("labels:")
            for (k, v) in c.labels.sorted(by: { $0.key < $1.key }) { lines.append("  \(scalar(k)): \(scalar(v))") }
        }
        if lines.isEmpty { return "  \(scalar(c.name)): {}\n" }
        return "  \(scalar(c.name)):\n" + lines.map { "    \($0)\n" }.joined()
    }

    /// What an attachment sets beyond the defaults of its position.
    static func attachmentSettings(_ a: Attachment, position: Int) -> [String] {
        var s: [String] = []
        if let v = a.ipv4 { s.append("ipv4: \(scalar("\(v)"))") }
        if let v = a.ipv6 { s.append("ipv6: \(quoted("\(v)"))") }
        if let m = a.mac { s.append("mac: \(quoted("\(m)"))") }
        if a.interface != "eth\(position)" { s.append("interface: \(scalar(a.interface))") }
        return s
    }

    static func rule(_ r: RuleSpec) -> String {
        var parts = ["from: \(scalar(r.from.description))", "to: \(scalar(r.to.description))"]
        if !r.ports.isEmpty { parts.append("ports: [" + r.ports.map { $0.description }.joined(separator: ", ") + "]") }
        if !r.protocols.isEmpty { parts.append("protocols: [" + r.protocols.map(\.rawValue).joined(separator: ", ") + "]") }
        return "\(r.action.rawValue): {" + parts.joined(separator: ", ") + "}"
    }

    static func flowMap(_ pairs: [(key: String, value: String)]) -> String {
        "{" + pairs.map { "\(scalar($0.key)): \(scalar($0.value))" }.joined(separator: ", ") + "}"
    }

    /// Plain when YAML reads it back as this same string, else double-quoted.
    static func scalar(_ s: String) -> String { isPlainSafe(s) ? s : quoted(s) }

    /// A double-quoted scalar (JSON's escapes, which YAML reads the same).
    static func quoted(_ s: String) -> String {
        var out = ""
        JSONText.quote(s, into: &out)
        return out
    }

    /// Words YAML 1.1 reads as booleans or null.
    static let reserved: Set<String> = ["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"]

    /// Letters, digits and `_./-` starting with a letter or `/` (not a reserved word), or an
    /// IPv4 address or prefix: both stay strings for every YAML reader.
    static func isPlainSafe(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first else { return false }
        if reserved.contains(s.lowercased()) { return false }
        let word = s.unicodeScalars.allSatisfy { ($0.properties.isAlphabetic && $0.isASCII) || ("0"..."9").contains($0) || "_./-".unicodeScalars.contains($0) }
        if word, (first.properties.isAlphabetic && first.isASCII) || first == "/" { return true }
        // 10.1.0.0/24, 172.17.0.1: three dots make it neither an int nor a float.
        let ipv4ish = s.unicodeScalars.allSatisfy { ("0"..."9").contains($0) || $0 == "." || $0 == "/" }
        return ipv4ish && s.filter { $0 == "." }.count == 3
    }
}

