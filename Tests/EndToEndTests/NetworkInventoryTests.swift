import Foundation
import Testing
import TestSupport

// End to end: `netform network ls/inspect` on hosts built by `netform apply` in a
// sandbox, checked against Docker's seed document and against iproute2 (`ip -j`).

/// The script's output split at lines `== NAME` (each section's text up to the next;
/// also used by DockerEngineTests).
func sections(_ out: String) -> [String: String] {
    var result: [String: String] = [:]
    var current: String?
    var text = ""
    for line in out.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("== ") {
            if let current { result[current] = text }
            current = String(line.dropFirst(3))
            text = ""
        } else {
            text += line + "\n"
        }
    }
    if let current { result[current] = text }
    return result
}

private func parse(_ text: String?) throws -> Any {
    try JSONSerialization.jsonObject(with: Data((text ?? "").utf8))
}

/// The container entries of an inspect document, by container name.
private func containersByName(_ network: [String: Any]) -> [String: [String: Any]] {
    var out: [String: [String: Any]] = [:]
    for (id, value) in network["Containers"] as? [String: Any] ?? [:] {
        guard var entry = value as? [String: Any], let name = entry["Name"] as? String else { continue }
        entry["Id"] = id
        out[name] = entry
    }
    return out
}

/// `ip -j addr show DEV` → (MAC, ["ADDRESS/PREFIX" of global addresses]).
private func ipAddr(_ text: String?) throws -> (mac: String?, addresses: [String]) {
    let links = try parse(text) as? [[String: Any]] ?? []
    let link = try #require(links.first)
    let infos = link["addr_info"] as? [[String: Any]] ?? []
    let addresses = infos.filter { $0["scope"] as? String == "global" }.compactMap { a -> String? in
        guard let local = a["local"] as? String, let p = a["prefixlen"] as? Int else { return nil }
        return "\(local)/\(p)"
    }
    return (link["address"] as? String, addresses)
}

/// `ip -j -d link show master BRIDGE` → the `isolated` flag of each port.
private func isolatedFlags(_ text: String?) throws -> [Bool] {
    let links = try parse(text) as? [[String: Any]] ?? []
    return links.compactMap { l in
        let info = l["linkinfo"] as? [String: Any]
        return (info?["info_slave_data"] as? [String: Any])?["isolated"] as? Bool
    }
}

