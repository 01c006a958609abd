import Addressing
import Foundation
import Model
@testable import netform
import Observe
import Testing
import YAML

// Pure: `netform show`'s YAML says exactly what its JSON says. The YAML is read back
// with netform's own YAML reader (libyaml) and compared with the JSON document.

/// A YAML node as plain values, resolved with netform's scalar rules (YAML 1.2 core).
func plain(_ node: Node) -> Any {
    switch node.content {
    case .sequence(let items): return items.map(plain)
    case .mapping(let pairs):
        var out: [String: Any] = [:]
        for p in pairs { out[p.key.scalar ?? "?"] = plain(p.value) }
        return out
    case .scalar:
        switch node.resolved {
        case .null?, nil: return NSNull()
        case .bool(let b)?: return b
        case .int(let i)?: return i
        case .float(let d)?: return d
        case .string(let s)?: return s
        }
    }
}

/// Compares a JSONSerialization tree with a YAML one; returns the first difference.
func difference(_ json: Any, _ yaml: Any, path: String = "") -> String? {
    switch (json, yaml) {
    case (let a as [String: Any], let b as [String: Any]):
        if Set(a.keys) != Set(b.keys) { return "\(path): keys \(a.keys.sorted()) vs \(b.keys.sorted())" }
        for k in a.keys.sorted() { if let d = difference(a[k]!, b[k]!, path: path + "." + k) { return d } }
        return nil
    case (let a as [Any], let b as [Any]):
        if a.count != b.count { return "\(path): \(a.count) vs \(b.count) items" }
        for (i, (x, y)) in zip(a, b).enumerated() { if let d = difference(x, y, path: "\(path)[\(i)]") { return d } }
        return nil
    case (is NSNull, is NSNull):
        return nil
    case (let a as String, let b as String):
        return a == b ? nil : "\(path): \(a.debugDescription) vs \(b.debugDescription)"
    case (is String, _), (_, is String):
        return "\(path): \(json) vs \(yaml)"
    case (let a as Bool, let b as Bool) where yaml is Bool:
        return a == b ? nil : "\(path): \(a) vs \(b)"
    case (let a as Int, let b as Int):
        return a == b ? nil : "\(path): \(a) vs \(b)"
    default:
        return "\(path): \(type(of: json)) \(json) vs \(type(of: yaml)) \(yaml)"
    }
}

@Suite("netform show: YAML output")
struct YAMLOutputTests {
    static let awkward = ["", "yes", "No", "null", "~", "true", "123", "0x1f", "1e3", "-dash", "a: b", "a #b", " lead",
                          "tab\there", "line\nbreak", "quote\"d", "back\\slash", "é ünïcode", "NaN", ".inf", "@at",
                          "netform:lab/net/a", "02:42:ac:11:00:02", "10.0.0.1", "fd00::1", "[list]", "{map}", "*alias",
                          "&anchor", "!tag", "%percent", "`tick`", "'single'", "\u{7}bell", "plain-word_1.2/x+y"]

    func awkwardState() -> HostState {
        var links = [LinkState(name: "lo", kind: .loopback, mtu: 65536, mac: MACAddress("00:00:00:00:00:00"), index: 1)]
        for (i, text) in Self.awkward.enumerated() {
            links.append(LinkState(name: "l\(i)", kind: i % 2 == 0 ? .bridge : .other(text), mtu: 1500 + i, isUp: i % 3 == 0,
                                   alias: text, isolated: i % 4 == 0, index: Int32(i + 2)))
        }
        links.append(LinkState(name: "vx", kind: .vxlan(VXLANSettings(vni: 42, local: IPAddress("fd00::1"))), index: 99))
        links.append(LinkState(name: "mv", kind: .macvlan(parent: "eth0", mode: "vepa"), index: 100))
        links.append(LinkState(name: "ve", kind: .veth(peer: VethPeerRef(namespace: .named("c 1"), name: "eth0")), index: 101))
        let ns = NamespaceState(ref: .host, links: links,
                                addresses: [AddressState(link: "l0", address: IPAddress("fd00::1")!, prefixLength: 64)],
                                routes: [RouteState(destination: nil, family: .v6, gateway: IPAddress("fd00::fe"), device: "l0")],
                                fdb: [FDBEntryState(link: "vx", mac: MACAddress("00:00:00:00:00:00")!, destination: IPAddress("192.0.2.1"))])
        let empty = NamespaceState(ref: .path("/proc/1/ns/net"), owner: .container("lab", "weird: one"))
        return HostState(namespaces: [.host: ns, empty.ref: empty])
    }

    @Test("YAML and JSON of the same report agree, for awkward strings too")
    func yamlMatchesJSON() throws {
        let report = ObservationReport(awkwardState(), project: nil)
        let yamlText = try YAMLEmitter.render(report)
        let node = try #require(try YAMLParser.parse(Array(yamlText.utf8), file: "show.yaml"))
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(report))
        let diff = difference(json, plain(node))
        #expect(diff == nil, "\(diff ?? "")\n\(yamlText)")
        // The comparison is not vacuous: one changed alias is found.
        var changed = awkwardState()
        changed.namespaces[.host]?.links[3].alias = "yes "
        let other = try #require(try YAMLParser.parse(Array(try YAMLEmitter.render(ObservationReport(changed, project: nil)).utf8), file: "x"))
        #expect(difference(json, plain(other)) != nil)
    }

    @Test("YAML keeps the report's key order and writes plain scalars only when safe")
    func layout() throws {
        let text = try YAMLEmitter.render(ObservationReport(awkwardState(), project: "lab"))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(Array(lines.prefix(4)) == ["format_version: 1", "scope: project", "project: lab", "namespaces:"])
        #expect(lines.contains("- name: host"))
        #expect(lines.contains("  links:"))
        #expect(lines.contains("  - name: lo"))
        #expect(lines.contains("    mac: \"00:00:00:00:00:00\""))
        #expect(lines.contains("    alias: \"yes\""))
        #expect(lines.contains("    alias: \"line\\nbreak\""))
        #expect(lines.contains("    alias: plain-word_1.2/x+y"))
        #expect(lines.contains("  neighbours: []"))
        #expect(lines.last == "", "ends with a newline")
        #expect(YAMLEmitter.scalar("10.0.0.1") == "\"10.0.0.1\"")
        #expect(YAMLEmitter.scalar("eth0") == "eth0")
        #expect(YAMLEmitter.scalar("\u{1}") == "\"\\u0001\"")
    }
}
