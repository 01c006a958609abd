import Addressing
import CNetlink
import Foundation
import Model
import Netlink
import Testing
import TestSupport
@testable import Observe

/// Observe's own fast decoders (`LinkRecord` and friends) and the mapping to
/// `Model` values, run over the kernel's bytes in Tests/Fixtures/netlink-golden
/// (captured inside the sandbox by Tests/Support/capture-netlink-golden.py with the
/// requests `NamespaceReader` sends). What the planner would see of that host.
@Suite("Observe records from kernel bytes")
struct GoldenRecordTests {
    static let directory = TestSupport.repoRoot.appendingPathComponent("Tests/Fixtures/netlink-golden")
    static let group: UInt32 = 0x4e46_a1b2

    static func messages(_ file: String) throws -> [NetlinkMessage] {
        let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
        var out: [NetlinkMessage] = []
        for line in text.split(separator: "\n") where !line.isEmpty {
            var bytes: [UInt8] = []
            var i = line.startIndex
            while i < line.endIndex {
                let j = line.index(i, offsetBy: 2)
                bytes.append(try #require(UInt8(line[i..<j], radix: 16)))
                i = j
            }
            out += try NetlinkMessage.parse(bytes).filter { $0.type != UInt16(NLMSG_DONE) }
        }
        return out
    }

    /// The host namespace of the capture, read as `NamespaceReader.read` reads one.
    static func hostDump() throws -> NamespaceDump {
        var d = NamespaceDump()
        d.links = try messages("links.hex").map { try #require(LinkRecord(payload: $0.payload)) }
        d.addresses = try messages("addresses.hex").map { try #require(AddressRecord(payload: $0.payload)) }
        d.routes = try messages("routes.hex").map { try #require(RouteRecord(payload: $0.payload)) }
        d.neighbours = try messages("neighbours.hex").filter { [2, 10].contains($0.payload.first) }
            .map { try #require(NeighbourRecord(payload: $0.payload)) }
        d.fdb = try messages("fdb-vx0.hex").map { try #require(NeighbourRecord(payload: $0.payload)) }
        return d
    }

    @Test("every message of the kernel's dumps decodes")
    func allDecode() throws {
        let d = try Self.hostDump()
        #expect(d.links.count == 7)
        #expect(d.addresses.count == 10)  // lo 2, br0 3, nfv0, ul1, ul0 2, vx0; mv0 is down
        #expect(d.fdb.count == 3)
        let c1 = try Self.messages("links-c1.hex").compactMap { LinkRecord(payload: $0.payload) }
        #expect(c1.map(\.name) == ["lo", "eth0"])
        #expect(c1[1].parent == 3 && c1[1].linkNetnsID == 0 && c1[1].group == Self.group)
    }

    @Test("links as the planner sees them: kinds, masters, port isolation, groups, aliases")
    func links() throws {
        let state = ObservedMapping.namespace(.host, try Self.hostDump()).state
        func link(_ name: String) throws -> LinkState { try #require(state.links.first { $0.name == name }) }
        #expect(state.links.map(\.name) == ["lo", "br0", "nfv0", "ul1", "ul0", "vx0", "mv0"])
        #expect(try link("lo").kind == .loopback)

        let br = try link("br0")
        #expect(br.kind == .bridge)
        #expect(br.mtu == 1400 && br.isUp && br.group == Self.group)
        #expect(br.mac == MACAddress("02:4e:46:00:00:01"))
        #expect(br.alias == "netform:golden/net/front")
        #expect(br.owner == OwnerMark(project: "golden", path: "net/front"))
        #expect(!br.bridgeNetfilter)  // made by `ip link add type bridge`, not netform

        let port = try link("nfv0")
        #expect(port.kind == .veth(peer: nil))  // the peer is in another namespace: resolved later
        #expect(port.master == "br0")
        #expect(port.isolated)
        #expect(port.group == Self.group)
        #expect(port.owner == OwnerMark(project: "golden", path: "ep/c1/front"))

        #expect(try link("ul0").kind == .veth(peer: VethPeerRef(namespace: .host, name: "ul1")))
        #expect(try link("ul0").owner == nil)
        #expect(try link("ul0").group == 0)

        let vx = try link("vx0")
        #expect(vx.kind == .vxlan(VXLANSettings(vni: 4100, local: IPAddress("192.0.2.1"), port: 4789, device: "ul0")))
        #expect(vx.master == "br0" && vx.mtu == 1450 && vx.isUp)
        #expect(vx.mac == MACAddress("02:4e:46:00:00:03"))
        #expect(!vx.isolated)

        let mv = try link("mv0")
        #expect(mv.kind == .macvlan(parent: "ul0", mode: "bridge"))
        #expect(!mv.isUp)
        #expect(mv.group == Self.group && mv.alias == "netform:golden/net/lan")
    }

    @Test("addresses, routes, neighbours and FDB as the planner sees them")
    func objects() throws {
        let state = ObservedMapping.namespace(.host, try Self.hostDump()).state
        // Link-local and loopback addresses are the kernel's: left out.
        #expect(Set(state.addresses) == [
            AddressState(link: "br0", address: IPAddress("172.30.0.1")!, prefixLength: 24, proto: 78),
            AddressState(link: "br0", address: IPAddress("fd00:30::1")!, prefixLength: 64, proto: 78),
            AddressState(link: "ul0", address: IPAddress("192.0.2.1")!, prefixLength: 24, proto: 0),
        ])
        let marked = state.routes.filter { $0.proto == 78 }
        #expect(Set(marked) == [
            RouteState(destination: IPNetwork("10.99.0.0/16"), family: .v4, gateway: IPAddress("172.30.0.254"), device: "br0", proto: 78, table: 254),
            RouteState(destination: IPNetwork("fd00:99::/64"), family: .v6, gateway: IPAddress("fd00:30::fe"), device: "br0", proto: 78, table: 254),
        ])
        // The kernel's connected routes stay (proto 2); fe80::/64 routes and table 100's do not.
        #expect(Set(state.routes.filter { $0.proto == 2 }.compactMap(\.destination)) ==
                [IPNetwork("172.30.0.0/24")!, IPNetwork("192.0.2.0/24")!, IPNetwork("fd00:30::/64")!])
        #expect(state.routes.count == 5)
        // Only permanent neighbours (the stale one and the kernel's multicast entries are not).
        #expect(Set(state.neighbours) == [
            NeighbourState(link: "br0", address: IPAddress("172.30.0.9")!, mac: MACAddress("02:42:ac:1e:00:09")!, permanent: true),
            NeighbourState(link: "br0", address: IPAddress("fd00:30::9")!, mac: MACAddress("02:42:ac:1e:00:09")!, permanent: true),
            NeighbourState(link: "ul0", address: IPAddress("192.0.2.7")!, mac: MACAddress("02:00:00:00:00:07")!, permanent: true),
            NeighbourState(link: "ul0", address: IPAddress("192.0.2.8")!, mac: MACAddress("02:00:00:00:00:08")!, permanent: true),
        ])
        // The VXLAN device's static entries with a remote VTEP; not the bridge's own entry.
        #expect(Set(state.fdb) == [
            FDBEntryState(link: "vx0", mac: MACAddress("00:00:00:00:00:00")!, destination: IPAddress("192.0.2.7")),
            FDBEntryState(link: "vx0", mac: MACAddress("02:42:0a:0a:00:05")!, destination: IPAddress("192.0.2.8")),
        ])
    }
}
