import Addressing
import Foundation
import Testing
@testable import Netlink

/// The netlink layer's dumps compared with what iproute2 reports for a scene built
/// with iproute2.
@Suite("Kernel: reading", .enabled(if: KernelSandbox.isActive, "kernel test: run under Scripts/sandbox as root"),
       .ownNetworkNamespace)
struct KernelReadTests {
    @Test("links match ip -j link")
    func links() throws {
        let br = uniqueName("rbr"), va = uniqueName("rva"), vb = uniqueName("rvb")
        defer { cleanupLinks(br, va) }
        try sh("ip", "link", "add", br, "mtu", "1400", "type", "bridge")
        try sh("ip", "link", "add", va, "type", "veth", "peer", "name", vb)
        try sh("ip", "link", "set", va, "master", br)
        try sh("ip", "link", "set", br, "up")
        try sh("ip", "link", "set", va, "alias", "netform:lab/net/x y", "group", "77")

        let h = try testHandle()
        let links = try h.links()
        let byName = Dictionary(links.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for name in [br, va, vb, "lo"] {
            let ours = try #require(byName[name], "link \(name) missing from dump")
            let ip = try #require(try ipLink(name))
            #expect(Int(ours.index) == ip["ifindex"] as? Int)
            #expect(Int(ours.mtu ?? 0) == ip["mtu"] as? Int)
            #expect(ours.isUp == flagsOf(ip).contains("UP"), "\(name) up")
            #expect(ours.kind == linkInfo(ip)["info_kind"] as? String, "\(name) kind")
            #expect(ours.slaveKind == linkInfo(ip)["info_slave_kind"] as? String, "\(name) slave kind")
            #expect(ours.alias == ip["ifalias"] as? String, "\(name) alias")
            #expect(ours.mac?.description == ip["address"] as? String || name == "lo", "\(name) mac")
            if let masterName = ip["master"] as? String {
                #expect(ours.master == byName[masterName]?.index)
            } else {
                #expect(ours.master == nil)
            }
        }
        #expect(byName[va]?.group == 77)
        #expect(byName[va]?.bridgePort?.learning == (slaveData(try ipLink(va))["learning"] as? Bool))
        #expect(byName[va]?.bridgePort?.isolated == false)
        // The single-link GET agrees with the dump.
        #expect(try h.link(named: br)?.index == byName[br]?.index)
        #expect(try h.link(.index(byName[va]!.index))?.name == va)
        #expect(try h.link(named: uniqueName("none")) == nil)
    }

    @Test("addresses match ip -j addr")
    func addresses() throws {
        let br = uniqueName("rad")
        let (a, b) = uniqueSubnet()
        defer { cleanupLinks(br) }
        try sh("ip", "link", "add", br, "type", "bridge")
        try sh("ip", "addr", "add", "10.\(a).\(b).1/24", "dev", br)
        try sh("ip", "addr", "add", "fd00:\(a):\(b)::1/64", "dev", br, "nodad")
        let h = try testHandle()
        let index = try #require(try h.link(named: br)).index
        let ours = try h.addresses(index: index)
        let ip = try json("ip", "-j", "addr", "show", "dev", br).first?["addr_info"] as? [[String: Any]] ?? []
        #expect(ours.count == ip.count)
        for entry in ip {
            let local = try #require(entry["local"] as? String)
            let match = try #require(ours.first { $0.address.description == local }, "\(local) missing")
            #expect(match.prefixLength == entry["prefixlen"] as? Int)
            #expect(match.family == (entry["family"] as? String == "inet" ? .v4 : .v6))
            #expect((match.flags & IFA.noDAD != 0) == (entry["nodad"] as? Bool ?? false))
        }
        #expect(try h.addresses(family: .v4).contains { $0.index == index && $0.address == IPAddress("10.\(a).\(b).1") })
    }

    @Test("routes match ip -j route")
    func routes() throws {
        let br = uniqueName("rrt")
        let (a, b) = uniqueSubnet()
        let table = 1000 + uniqueNumber()
        defer { cleanupLinks(br) }
        try sh("ip", "link", "add", br, "type", "bridge")
        try sh("ip", "link", "set", br, "up")
        try sh("ip", "addr", "add", "10.\(a).\(b).1/24", "dev", br)
        try sh("ip", "route", "add", "10.\(a).\(b + 1).0/24", "via", "10.\(a).\(b).2", "proto", "77", "table", "\(table)")
        try sh("ip", "route", "add", "10.\(a).\(b + 2).0/24", "dev", br, "table", "\(table)")
        try sh("ip", "route", "add", "default", "via", "10.\(a).\(b).254", "table", "\(table)", "metric", "5")
        let h = try testHandle()
        let index = try #require(try h.link(named: br)).index
        let ours = try h.routes(family: .v4, table: UInt32(table))
        let ip = try json("ip", "-j", "route", "show", "table", "\(table)")
        #expect(ours.count == ip.count)
        for entry in ip {
            let dst = entry["dst"] as? String == "default" ? "0.0.0.0/0" : try #require(entry["dst"] as? String)
            let r = try #require(ours.first { $0.destination.description == dst }, "\(dst) missing")
            #expect(r.gateway?.description == entry["gateway"] as? String)
            #expect(r.outputIndex == index)
            #expect(r.priority.map(Int.init) == entry["metric"] as? Int)
            let proto = entry["protocol"] as? String ?? "boot"
            #expect(proto == (r.protocol == 3 ? "boot" : "\(r.protocol)"))
            #expect((r.scope == RouteConstants.scopeLink) == (entry["scope"] as? String == "link"))
        }
        // The kernel's own routes for the connected subnet are in the main and local tables.
        #expect(try h.routes(family: .v4, table: RouteConstants.tableMain).contains {
            $0.destination == IPNetwork("10.\(a).\(b).0/24") && $0.protocol == RouteConstants.protocolKernel
        })
    }

    @Test("neighbours match ip -j neigh, FDB matches bridge -j fdb")
    func neighboursAndFDB() throws {
        let br = uniqueName("rnb"), vx = uniqueName("rvx")
        let (a, b) = uniqueSubnet()
        defer { cleanupLinks(br, vx) }
        try sh("ip", "link", "add", br, "type", "bridge")
        try sh("ip", "addr", "add", "10.\(a).\(b).1/24", "dev", br)
        try sh("ip", "neigh", "add", "10.\(a).\(b).5", "lladdr", "02:42:0a:00:00:05", "dev", br, "nud", "permanent")
        try sh("ip", "neigh", "add", "fd00:\(a):\(b)::5", "lladdr", "02:42:0a:00:00:06", "dev", br, "nud", "permanent")
        try sh("ip", "link", "add", vx, "type", "vxlan", "id", "\(5000 + uniqueNumber())", "dstport", "4789",
               "local", "127.0.0.1", "nolearning")
        try sh("bridge", "fdb", "add", "02:42:0a:00:00:07", "dev", vx, "dst", "127.0.0.7", "self", "permanent")
        try sh("bridge", "fdb", "append", "00:00:00:00:00:00", "dev", vx, "dst", "127.0.0.8", "self", "permanent")

        let h = try testHandle()
        let brIndex = try #require(try h.link(named: br)).index
        let vxIndex = try #require(try h.link(named: vx)).index
        // ip neigh hides NOARP entries (multicast ones the kernel adds by itself).
        let ours = try h.neighbours().filter { $0.index == brIndex && !$0.state.contains(.noARP) }
        let ip = try json("ip", "-j", "neigh", "show", "dev", br)
        #expect(ours.count == ip.count)
        for entry in ip {
            let dst = try #require(entry["dst"] as? String)
            let n = try #require(ours.first { $0.destination?.description == dst }, "\(dst) missing")
            #expect(n.mac?.description == entry["lladdr"] as? String)
            #expect(n.state.contains(.permanent) == (entry["state"] as? [String] ?? []).contains("PERMANENT"))
        }

        let fdb = try h.fdb().filter { $0.index == vxIndex }
        let bj = try json("bridge", "-j", "fdb", "show", "dev", vx)
        #expect(fdb.count == bj.count)
        for entry in bj {
            let mac = try #require(entry["mac"] as? String)
            let dst = entry["dst"] as? String
            let n = try #require(fdb.first { $0.mac?.description == mac && $0.destination?.description == dst }, "\(mac) \(dst ?? "-")")
            #expect(n.flags.contains(.self) == (entry["flags"] as? [String] ?? []).contains("self"))
            #expect(n.state.contains(.permanent) == (entry["state"] as? String == "permanent"))
        }
    }
}