@Suite("netform network ls/inspect (end to end, sandbox)", .enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"))
struct NetworkInventoryEndToEnd {
    @Test("after applying the seed, `network inspect bridge` is Docker's document and matches ip -j")
    func seedInspect() throws {
        let r = try sandboxed("""
        netform apply --yes Examples/seed.yaml >/dev/null
        echo "== inspect"; netform network inspect bridge
        echo "== ls"; netform network ls
        echo "== lsjson"; netform network ls --format json
        echo "== quiet"; netform network ls -q
        echo "== byid"; netform network inspect "$(netform network ls -q | head -1)" | grep '"Name"' | head -1
        echo "== c1"; ip -n seed.container1 -j addr show eth0
        echo "== c2"; ip -n seed.container2 -j addr show eth0
        echo "== c3"; ip -n seed.container3 -j addr show eth0
        echo "== docker0"; ip -j addr show docker0
        echo "== ports"; ip -j -d link show master docker0
        echo "== none"; netform network inspect --spec Examples/seed.yaml none host
        echo "== unknown"; set +e; netform network inspect bridge nope 2>&1; echo "exit=$?"; set -e
        echo "== end"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let s = sections(r.stdout)

        // The document, checked against the seed's `docker network inspect bridge`.
        let doc = try #require(try parse(s["inspect"]) as? [[String: Any]], "\(r.stdout)")
        #expect(doc.count == 1)
        let bridge = try #require(doc.first)
        #expect(bridge["Name"] as? String == "bridge")
        let id = try #require(bridge["Id"] as? String)
        #expect(id.count == 64 && id.allSatisfy(\.isHexDigit))
        #expect(bridge["Scope"] as? String == "local")
        #expect(bridge["Driver"] as? String == "bridge")
        #expect(bridge["EnableIPv6"] as? Bool == false)
        #expect(bridge["Internal"] as? Bool == false)
        let ipam = try #require(bridge["IPAM"] as? [String: Any])
        #expect(ipam["Driver"] as? String == "default")
        #expect(ipam["Options"] is NSNull)
        let config = ipam["Config"] as? [[String: String]]
        #expect(config == [["Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"]])
        let containers = containersByName(bridge)
        #expect(Set(containers.keys) == ["container1", "container2"])
        #expect(containers["container1"]?["IPv4Address"] as? String == "172.17.0.2/16")
        #expect(containers["container1"]?["MacAddress"] as? String == "02:42:ac:11:00:02")
        #expect(containers["container1"]?["IPv6Address"] as? String == "")
        #expect(containers["container2"]?["IPv4Address"] as? String == "172.17.0.3/16")
        #expect(containers["container2"]?["MacAddress"] as? String == "02:42:ac:11:00:03")
        for c in containers.values {
            #expect((c["EndpointID"] as? String)?.count == 64 && (c["Id"] as? String)?.count == 64)
        }
        let options = bridge["Options"] as? [String: String]
        #expect(options == [
            "com.docker.network.bridge.default_bridge": "true",
            "com.docker.network.bridge.enable_icc": "true",
            "com.docker.network.bridge.enable_ip_masquerade": "true",
            "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
            "com.docker.network.bridge.name": "docker0",
            "com.docker.network.driver.mtu": "1500",
        ])
        #expect((bridge["Labels"] as? [String: String])?.isEmpty == true)

        // Docker's key order, in the text itself.
        let text = s["inspect"] ?? ""
        let keys = ["Name", "Id", "Scope", "Driver", "EnableIPv6", "IPAM", "Internal", "Attachable", "Ingress", "ConfigFrom", "ConfigOnly",
                    "Containers", "Options", "Labels"]
        let positions = keys.map { text.range(of: "\n        \"\($0)\": ")?.lowerBound }
        #expect(positions.allSatisfy { $0 != nil }, "\(text)")
        #expect(positions.compactMap { $0 } == positions.compactMap { $0 }.sorted(), "keys out of Docker's order:\n\(text)")
        #expect(text.hasPrefix("[\n    {\n        \"Name\": \"bridge\",\n"))

        // Cross-check against iproute2.
        let c1 = try ipAddr(s["c1"]), c2 = try ipAddr(s["c2"]), c3 = try ipAddr(s["c3"])
        #expect(containers["container1"]?["MacAddress"] as? String == c1.mac)
        #expect(containers["container1"].flatMap { $0["IPv4Address"] as? String }.map { [$0] } == c1.addresses)
        #expect(containers["container2"]?["MacAddress"] as? String == c2.mac)
        #expect(containers["container2"].flatMap { $0["IPv4Address"] as? String }.map { [$0] } == c2.addresses)
        #expect(c3.addresses == ["172.18.0.2/16"])
        let docker0 = try ipAddr(s["docker0"])
        #expect(docker0.addresses == ["172.17.0.1/16"])
        let dockerLink = try #require((try parse(s["docker0"]) as? [[String: Any]])?.first)
        #expect(options?["com.docker.network.driver.mtu"] == (dockerLink["mtu"] as? Int).map(String.init))
        let isolated = try isolatedFlags(s["ports"])
        #expect(isolated == [false, false], "two ports, not isolated: enable_icc true")

        // `network ls`: Docker's table and JSON lines, with the built-ins.
        let ls = s["ls"] ?? ""
        let rows = ls.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(rows.first == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"])
        #expect(rows.dropFirst().map { Array($0.dropFirst()) } == [
            ["aislada", "bridge", "local"], ["bridge", "bridge", "local"], ["host", "host", "local"], ["none", "null", "local"],
        ])
        #expect(rows.dropFirst().allSatisfy { $0.first?.count == 12 })
        #expect(rows.first { $0.dropFirst().first == "bridge" }?.first == String(id.prefix(12)))
        let lines = (s["lsjson"] ?? "").split(separator: "\n")
        #expect(lines.count == 4)
        let first = try parse(String(lines.first ?? "")) as? [String: String]
        #expect(first?["Name"] == "aislada" && first?["Driver"] == "bridge" && first?["Scope"] == "local")
        #expect((s["quiet"] ?? "").split(separator: "\n").count == 4)
        #expect(s["byid"]?.contains("\"Name\": \"aislada\"") == true, "lookup by full id")

        // Built-ins: `none` holds loner (its namespace has only lo), `host` nothing.
        let builtIns = try #require(try parse(s["none"]) as? [[String: Any]])
        #expect(builtIns.map { $0["Name"] as? String } == ["none", "host"])
        #expect(builtIns.map { $0["Driver"] as? String } == ["null", "host"])
        #expect(Set(containersByName(builtIns[0]).keys) == ["loner"])
        #expect(containersByName(builtIns[1]).isEmpty)

        // An unknown name: the known ones are printed, the error is clear, exit 1.
        let unknown = s["unknown"] ?? ""
        #expect(unknown.contains("Error: No such network: nope"))
        #expect(unknown.contains("exit=1"))
        #expect(unknown.contains("\"Name\": \"bridge\""))
    }

    @Test("two projects with a `bridge` network: PROJECT/NAME, --spec, --project; icc off and IPv6 from the kernel")
    func twoProjects() throws {
        let r = try sandboxed("""
        cat > /tmp/lab.yaml <<'SPEC'
        version: 1
        project: lab
        networks:
          bridge:
            bridge: nf-labbr
            subnets: [{subnet: 10.77.0.0/24}, {subnet: "fd00:77::/64"}]
            icc: false
            internal: true
            labels: {team: blue}
        containers:
          a: {}
          b: {}
        SPEC
        netform apply --yes Examples/seed.yaml >/dev/null
        netform apply --yes /tmp/lab.yaml >/dev/null
        echo "== ls"; netform network ls
        echo "== ambiguous"; set +e; netform network inspect bridge 2>&1; echo "exit=$?"; set -e
        echo "== spec"; netform network inspect --spec /tmp/lab.yaml bridge
        echo "== qualified"; netform network inspect lab/bridge
        echo "== project"; netform network ls --project seed
        echo "== ports"; ip -j -d link show master nf-labbr
        echo "== a"; ip -n lab.a -j addr show eth0
        echo "== end"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let s = sections(r.stdout)
        let names = (s["ls"] ?? "").split(separator: "\n").dropFirst().compactMap { $0.split(separator: " ").dropFirst().first.map(String.init) }
        #expect(names == ["aislada", "host", "lab/bridge", "none", "seed/bridge"])
        #expect(s["ambiguous"]?.contains("ambiguous") == true && s["ambiguous"]?.contains("exit=1") == true, "\(s["ambiguous"] ?? "")")

        let lab = try #require((try parse(s["spec"]) as? [[String: Any]])?.first, "\(r.stdout)")
        #expect(lab["Name"] as? String == "lab/bridge")
        #expect(lab["Internal"] as? Bool == true, "from the spec")
        #expect(lab["Labels"] as? [String: String] == ["team": "blue"])
        #expect(lab["EnableIPv6"] as? Bool == true)
        let options = lab["Options"] as? [String: String]
        #expect(options?["com.docker.network.bridge.enable_icc"] == "false")
        #expect(options?["com.docker.network.bridge.default_bridge"] == "true")
        #expect(options?["com.docker.network.bridge.name"] == "nf-labbr")
        let config = (lab["IPAM"] as? [String: Any])?["Config"] as? [[String: String]]
        #expect(config == [["Subnet": "10.77.0.0/24", "Gateway": "10.77.0.1"], ["Subnet": "fd00:77::/64", "Gateway": "fd00:77::1"]])
        #expect(try isolatedFlags(s["ports"]) == [true, true])
        let a = try ipAddr(s["a"])
        let entry = containersByName(lab)["a"]
        #expect(entry?["MacAddress"] as? String == a.mac)
        #expect([entry?["IPv4Address"] as? String, entry?["IPv6Address"] as? String].compactMap { $0 } == a.addresses)

        // Without the spec: the kernel's values (Internal from the live nft table), the
        // documented defaults for the rest.
        let plain = try #require((try parse(s["qualified"]) as? [[String: Any]])?.first)
        #expect(plain["Internal"] as? Bool == true)
        #expect((plain["Labels"] as? [String: String])?.isEmpty == true)
        #expect((plain["Options"] as? [String: String])?["com.docker.network.bridge.enable_icc"] == "false")

        let seedOnly = (s["project"] ?? "").split(separator: "\n").dropFirst().compactMap { $0.split(separator: " ").dropFirst().first.map(String.init) }
        #expect(seedOnly == ["aislada", "bridge", "host", "none"])
    }

    @Test("Internal, masquerade and host_binding_ipv4 come from the live nftables table, without --spec")
    func firewallSettingsFromTheKernel() throws {
        let r = try sandboxed("""
        netform apply --yes Examples/multi-network.yaml >/dev/null 2>&1
        netform network inspect frontend backend db | python3 -c '
        import json,sys
        for n in json.load(sys.stdin): print(n["Name"], n["Internal"], n["Options"]["com.docker.network.bridge.enable_ip_masquerade"], n["Options"]["com.docker.network.bridge.host_binding_ipv4"])'
        """)
        #expect(r.status == 0, "\(r.stderr)")
        // frontend's ports listen on 127.0.0.1 (its host_binding_ipv4), db is internal
        // (and so not masqueraded): read back from the table, not from the spec.
        #expect(r.stdout == "frontend False true 127.0.0.1\nbackend False true 0.0.0.0\ndb True false 0.0.0.0\n")
    }
}
