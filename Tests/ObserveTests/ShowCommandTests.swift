import Foundation
import Testing
import TestSupport

// End-to-end: the built `netform` binary against scenes made with iproute2 inside
// the sandbox.

/// Parses `netform show --json` output.
func showJSON(_ args: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
    let out = try TestSupport.netform(["show"] + args + ["--json"])
    #expect(out.status == 0, "netform show \(args): \(out.stderr)", sourceLocation: sourceLocation)
    return try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any],
                        sourceLocation: sourceLocation)
}

func namespaces(_ doc: [String: Any]) -> [String: [String: Any]] {
    var out: [String: [String: Any]] = [:]
    for ns in doc["namespaces"] as? [[String: Any]] ?? [] { out[ns["name"] as? String ?? "?"] = ns }
    return out
}

func linkNames(_ ns: [String: Any]?) -> [String] {
    (ns?["links"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
}

func link(_ ns: [String: Any]?, _ name: String) -> [String: Any]? {
    (ns?["links"] as? [[String: Any]] ?? []).first { $0["name"] as? String == name }
}

@Suite("netform show (end to end, sandbox)", .enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"),
       .serialized)
struct ShowCommandTests {
    /// A project's container and network, another project's bridge, and foreign objects.
    struct ShowScene {
        let n = Names()
        var project: String { n.project }
        var otherProject: String { "o\(n.project)" }
        var netns: String { n.netns("c1") }
        var foreignNetns: String { n.netns("fx") }
        var bridge: String { n.link("b") }
        var veth: String { n.link("h") }
        var otherBridge: String { n.link("o") }
        var foreignBridge: String { n.link("f") }

        func build() throws {
            let (a, b) = n.octets
            try run("ip", "netns", "add", netns)
            try run("ip", "netns", "add", foreignNetns)
            try run("ip", "link", "add", bridge, "type", "bridge")
            try run("ip", "link", "set", bridge, "alias", "netform:\(project)/net/a", "up")
            try run("ip", "addr", "add", "10.\(a).\(b).1/24", "dev", bridge)
            try run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
            try run("ip", "link", "set", veth, "master", bridge, "alias", "netform:\(project)/ep/c1/a", "up")
            try run("ip", "link", "add", otherBridge, "type", "bridge")
            try run("ip", "link", "set", otherBridge, "alias", "netform:\(otherProject)/net/z")
            try run("ip", "link", "add", foreignBridge, "type", "bridge")
            try run("ip", "-n", netns, "link", "set", "lo", "alias", "netform:\(project)/ctr/c1", "up")
            try run("ip", "-n", netns, "link", "set", "eth0", "alias", "netform:\(project)/ep/c1/a", "up")
            try run("ip", "-n", netns, "addr", "add", "10.\(a).\(b).2/24", "dev", "eth0")
            try run("ip", "-n", netns, "route", "add", "default", "via", "10.\(a).\(b).1", "dev", "eth0", "proto", "78")
            try run("ip", "-n", netns, "route", "add", "10.251.\(a).0/24", "via", "10.\(a).\(b).1", "dev", "eth0", "proto", "static")
        }

        func cleanup() {
            deleteObjects(netns: [netns, foreignNetns], links: [bridge, veth, otherBridge, foreignBridge])
        }
    }

    @Test("show --project NAME --json prints exactly the project's objects")
    func projectJSON() throws {
        let s = ShowScene()
        defer { s.cleanup() }
        try s.build()
        let doc = try showJSON(["--project", s.project])
        #expect(doc["format_version"] as? Int == 1)
        #expect(doc["scope"] as? String == "project")
        #expect(doc["project"] as? String == s.project)
        let all = namespaces(doc)
        #expect(Set(all.keys) == ["host", s.netns], "only namespaces holding the project's objects")
        #expect(linkNames(all["host"]) == [s.bridge, s.veth])
        let hostOwner = all["host"]?["owner"]
        #expect(hostOwner is NSNull)
        #expect((link(all["host"], s.veth)?["peer"] as? [String: Any])?["namespace"] as? String == s.netns)
        let c1 = all[s.netns]
        #expect((c1?["owner"] as? [String: Any])?["project"] as? String == s.project)
        #expect((c1?["owner"] as? [String: Any])?["path"] as? String == "ctr/c1")
        #expect(linkNames(c1) == ["lo", "eth0"])
        let (a, b) = s.n.octets
        let addresses = (c1?["addresses"] as? [[String: Any]] ?? []).map { "\($0["address"] ?? "")/\($0["prefix_length"] ?? "")" }
        #expect(addresses == ["10.\(a).\(b).2/24"])
        let routes = c1?["routes"] as? [[String: Any]] ?? []
        #expect(routes.count == 1, "only proto-78 routes: \(routes)")
        #expect(routes.first?["destination"] as? String == "default")
        #expect(routes.first?["gateway"] as? String == "10.\(a).\(b).1")
        #expect(routes.first?["protocol"] as? Int == 78)
        #expect(routes.first?["device"] as? String == "eth0")
    }

    @Test("show --all --json prints everything, with an owner on every namespace and link")
    func allJSON() throws {
        let s = ShowScene()
        defer { s.cleanup() }
        try s.build()
        let doc = try showJSON(["--all"])
        #expect(doc["format_version"] as? Int == 1)
        #expect(doc["scope"] as? String == "all")
        #expect(doc["project"] is NSNull)
        let all = namespaces(doc)
        #expect(all["host"]?["type"] as? String == "host")
        #expect(all[s.netns]?["type"] as? String == "named")
        #expect(all[s.foreignNetns]?["owner"] is NSNull)
        #expect(linkNames(all[s.foreignNetns]) == ["lo"])
        for ns in all.values {
            #expect(ns.keys.contains("owner"))
            for l in ns["links"] as? [[String: Any]] ?? [] { #expect(l.keys.contains("owner"), "\(l)") }
        }
        let host = all["host"]
        #expect(link(host, s.foreignBridge)?["owner"] is NSNull)
        #expect((link(host, s.otherBridge)?["owner"] as? [String: Any])?["project"] as? String == s.otherProject)
        #expect((link(host, s.bridge)?["owner"] as? [String: Any])?["mark"] as? String == "netform:\(s.project)/net/a")
        #expect(link(host, "lo")?["kind"] as? String == "loopback")
        let routes = all[s.netns]?["routes"] as? [[String: Any]] ?? []
        #expect(routes.contains { $0["protocol"] as? Int == 4 && $0["netform"] as? Bool == false }, "foreign routes are shown too")
        #expect(routes.contains { $0["protocol"] as? Int == 2 }, "and the kernel's")
        // The other project is not in this one's view.
        let mine = namespaces(try showJSON(["--project", s.project]))
        #expect(!linkNames(mine["host"]).contains(s.otherBridge))
    }

    @Test("YAML by default, and a spec selects its project")
    func yamlAndSpec() throws {
        let s = ShowScene()
        defer { s.cleanup() }
        try s.build()
        let out = try TestSupport.netform(["show", "--project", s.project])
        #expect(out.status == 0, "\(out.stderr)")
        let lines = out.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "format_version: 1")
        #expect(lines.contains("scope: project"))
        #expect(lines.contains("project: \(s.project)"))
        #expect(lines.contains("- name: host"))
        #expect(lines.contains("  - name: \(s.bridge)"))
        #expect(lines.contains("    alias: \"netform:\(s.project)/net/a\""))
        #expect(lines.contains("    owner:"))
        #expect(lines.contains("      project: \(s.project)"))
        #expect(lines.contains("  - destination: default"))
        #expect(lines.contains("    protocol: 78"))
        #expect(lines.contains("  owner: null"), "the host namespace has no owner")

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nfo-show-\(s.n.id)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = dir.appendingPathComponent("lab.yaml")
        try "version: 1\nproject: \(s.project)\nnetworks:\n  a:\n    subnets: [{subnet: 10.\(s.n.octets.0).\(s.n.octets.1).0/24}]\n"
            .write(to: spec, atomically: true, encoding: .utf8)
        let bySpec = try showJSON([spec.path])
        let byName = try showJSON(["--project", s.project])
        #expect(bySpec["project"] as? String == s.project)
        #expect(Set(namespaces(bySpec).keys) == Set(namespaces(byName).keys))
        #expect(linkNames(namespaces(bySpec)["host"]) == linkNames(namespaces(byName)["host"]))

        let bad = dir.appendingPathComponent("bad.yaml")
        try "version: 1\nproject: \(s.project)\nbogus: 1\n".write(to: bad, atomically: true, encoding: .utf8)
        let refused = try TestSupport.netform(["show", bad.path])
        #expect(refused.status == 1)
        #expect(refused.stdout.isEmpty)
        #expect(refused.stderr.contains("bad.yaml:3:1"), "\(refused.stderr)")
        #expect(refused.stderr.contains("bogus"))

        let usage = try TestSupport.netform(["show"])
        #expect(usage.status != 0)
        #expect(usage.stderr.contains("exactly one of"))
        let both = try TestSupport.netform(["show", "--all", "--project", s.project])
        #expect(both.status != 0)
    }
}
