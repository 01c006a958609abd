import Addressing
import Foundation
import Testing
@testable import Netlink

/// Address, route, neighbour and FDB mutations, checked back with `ip -j` and
/// `bridge -j`.
@Suite("Kernel: addresses, routes, neighbours", .enabled(if: KernelSandbox.isActive, "kernel test: run under Scripts/sandbox as root"),
       .ownNetworkNamespace)
struct KernelStateTests {
    @Test("add and delete IPv4 and IPv6 addresses (nodad)")
    func addresses() throws {
        let br = uniqueName("sad")
        let (a, b) = uniqueSubnet()
        defer { cleanupLinks(br) }
        let h = try testHandle()
        let link = try #require(try h.createLink(NewLink(name: br, kind: .bridge, up: true)))
        let v4 = NewAddress(index: link.index, address: IPAddress("10.\(a).\(b).1")!, prefixLength: 24)
        let v6 = NewAddress(index: link.index, address: IPAddress("fd00:\(a):\(b)::1")!, prefixLength: 64, noDAD: true)
        try h.addAddress(v4)
        try h.addAddress(v6)
        let info = try json("ip", "-j", "addr", "show", "dev", br).first?["addr_info"] as? [[String: Any]] ?? []
        let e4 = try #require(info.first { $0["local"] as? String == "10.\(a).\(b).1" })
        #expect(e4["prefixlen"] as? Int == 24)
        #expect(e4["broadcast"] == nil)
        let e6 = try #require(info.first { $0["local"] as? String == "fd00:\(a):\(b)::1" })
        #expect(e6["prefixlen"] as? Int == 64)
        #expect(e6["nodad"] as? Bool == true)
        #expect(e6["tentative"] == nil)

        // Adding the same address again is EEXIST; replace is fine.
        #expect(throws: NetlinkError.self) { try h.addAddress(v4) }
        try h.addAddress(v4, replace: true)

        let ours = try h.addresses(index: link.index)
        #expect(ours.contains { $0.address == v4.address && $0.prefixLength == 24 && $0.network == IPNetwork("10.\(a).\(b).0/24") })
        #expect(ours.contains { $0.address == v6.address && $0.flags & IFA.noDAD != 0 })

        try h.deleteAddress(v4)
        try h.deleteAddress(v6)
        let after = try json("ip", "-j", "addr", "show", "dev", br).first?["addr_info"] as? [[String: Any]] ?? []
        #expect(!after.contains { ($0["local"] as? String)?.hasPrefix("10.\(a).") == true })
        #expect(!after.contains { ($0["local"] as? String)?.hasPrefix("fd00:") == true })
    }

