import Addressing
import Foundation
import Model
import Netlink
import Observe
import Testing
import TestSupport

// Kernel tests: scenes built with iproute2 only, inside Scripts/sandbox; Observe's
// view is checked against what `ip -j` / `bridge -j` report for the same objects.

/// A scene for one test: a container namespace wired to a host bridge, a VXLAN port
/// with static FDB entries, macvlans (one moved into the namespace), static
/// neighbours, netform and foreign routes, and a foreign bridge (the VXLAN underlay).
struct Scene {
    let n = Names()
    var project: String { n.project }
    var netns: String { n.netns("c1") }
    var bridge: String { n.link("b") }
    var hostVeth: String { n.link("h") }
    var vxlan: String { n.link("x") }
    var macvlan: String { n.link("m") }
    var movedMacvlan: String { n.link("n") }
    var foreignBridge: String { n.link("f") }
    var hostLinks: [String] { [bridge, hostVeth, vxlan, macvlan, foreignBridge] }
    var vni: Int { 5000 + (Int(n.id) ?? 0) }

    func build() throws {
        let (a, b) = n.octets
        let p = project
        try run("ip", "netns", "add", netns)
        try run("ip", "link", "add", bridge, "mtu", "1400", "type", "bridge")
        try run("ip", "link", "set", bridge, "alias", "netform:\(p)/net/a", "up")
        try run("ip", "addr", "add", "10.\(a).\(b).1/24", "dev", bridge)
        try run("ip", "addr", "add", "fd00:\(a):\(b)::1/64", "dev", bridge, "nodad")
        try run("ip", "link", "add", hostVeth, "mtu", "1400", "type", "veth", "peer", "name", "eth0", "netns", netns)
        try run("ip", "link", "set", hostVeth, "master", bridge, "alias", "netform:\(p)/ep/c1/a", "up")
        try run("bridge", "link", "set", "dev", hostVeth, "isolated", "on")
        try run("ip", "link", "add", foreignBridge, "type", "bridge")
        try run("ip", "link", "add", vxlan, "type", "vxlan", "id", "\(vni)", "local", "10.\(a).\(b).1", "dstport", "4789",
                "dev", foreignBridge, "nolearning")
        try run("ip", "link", "set", vxlan, "master", bridge, "alias", "netform:\(p)/net/a", "up")
        try run("bridge", "fdb", "append", "00:00:00:00:00:00", "dev", vxlan, "dst", "10.\(a).\(b).50")
        try run("bridge", "fdb", "append", "00:00:00:00:00:00", "dev", vxlan, "dst", "10.\(a).\(b).51")
        try run("bridge", "fdb", "append", "02:42:0a:00:00:33", "dev", vxlan, "dst", "10.\(a).\(b).51")
        try run("ip", "link", "add", macvlan, "link", bridge, "type", "macvlan", "mode", "private")
        try run("ip", "link", "add", movedMacvlan, "link", bridge, "type", "macvlan", "mode", "vepa")
        try run("ip", "link", "set", movedMacvlan, "netns", netns)
        try run("ip", "-n", netns, "link", "set", "lo", "alias", "netform:\(p)/ctr/c1", "up")
        try run("ip", "-n", netns, "link", "set", "eth0", "alias", "netform:\(p)/ep/c1/a", "up")
        try run("ip", "-n", netns, "addr", "add", "10.\(a).\(b).2/24", "dev", "eth0")
        try run("ip", "-n", netns, "addr", "add", "fd00:\(a):\(b)::2/64", "dev", "eth0", "nodad")
        try run("ip", "-n", netns, "route", "add", "default", "via", "10.\(a).\(b).1", "dev", "eth0", "proto", "78")
        try run("ip", "-n", netns, "route", "add", "10.250.\(a).0/24", "via", "10.\(a).\(b).1", "dev", "eth0", "proto", "static")
        try run("ip", "-n", netns, "-6", "route", "add", "default", "via", "fd00:\(a):\(b)::1", "dev", "eth0", "proto", "78")
        try run("ip", "-n", netns, "neigh", "add", "10.\(a).\(b).7", "lladdr", "02:42:0a:00:00:07", "dev", "eth0", "nud", "permanent")
        try run("ip", "-n", netns, "neigh", "add", "fd00:\(a):\(b)::7", "lladdr", "02:42:0a:00:00:07", "dev", "eth0", "nud", "permanent")
        try run("ip", "-n", netns, "neigh", "add", "10.\(a).\(b).8", "lladdr", "02:42:0a:00:00:08", "dev", "eth0", "nud", "reachable")
    }