    @Test("add, replace and delete routes with our own protocol and table")
    func routes() throws {
        let br = uniqueName("srt")
        let (a, b) = uniqueSubnet()
        let table = UInt32(2000 + uniqueNumber())
        defer { cleanupLinks(br) }
        let h = try testHandle()
        let link = try #require(try h.createLink(NewLink(name: br, kind: .bridge, up: true)))
        try h.addAddress(NewAddress(index: link.index, address: IPAddress("10.\(a).\(b).1")!, prefixLength: 24))
        try h.addAddress(NewAddress(index: link.index, address: IPAddress("fd00:\(a):\(b)::1")!, prefixLength: 64, noDAD: true))

        let proto: UInt8 = 251
        let viaGateway = RouteSpec(destination: IPNetwork("10.\(a).\(b + 1).0/24")!, gateway: IPAddress("10.\(a).\(b).2"),
                                   outputIndex: link.index, table: table, protocol: proto)
        let onLink = RouteSpec(destination: IPNetwork("10.\(a).\(b + 2).0/24")!, outputIndex: link.index,
                               table: table, protocol: proto)
        let v6Default = RouteSpec(destination: IPNetwork("::/0")!, gateway: IPAddress("fd00:\(a):\(b)::fe"),
                                  outputIndex: link.index, table: table, protocol: proto, priority: 10)
        try h.addRoute(viaGateway)
        try h.addRoute(onLink)
        try h.addRoute(v6Default)

        var v4 = try json("ip", "-j", "route", "show", "table", "\(table)")
        let r1 = try #require(v4.first { $0["dst"] as? String == "10.\(a).\(b + 1).0/24" })
        #expect(r1["gateway"] as? String == "10.\(a).\(b).2")
        #expect(r1["dev"] as? String == br)
        #expect(r1["protocol"] as? String == "\(proto)")
        let r2 = try #require(v4.first { $0["dst"] as? String == "10.\(a).\(b + 2).0/24" })
        #expect(r2["scope"] as? String == "link")
        let v6 = try json("ip", "-6", "-j", "route", "show", "table", "\(table)")
        let r3 = try #require(v6.first { $0["dst"] as? String == "default" })
        #expect(r3["gateway"] as? String == "fd00:\(a):\(b)::fe")
        #expect(r3["metric"] as? Int == 10)

        // Our reader sees the same three routes, with our protocol.
        let ours = try h.routes(table: table)
        #expect(ours.count == 3)
        #expect(ours.allSatisfy { $0.protocol == proto && $0.outputIndex == link.index })

        // Adding again is EEXIST; replace changes the gateway.
        #expect(throws: NetlinkError.self) { try h.addRoute(viaGateway) }
        var moved = viaGateway
        moved.gateway = IPAddress("10.\(a).\(b).3")
        try h.addRoute(moved, replace: true)
        v4 = try json("ip", "-j", "route", "show", "table", "\(table)")
        #expect(v4.first { $0["dst"] as? String == "10.\(a).\(b + 1).0/24" }?["gateway"] as? String == "10.\(a).\(b).3")
        #expect(v4.count == 2)

        try h.deleteRoute(moved)
        try h.deleteRoute(onLink)
        try h.deleteRoute(v6Default)
        #expect(try h.routes(table: table).isEmpty)
        #expect(try json("ip", "-j", "route", "show", "table", "\(table)").isEmpty)
    }

    @Test("add and delete permanent ARP/NDP entries")
    func neighbours() throws {
        let br = uniqueName("snb")
        let (a, b) = uniqueSubnet()
        defer { cleanupLinks(br) }
        let h = try testHandle()
        let link = try #require(try h.createLink(NewLink(name: br, kind: .bridge, up: true)))
        let n4 = NeighbourSpec(index: link.index, address: IPAddress("10.\(a).\(b).9")!, mac: MACAddress("02:42:0a:00:00:09")!)
        let n6 = NeighbourSpec(index: link.index, address: IPAddress("fd00:\(a):\(b)::9")!, mac: MACAddress("02:42:0a:00:00:0a")!)
        try h.addNeighbour(n4)
        try h.addNeighbour(n6)
        let ip = try json("ip", "-j", "neigh", "show", "dev", br)
        let e4 = try #require(ip.first { $0["dst"] as? String == "10.\(a).\(b).9" })
        #expect(e4["lladdr"] as? String == "02:42:0a:00:00:09")
        #expect(e4["state"] as? [String] == ["PERMANENT"])
        let e6 = try #require(ip.first { $0["dst"] as? String == "fd00:\(a):\(b)::9" })
        #expect(e6["lladdr"] as? String == "02:42:0a:00:00:0a")

        #expect(throws: NetlinkError.self) { try h.addNeighbour(n4) }
        var changed = n4
        changed.mac = MACAddress("02:42:0a:00:00:0b")!
        try h.addNeighbour(changed, replace: true)
        #expect(try json("ip", "-j", "neigh", "show", "dev", br).first { $0["dst"] as? String == "10.\(a).\(b).9" }?["lladdr"] as? String
                == "02:42:0a:00:00:0b")
        // ip neigh hides NOARP entries (e.g. the IGMP multicast one of an up bridge).
        let ours = try h.neighbours(family: .v4).filter { $0.index == link.index && !$0.state.contains(.noARP) }
        #expect(ours.map(\.mac) == [changed.mac])

        try h.deleteNeighbour(changed)
        try h.deleteNeighbour(n6)
        #expect(try json("ip", "-j", "neigh", "show", "dev", br).isEmpty)
    }

    @Test("add and delete VXLAN FDB entries with a destination, and a bridge port entry")
    func fdb() throws {
        let vx = uniqueName("sfx"), br = uniqueName("sfb"), port = uniqueName("sfp")
        defer { cleanupLinks(vx, port, br) }
        let h = try testHandle()
        let vxlan = try #require(try h.createLink(NewLink(
            name: vx, kind: .vxlan(VXLANConfig(vni: UInt32(20_000 + uniqueNumber()), local: IPAddress("127.0.0.1"))))))
        let mac = MACAddress("02:42:0a:0a:00:02")!
        let entry = FDBSpec(index: vxlan.index, mac: mac, destination: IPAddress("127.0.0.2"))
        try h.addFDB(entry)
        // Head-end replication: the all-zero MAC with two destinations (append).
        let zero = MACAddress(bytes: [0, 0, 0, 0, 0, 0])!
        try h.addFDB(FDBSpec(index: vxlan.index, mac: zero, destination: IPAddress("127.0.0.3")), append: true)
        try h.addFDB(FDBSpec(index: vxlan.index, mac: zero, destination: IPAddress("127.0.0.4")), append: true)

        var bj = try json("bridge", "-j", "fdb", "show", "dev", vx)
        let e = try #require(bj.first { $0["mac"] as? String == mac.description })
        #expect(e["dst"] as? String == "127.0.0.2")
        #expect(e["state"] as? String == "permanent")
        #expect((e["flags"] as? [String] ?? []).contains("self"))
        #expect(Set(bj.filter { $0["mac"] as? String == "00:00:00:00:00:00" }.compactMap { $0["dst"] as? String })
                == ["127.0.0.3", "127.0.0.4"])

        let ours = try h.fdb().filter { $0.index == vxlan.index }
        #expect(ours.contains { $0.mac == mac && $0.destination == IPAddress("127.0.0.2") && $0.flags.contains(.self) })
        #expect(ours.filter { $0.mac == zero }.count == 2)

        try h.deleteFDB(entry)
        try h.deleteFDB(FDBSpec(index: vxlan.index, mac: zero, destination: IPAddress("127.0.0.3")))
        bj = try json("bridge", "-j", "fdb", "show", "dev", vx)
        #expect(!bj.contains { $0["mac"] as? String == mac.description })
        #expect(bj.filter { $0["mac"] as? String == "00:00:00:00:00:00" }.compactMap { $0["dst"] as? String } == ["127.0.0.4"])

        // A static entry in a bridge's own FDB, on one of its ports (NTF_MASTER).
        let bridge = try #require(try h.createLink(NewLink(name: br, kind: .bridge)))
        let p = try #require(try h.createLink(NewLink(name: port, kind: .veth(peer: VethPeer(name: port + "p")), master: bridge.index)))
        let static1 = FDBSpec(index: p.index, mac: MACAddress("02:42:0a:0b:00:02")!, flags: .master, state: [.permanent])
        try h.addFDB(static1)
        let pj = try json("bridge", "-j", "fdb", "show", "dev", port)
        #expect(pj.contains { $0["mac"] as? String == "02:42:0a:0b:00:02" && $0["master"] as? String == br && $0["state"] as? String == "permanent" })
        #expect(try h.fdb().contains { $0.index == p.index && $0.mac == static1.mac && $0.master == bridge.index })
        try h.deleteFDB(static1)
        #expect(!(try json("bridge", "-j", "fdb", "show", "dev", port)).contains { $0["mac"] as? String == "02:42:0a:0b:00:02" })
    }
}