    func cleanup() {
        deleteObjects(netns: [netns], links: hostLinks)
    }
}

/// What a test namespace and the host are configured with (names, aliases, MTUs,
/// masters, administrative state, addresses, routes), without the counters and
/// timers that change by themselves: to show that observing changes nothing.
func configuration(_ netns: String, hostLinks: Set<String>) throws -> [String] {
    var out: [String] = []
    for ns in [nil, netns] {
        // Other tests change the host namespace concurrently: only this test's links.
        for l in try ipJSON(ns, "addr", "show") where ns != nil || hostLinks.contains(l["ifname"] as? String ?? "") {
            let up = (l["flags"] as? [String] ?? []).contains("UP")
            let addrs = (l["addr_info"] as? [[String: Any]] ?? []).map { "\($0["local"] ?? "")/\($0["prefixlen"] ?? "")" }
            out.append("\(ns ?? "host") \(l["ifname"] ?? "") \(l["ifalias"] ?? "-") \(l["mtu"] ?? "") \(l["master"] ?? "-") \(up) \(addrs.sorted())")
        }
        out.append(contentsOf: try ipRoutes(ns, devices: ns == nil ? hostLinks : nil).sorted())
    }
    return out
}

/// Checks one observed link against `ip -j -d link show dev NAME`.
func expectSame(_ link: LinkState?, netns: String?, name: String, hostIndex: [Int: String] = [:],
                sourceLocation: SourceLocation = #_sourceLocation) throws {
    let ours = try #require(link, "\(name) missing from Observe", sourceLocation: sourceLocation)
    let ip = try #require(try ipJSON(netns, "link", "show", "dev", name).first, sourceLocation: sourceLocation)
    let info = ip["linkinfo"] as? [String: Any] ?? [:]
    let data = info["info_data"] as? [String: Any] ?? [:]
    #expect(Int(ours.index ?? -1) == ip["ifindex"] as? Int, "\(name) index", sourceLocation: sourceLocation)
    #expect(ours.mtu == ip["mtu"] as? Int, "\(name) mtu", sourceLocation: sourceLocation)
    #expect(ours.isUp == (ip["flags"] as? [String] ?? []).contains("UP"), "\(name) up", sourceLocation: sourceLocation)
    #expect(ours.mac?.description == ip["address"] as? String, "\(name) mac", sourceLocation: sourceLocation)
    #expect(ours.master == ip["master"] as? String, "\(name) master", sourceLocation: sourceLocation)
    #expect(ours.alias == ip["ifalias"] as? String, "\(name) alias", sourceLocation: sourceLocation)
    #expect(ours.owner == OwnerMark(alias: ip["ifalias"] as? String), "\(name) owner", sourceLocation: sourceLocation)
    if (ip["flags"] as? [String] ?? []).contains("LOOPBACK") {
        #expect(ours.kind == .loopback, sourceLocation: sourceLocation)
    } else {
        #expect(ours.kind.name == info["info_kind"] as? String ?? "device", "\(name) kind", sourceLocation: sourceLocation)
    }
    if info["info_slave_kind"] as? String == "bridge" {
        let slave = info["info_slave_data"] as? [String: Any] ?? [:]
        #expect(ours.isolated == slave["isolated"] as? Bool, "\(name) isolated", sourceLocation: sourceLocation)
    } else {
        #expect(!ours.isolated, sourceLocation: sourceLocation)
    }
    // The other end or parent: by name in the same namespace, by index elsewhere.
    let parentName = ip["link"] as? String ?? (ip["link_index"] as? Int).flatMap { hostIndex[$0] }
    switch ours.kind {
    case .vxlan(let s):
        #expect(Int(s.vni) == data["id"] as? Int, sourceLocation: sourceLocation)
        #expect(s.local?.description == data["local"] as? String, sourceLocation: sourceLocation)
        #expect(Int(s.port) == data["port"] as? Int, sourceLocation: sourceLocation)
        #expect(s.device == data["link"] as? String, sourceLocation: sourceLocation)
    case .macvlan(let parent, let mode):
        #expect(mode == data["mode"] as? String, "\(name) mode", sourceLocation: sourceLocation)
        #expect(parent == parentName, "\(name) parent", sourceLocation: sourceLocation)
    case .veth(let peer):
        if let parentName { #expect(peer?.name == parentName, "\(name) peer", sourceLocation: sourceLocation) }
    default:
        break
    }
}

/// `local/prefix` of every address `ip -j addr` shows on a link, minus the ones
/// Observe leaves out by rule (IPv6 link scope; host scope on loopback).
func ipAddresses(_ netns: String?, _ name: String) throws -> Set<String> {
    let j = try ipJSON(netns, "addr", "show", "dev", name).first
    let loopback = (j?["flags"] as? [String] ?? []).contains("LOOPBACK")
    var out = Set<String>()
    for a in j?["addr_info"] as? [[String: Any]] ?? [] {
        let scope = a["scope"] as? String
        if a["family"] as? String == "inet6", scope == "link" || scope == "253" { continue }
        if loopback, scope == "host" || scope == "254" { continue }
        out.insert("\(a["local"] as? String ?? "?")/\(a["prefixlen"] as? Int ?? -1)")
    }
    return out
}

/// Routes of the main table as `ip -j route` shows them (both families), minus IPv6
/// link-local and multicast destinations, as "DST via GW dev DEV proto N".
func ipRoutes(_ netns: String?, devices: Set<String>? = nil) throws -> Set<String> {
    var out = Set<String>()
    for (family, v6) in [("-4", false), ("-6", true)] {
        for r in try ipJSON(netns, family, "route", "show", "table", "main") {
            guard let dst = r["dst"] as? String else { continue }
            if v6, dst.hasPrefix("fe80:") || dst.hasPrefix("ff") { continue }
            if let devices, !devices.contains(r["dev"] as? String ?? "") { continue }
            var s = normalizedDestination(dst, v6: v6)
            if s == "default" || s == "0.0.0.0/0" || s == "::/0" { s = "default" }
            if let g = r["gateway"] as? String { s += " via \(g)" }
            if let d = r["dev"] as? String { s += " dev \(d)" }
            let proto = (r["protocol"] as? String).flatMap { Int($0) } ?? r["protocol"] as? Int ?? 3
            out.insert(s + " proto \(proto)")
        }
    }
    return out
}

@Suite("Observe: kernel (sandbox)", .enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"),
       .serialized)
struct KernelObserveTests {
    @Test("links, addresses, routes, neighbours and FDB match ip -j / bridge -j")
    func matchesIproute2() throws {
        let scene = Scene()
        defer { scene.cleanup() }
        try scene.build()
        let before = try configuration(scene.netns, hostLinks: Set(scene.hostLinks))

        let state = try Observer.observe()
        let host = try #require(state[.host])
        let ns = try #require(state[.named(scene.netns)])

        // Observe is read-only.
        #expect(try configuration(scene.netns, hostLinks: Set(scene.hostLinks)) == before)

        // Links, both namespaces, field by field.
        var hostIndex: [Int: String] = [:]
        for l in host.links { if let i = l.index { hostIndex[Int(i)] = l.name } }
        for name in scene.hostLinks + ["lo"] {
            try expectSame(host.link(named: name), netns: nil, name: name)
        }
        for name in ["lo", "eth0", scene.movedMacvlan] {
            try expectSame(ns.link(named: name), netns: scene.netns, name: name, hostIndex: hostIndex)
        }
        #expect(Set(ns.links.map(\.name)) == Set(try ipJSON(scene.netns, "link", "show").compactMap { $0["ifname"] as? String }))

        // What iproute2 shows only as indexes, Observe names.
        #expect(host.link(named: scene.hostVeth)?.kind == .veth(peer: VethPeerRef(namespace: .named(scene.netns), name: "eth0")))
        #expect(ns.link(named: "eth0")?.kind == .veth(peer: VethPeerRef(namespace: .host, name: scene.hostVeth)))
        #expect(ns.link(named: scene.movedMacvlan)?.kind == .macvlan(parent: scene.bridge, mode: "vepa"))
        #expect(host.link(named: scene.vxlan)?.kind == .vxlan(VXLANSettings(
            vni: UInt32(scene.vni), local: IPAddress("10.\(scene.n.octets.0).\(scene.n.octets.1).1"), port: 4789,
            device: scene.foreignBridge)))

        // Ownership.
        #expect(ns.owner == OwnerMark(project: scene.project, path: "ctr/c1"))
        #expect(host.link(named: scene.bridge)?.owner == .network(scene.project, "a"))
        #expect(host.link(named: scene.foreignBridge)?.owner == nil)

        // Addresses.
        for name in [scene.bridge, scene.hostVeth] {
            #expect(Set(host.addresses.filter { $0.link == name }.map { "\($0.address)/\($0.prefixLength)" }) == (try ipAddresses(nil, name)))
        }
        for name in ["lo", "eth0"] {
            #expect(Set(ns.addresses.filter { $0.link == name }.map { "\($0.address)/\($0.prefixLength)" }) == (try ipAddresses(scene.netns, name)))
        }
        #expect(ns.addresses.count == 2)

        // Routes: everything in the container's main table; ours on the host's links.
        let routeText: (RouteState) -> String = { r in
            var s = r.destination?.description ?? "default"
            if let g = r.gateway { s += " via \(g)" }
            if let d = r.device { s += " dev \(d)" }
            return s + " proto \(r.proto)"
        }
        #expect(Set(ns.routes.map(routeText)) == (try ipRoutes(scene.netns)))
        #expect(ns.routes.contains { $0.destination == nil && $0.family == .v4 && $0.isOwned })
        #expect(ns.routes.contains { $0.destination == nil && $0.family == .v6 && $0.isOwned })
        #expect(ns.routes.contains { $0.destination?.description == "10.250.\(scene.n.octets.0).0/24" && $0.proto == 4 })
        #expect(ns.routes.allSatisfy { $0.table == 254 })
        let mine = Set(scene.hostLinks)
        #expect(Set(host.routes.filter { mine.contains($0.device ?? "") }.map(routeText)) == (try ipRoutes(nil, devices: mine)))

        // Static neighbours only.
        var ipNeighbours = Set<String>()
        for e in try ipJSON(scene.netns, "neigh", "show", "nud", "permanent") {
            ipNeighbours.insert("\(e["dst"] as? String ?? "?") \(e["lladdr"] as? String ?? "?") \(e["dev"] as? String ?? "?")")
        }
        #expect(Set(ns.neighbours.map { "\($0.address) \($0.mac) \($0.link)" }) == ipNeighbours)
        #expect(ns.neighbours.count == 2)

        // FDB: the VXLAN device's static entries with a remote destination.
        var ipFDB = Set<String>()
        for e in try json("bridge", "-j", "fdb", "show", "dev", scene.vxlan) where e["dst"] != nil {
            ipFDB.insert("\(e["mac"] as? String ?? "?") \(e["dst"] as? String ?? "?")")
        }
        #expect(ipFDB.count == 3)
        #expect(Set(host.fdb.filter { $0.link == scene.vxlan }.map { "\($0.mac) \($0.destination?.description ?? "-")" }) == ipFDB)
        #expect(host.fdb.allSatisfy { host.link(named: $0.link)?.kind.name == "vxlan" })
    }

    @Test("kernel-managed addresses and routes are left out; foreign objects have no owner")
    func kernelManagedAndForeign() throws {
        let n = Names()
        let (a, b) = n.octets
        let netns = n.netns("k"), foreignNS = n.netns("f")
        let veth = n.link("v"), marked = n.link("a")
        defer { deleteObjects(netns: [netns, foreignNS], links: [veth, marked]) }
        try run("ip", "netns", "add", netns)
        try run("ip", "netns", "add", foreignNS)
        try run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
        try run("ip", "link", "set", veth, "alias", "uplink to rack 3", "up")
        try run("ip", "link", "add", marked, "type", "bridge")
        try run("ip", "link", "set", marked, "alias", "netform:\(n.project)/net/k")
        try run("ip", "-n", netns, "link", "set", "lo", "up")
        try run("ip", "-n", netns, "link", "set", "eth0", "up")
        try run("ip", "-n", netns, "addr", "add", "10.\(a).\(b).2/24", "dev", "eth0")
        try run("ip", "-n", netns, "addr", "add", "fd00:\(a):\(b)::2/64", "dev", "eth0", "nodad")

        // The kernel did add link-local addresses, loopback addresses and routes.
        let eth0 = try ipJSON(netns, "addr", "show", "dev", "eth0").first?["addr_info"] as? [[String: Any]] ?? []
        #expect(eth0.contains { ($0["local"] as? String)?.hasPrefix("fe80:") == true })
        let lo = try ipJSON(netns, "addr", "show", "dev", "lo").first?["addr_info"] as? [[String: Any]] ?? []
        #expect(lo.contains { $0["local"] as? String == "127.0.0.1" })
        let v6Routes = try ipJSON(netns, "-6", "route", "show", "table", "main").compactMap { $0["dst"] as? String }
        #expect(v6Routes.contains { $0.hasPrefix("fe80:") })

        let state = try Observer.observe()
        let ns = try #require(state[.named(netns)])
        #expect(ns.addresses.map(\.description).sorted() == ["10.\(a).\(b).2/24 dev eth0", "fd00:\(a):\(b)::2/64 dev eth0"])
        #expect(!ns.routes.contains { $0.destination.map { ObservedText.isLinkLocal($0) } ?? false })
        #expect(ns.routes.contains { $0.destination?.description == "10.\(a).\(b).0/24" && $0.proto == 2 },
                "the subnet route of the main table is kept, with the kernel's protocol")
        #expect(ns.routes.contains { $0.destination?.description == "fd00:\(a):\(b)::/64" })
        #expect(ns.owner == nil, "a namespace without a mark on lo is foreign")
        #expect(ns.links.allSatisfy { $0.owner == nil })
        let foreign = try #require(state[.named(foreignNS)])
        #expect(foreign.owner == nil)
        #expect(foreign.links.map(\.name) == ["lo"])
        #expect(foreign.links.first?.isUp == false)
        let host = try #require(state[.host])
        #expect(host.link(named: veth)?.alias == "uplink to rack 3")
        #expect(host.link(named: veth)?.owner == nil, "an alias that is not a netform mark is no owner")
        #expect(host.link(named: marked)?.owner == .network(n.project, "k"))
        #expect(host.link(named: marked)?.isUp == false)
    }

    @Test("a namespace that vanishes is skipped; asking for a missing one is an error")
    func vanishedNamespaces() throws {
        let n = Names()
        let ghost = n.netns("ghost"), missing = n.netns("missing")
        let ghostPath = "\(NetworkNamespace.namedDirectory)/\(ghost)"
        // An entry whose bind mount is gone (what `ip netns del` leaves for an instant).
        #expect(FileManager.default.createFile(atPath: ghostPath, contents: Data()))
        defer { try? FileManager.default.removeItem(atPath: ghostPath) }

        let state = try Observer.observe(extra: [.named(missing), .path("/run/netns/\(missing)")])
        #expect(state[.named(ghost)] == nil)
        #expect(state[.named(missing)] == nil)
        #expect(state[.path("/run/netns/\(missing)")] == nil)
        #expect(state[.host] != nil)

        do {
            _ = try Observer.observe(namespace: .named(missing))
            Issue.record("observing a missing namespace alone must fail")
        } catch {
            #expect(error.namespace == .named(missing))
            #expect(error.underlying.errno == ENOENT)
            #expect(error.description.contains(missing))
        }
        do {
            _ = try Observer.observe(namespace: .named(ghost))
            Issue.record("a file that is not a namespace must fail when asked for")
        } catch {
            #expect(error.underlying.errno == EINVAL)
        }
    }

    @Test("namespaces deleted while observing are skipped, never an error")
    func deletedWhileObserving() throws {
        let n = Names()
        let names = (0..<24).map { n.netns("d\($0)") }
        defer { deleteObjects(netns: names) }
        for name in names { _ = try NetworkNamespace.create(name: name) }
        let done = Flag()
        let deleter = Thread {
            for name in names {
                try? NetworkNamespace.delete(name: name)
                usleep(2000)
            }
            done.set()
        }
        deleter.start()
        var rounds = 0
        while !done.isSet || rounds < 3 {
            _ = try Observer.observe(extra: [], parallelism: rounds % 2 + 1)
            rounds += 1
        }
        #expect(rounds >= 3)
        let final = try Observer.observe()
        #expect(!names.contains { final[.named($0)] != nil })
    }

    @Test("one namespace, by name or path, and any worker count give the same view")
    func consistentViews() throws {
        let scene = Scene()
        defer { scene.cleanup() }
        try scene.build()
        let full1 = try Observer.observe(extra: [.path("/run/netns/\(scene.netns)")], parallelism: 1)
        let full3 = try Observer.observe(extra: [], parallelism: 3)
        let single = try Observer.observe(namespace: .named(scene.netns))
        let byPath = try #require(full1[.path("/run/netns/\(scene.netns)")])
        let named = try #require(full1[.named(scene.netns)])
        #expect(single == named)
        #expect(full3[.named(scene.netns)] == named)
        #expect(byPath.links == named.links)
        #expect(byPath.addresses == named.addresses)
        #expect(byPath.routes == named.routes)
        #expect(byPath.owner == named.owner)
        let host = try Observer.observe(namespace: .host)
        #expect(host.link(named: scene.bridge) == full1[.host]?.link(named: scene.bridge))
    }

    @Test("the host's /etc/netns files and nftables tables are read while the namespaces are walked")
    func hostFilesAndTablesComeWithTheWalk() throws {
        let scene = Scene()
        defer {
            scene.cleanup()
            try? FileManager.default.removeItem(atPath: "/etc/netns/\(scene.netns)")
            _ = try? run("nft", "delete", "table", "inet", "\(scene.project)_t")
        }
        try scene.build()
        try FileManager.default.createDirectory(atPath: "/etc/netns/\(scene.netns)", withIntermediateDirectories: true)
        let text = NamespaceFile.markLine(project: scene.project) + "\n10.9.9.9\tpeer\n"
        try text.write(toFile: "/etc/netns/\(scene.netns)/hosts", atomically: false, encoding: .utf8)
        try run("nft", "add", "table", "inet", "\(scene.project)_t")
        // Several workers, so the host's part runs beside them.
        let state = try Observer.observe(extra: [], parallelism: 2)
        let host = try #require(state[.host])
        let file = try #require(host.netnsFiles.first { $0.namespace == scene.netns && $0.name == "hosts" })
        #expect(file.content == text && file.project == scene.project)
        #expect(host.firewall.contains { $0.family == "inet" && $0.name == "\(scene.project)_t" })
        #expect(state[.named(scene.netns)]?.owner?.project == scene.project)
    }

    @Test("a reading that leaves the neighbours out has none anywhere, and everything else")
    func readingWithoutNeighbours() throws {
        let scene = Scene()
        defer { scene.cleanup() }
        try scene.build()
        let ref = NamespaceRef.named(scene.netns)
        let full = try Observer.observe()
        let without = try Observer.observe(neighbours: .leftOut)
        // The scene's two permanent entries (the planner's view; ip -j is compared above).
        #expect(full[ref]?.neighbours.count == 2, "\(String(describing: full[ref]?.neighbours))")
        #expect(full.neighbourReading == .read)
        #expect(without.neighbourReading == .leftOut)
        #expect(without.namespaces.values.allSatisfy { $0.neighbours.isEmpty })
        var expected = try #require(full[ref])
        expected.neighbours = []
        #expect(without[ref] == expected, "links, addresses, routes and the rest are read")
    }
}

/// Test-only copy of the link-local rule, so the test states the rule independently.
enum ObservedText {
    static func isLinkLocal(_ n: IPNetwork) -> Bool {
        n.family == .v6 && IPNetwork("fe80::/10")!.contains(n.network)
    }
}
