import Addressing
import Foundation
import Model
@testable import Netlink
@testable import Observe
import Testing

// Pure tests (no kernel): the lean decoders against Netlink's on the same bytes, and
// the mapping rules from kernel records to Model values.

// MARK: - Building messages

struct LinkSpec {
    var index: Int32
    var name: String
    var type: UInt16 = 1
    var up = true
    var mtu: UInt32 = 1500
    var mac: [UInt8]? = [0x02, 0x42, 0, 0, 0, 1]
    var master: Int32?
    var alias: String?
    var parent: Int32?
    var netnsid: Int32?
    var kind: String?
    var data: ((inout AttributeEncoder) -> Void)?
    var slaveKind: String?
    var slaveData: ((inout AttributeEncoder) -> Void)?

    var payload: [UInt8] {
        var e = AttributeEncoder()
        e.appendRaw(IfInfoMsg(type: type, index: index, flags: up ? 0x1 | 0x40 : 0).bytes)
        e.string(IFLA.ifname, name)
        e.u32(IFLA.mtu, mtu)
        if let mac { e.attribute(IFLA.address, mac) }
        e.attribute(IFLA.broadcast, [UInt8](repeating: 0xff, count: 6))
        if let master { e.i32(IFLA.master, master) }
        if let alias { e.string(IFLA.ifalias, alias) }
        if let parent { e.i32(IFLA.link, parent) }
        if let netnsid { e.i32(IFLA.linkNetnsid, netnsid) }
        e.attribute(23, [UInt8](repeating: 7, count: 200))  // stats-like blob, ignored
        if kind != nil || slaveKind != nil {
            e.nested(IFLA.linkinfo) { info in
                if let kind { info.string(IFLA.infoKind, kind) }
                if let data { info.nested(IFLA.infoData) { data(&$0) } }
                if let slaveKind { info.string(IFLA.infoSlaveKind, slaveKind) }
                if let slaveData { info.nested(IFLA.infoSlaveData) { slaveData(&$0) } }
            }
        }
        e.nested(26) { af in af.attribute(10, [UInt8](repeating: 1, count: 64)) }  // IFLA_AF_SPEC-like
        return e.bytes
    }

    var record: LinkRecord { LinkRecord(payload: payload)! }
}

func addressPayload(index: Int32, _ text: String, prefix: UInt8, scope: UInt8 = 0) -> [UInt8] {
    let a = IPAddress(text)!
    var e = AttributeEncoder()
    e.appendRaw(IfAddrMsg(family: a.family == .v4 ? 2 : 10, prefixLength: prefix, scope: scope, index: UInt32(index)).bytes)
    if a.family == .v4 { e.address(IFA.local, a) }
    e.address(IFA.address, a)
    e.string(IFA.label, "x")
    return e.bytes
}

func routePayload(_ dst: String?, prefix: UInt8 = 0, v6: Bool = false, gateway: String? = nil, oif: Int32? = nil,
                  table: UInt32 = 254, proto: UInt8 = 78) -> [UInt8] {
    var h = RtMsg()
    h.family = v6 ? 10 : 2
    h.dstLength = prefix
    h.table = table < 256 ? UInt8(table) : 252
    h.protocol = proto
    h.type = 1
    var e = AttributeEncoder()
    e.appendRaw(h.bytes)
    e.u32(RTA.table, table)
    if let dst { e.address(RTA.dst, IPAddress(dst)!) }
    if let gateway { e.address(RTA.gateway, IPAddress(gateway)!) }
    if let oif { e.i32(RTA.oif, oif) }
    e.u32(RTA.priority, 100)
    return e.bytes
}

func neighbourPayload(family: UInt8 = 2, index: Int32, state: UInt16, dst: String?, mac: String?) -> [UInt8] {
    var e = AttributeEncoder()
    e.appendRaw(NdMsg(family: family, index: index, state: state).bytes)
    if let dst { e.address(NDA.dst, IPAddress(dst)!) }
    if let mac { e.mac(NDA.lladdr, MACAddress(mac)!) }
    e.u32(NDA.vni, 5)
    return e.bytes
}

let bridgeIndex: Int32 = 5

/// A host namespace: lo, a bridge, a port on it (isolated), a vxlan on the bridge,
/// a macvlan on the bridge, a tun device, and a veth whose peer is in netns 3.
func sampleHostLinks() -> [LinkSpec] {
    [
        LinkSpec(index: 1, name: "lo", type: 772, mtu: 65536, mac: [0, 0, 0, 0, 0, 0]),
        LinkSpec(index: 5, name: "br0", mtu: 1400, alias: "netform:lab/net/a", kind: "bridge"),
        LinkSpec(index: 6, name: "veth-h", master: 5, alias: "netform:lab/ep/c1/a", parent: 2, netnsid: 3,
                 kind: "veth", slaveKind: "bridge", slaveData: { $0.u8(IFLA.brportIsolated, 1) }),
        LinkSpec(index: 7, name: "vx0", mtu: 1450, master: 5, kind: "vxlan", data: { d in
            d.u32(IFLA.vxlanID, 4100)
            d.attribute(IFLA.vxlanLocal, [10, 0, 0, 1])
            d.u16BigEndian(IFLA.vxlanPort, 4789)
            d.u32(IFLA.vxlanLink, 5)
        }, slaveKind: "bridge", slaveData: { $0.u8(IFLA.brportIsolated, 0) }),
        LinkSpec(index: 8, name: "mv0", up: false, parent: 5, kind: "macvlan", data: { $0.u32(IFLA.macvlanMode, 1) }),
        LinkSpec(index: 9, name: "tun0", type: 65534, mac: nil, alias: "", kind: "tun"),
        LinkSpec(index: 10, name: "eth9", mac: [0x52, 0x54, 0, 1, 2, 3]),
    ]
}

// MARK: - Decoders

@Suite("Observe: decoding")
struct DecodingTests {
    @Test("LinkRecord reads what Netlink.Link reads")
    func linkRecordsAgreeWithNetlink() throws {
        for spec in sampleHostLinks() {
            let payload = spec.payload
            let lean = try #require(LinkRecord(payload: payload), "\(spec.name)")
            let full = try Link(payload: payload)
            #expect(lean.index == full.index)
            #expect(lean.name == full.name)
            #expect(lean.type == full.linkType)
            #expect(lean.isUp == full.isUp)
            #expect(lean.mtu == full.mtu)
            #expect(lean.mac == full.mac)
            #expect(lean.master == full.master)
            #expect(lean.alias == full.alias)
            #expect(lean.parent == full.parent)
            #expect(lean.linkNetnsID == full.linkNetnsID)
            #expect(lean.kind == full.kind)
            #expect(lean.vxlanVNI == full.vxlan?.vni)
            #expect(lean.vxlanLocal == full.vxlan?.local)
            #expect(lean.vxlanPort == full.vxlan?.port)
            #expect(lean.vxlanUnderlay == full.vxlan?.underlay)
            #expect(lean.macvlanMode == full.macvlanMode?.rawValue)
            #expect(lean.isolated == (full.bridgePort?.isolated ?? false))
        }
    }

    @Test("address, route and neighbour records read what Netlink reads")
    func otherRecordsAgreeWithNetlink() throws {
        for p in [addressPayload(index: 3, "10.1.2.3", prefix: 24), addressPayload(index: 4, "fd00::5", prefix: 64, scope: 0),
                  addressPayload(index: 4, "fe80::1", prefix: 64, scope: 253)] {
            let lean = try #require(AddressRecord(payload: p))
            let full = try InterfaceAddress(payload: p)
            #expect(lean.index == full.index)
            #expect(lean.address == full.address)
            #expect(lean.prefixLength == full.prefixLength)
            #expect(lean.scope == full.scope)
        }
        for p in [routePayload(nil, gateway: "10.0.0.1", oif: 2), routePayload("10.9.0.0", prefix: 16, oif: 3, proto: 2),
                  routePayload("fd00::", prefix: 64, v6: true, oif: 3, table: 1000)] {
            let lean = try #require(RouteRecord(payload: p))
            let full = try Route(payload: p)
            #expect(lean.family == full.family)
            #expect(lean.destination == full.destination)
            #expect(lean.gateway == full.gateway)
            #expect(lean.outputIndex == full.outputIndex)
            #expect(lean.table == full.table)
            #expect(lean.protocol == full.protocol)
        }
        for p in [neighbourPayload(index: 2, state: 0x80, dst: "10.0.0.7", mac: "02:42:0a:00:00:07"),
                  neighbourPayload(family: 7, index: 9, state: 0x40, dst: "192.0.2.9", mac: "00:00:00:00:00:00"),
                  neighbourPayload(family: 10, index: 2, state: 0x02, dst: "fd00::9", mac: nil)] {
            let lean = try #require(NeighbourRecord(payload: p))
            let full = try Neighbour(payload: p)
            #expect(lean.family == full.family.rawValue)
            #expect(lean.index == full.index)
            #expect(lean.state == full.state.rawValue)
            #expect(lean.destination == full.destination)
            #expect(lean.mac == full.mac)
        }
    }

    @Test("malformed messages are refused, never trapped on")
    func malformed() {
        let good = LinkSpec(index: 3, name: "x0", kind: "bridge").payload
        #expect(LinkRecord(payload: Array(good.prefix(10))) == nil, "shorter than ifinfomsg")
        var badLength = good
        badLength[16] = 0xff  // first attribute claims 255+ bytes
        badLength[17] = 0x7f
        #expect(LinkRecord(payload: badLength) == nil)
        var tiny = good
        tiny[16] = 2  // attribute length below its own header
        tiny[17] = 0
        #expect(LinkRecord(payload: tiny) == nil)
        #expect(LinkRecord(payload: IfInfoMsg(index: 1).bytes) == nil, "no name")
        #expect(AddressRecord(payload: IfAddrMsg(family: 2, prefixLength: 24).bytes) == nil, "no address")
        #expect(RouteRecord(payload: [1, 2, 3]) == nil)
        #expect(RouteRecord(payload: routePayload(nil).enumerated().map { $0.offset == 0 ? 7 : $0.element }) == nil, "not IP")
        #expect(NeighbourRecord(payload: [0, 0]) == nil)
        // Random bytes: whatever comes out, nothing traps.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let n = Int.random(in: 0..<120, using: &rng)
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = LinkRecord(payload: bytes)
            _ = AddressRecord(payload: bytes)
            _ = RouteRecord(payload: bytes)
            _ = NeighbourRecord(payload: bytes)
        }
    }
}

// MARK: - Mapping

@Suite("Observe: mapping rules")
struct MappingTests {
    func hostDump() -> NamespaceDump {
        var d = NamespaceDump()
        d.links = sampleHostLinks().map(\.record)
        return d
    }

    @Test("links: kind, master, isolated, alias, vxlan, macvlan, loopback")
    func links() throws {
        let ns = ObservedMapping.namespace(.host, hostDump()).state
        let byName = Dictionary(uniqueKeysWithValues: ns.links.map { ($0.name, $0) })
        #expect(byName["lo"]?.kind == .loopback)
        #expect(byName["lo"]?.mtu == 65536)
        #expect(byName["br0"]?.kind == .bridge)
        #expect(byName["br0"]?.mtu == 1400)
        #expect(byName["br0"]?.owner == OwnerMark(project: "lab", path: "net/a"))
        #expect(byName["br0"]?.index == 5)
        let port = try #require(byName["veth-h"])
        #expect(port.kind == .veth(peer: nil), "peer in another namespace: unknown without that namespace")
        #expect(port.master == "br0")
        #expect(port.isolated)
        #expect(port.isUp)
        #expect(port.mac == MACAddress("02:42:00:00:00:01"))
        #expect(byName["vx0"]?.kind == .vxlan(VXLANSettings(vni: 4100, local: IPAddress("10.0.0.1"), port: 4789, device: "br0")))
        #expect(byName["vx0"]?.isolated == false)
        #expect(byName["mv0"]?.kind == .macvlan(parent: "br0", mode: "private"))
        #expect(byName["mv0"]?.isUp == false)
        #expect(byName["tun0"]?.kind == .other("tun"))
        #expect(byName["tun0"]?.alias == nil, "an empty alias is no alias")
        #expect(byName["tun0"]?.mac == nil)
        #expect(byName["eth9"]?.kind == .other("device"))
        #expect(ns.owner == nil, "lo has no mark")
        #expect(ns.links.map(\.name) == sampleHostLinks().map(\.name), "kernel order kept")
    }

    @Test("macvlan modes use the spec's spelling")
    func macvlanModes() {
        #expect(ObservedMapping.modeName(1) == "private")
        #expect(ObservedMapping.modeName(2) == "vepa")
        #expect(ObservedMapping.modeName(4) == "bridge")
        #expect(ObservedMapping.modeName(8) == "passthru")
        #expect(ObservedMapping.modeName(16) == "source")
        #expect(ObservedMapping.modeName(nil) == "unknown")
        #expect(Set(["bridge", "vepa", "private", "passthru"]).isSubset(of: (0..<5).map { ObservedMapping.modeName(1 << $0) }))
    }

    @Test("namespace owner comes from lo's alias; a veth peer in the same namespace is named")
    func ownerAndLocalPeer() {
        var d = NamespaceDump()
        d.links = [
            LinkSpec(index: 1, name: "lo", type: 772, alias: "netform:lab/ctr/c1").record,
            LinkSpec(index: 2, name: "va", parent: 3, kind: "veth").record,
            LinkSpec(index: 3, name: "vb", parent: 2, kind: "veth").record,
            LinkSpec(index: 4, name: "mv", parent: 99, kind: "macvlan", data: { $0.u32(IFLA.macvlanMode, 4) }).record,
            LinkSpec(index: 5, name: "vx", kind: "vxlan", data: { $0.u32(IFLA.vxlanID, 7) }).record,
        ]
        let ns = ObservedMapping.namespace(.named("c1"), d).state
        #expect(ns.owner == OwnerMark(project: "lab", path: "ctr/c1"))
        #expect(ns.link(named: "va")?.kind == .veth(peer: VethPeerRef(namespace: .named("c1"), name: "vb")))
        #expect(ns.link(named: "mv")?.kind == .macvlan(parent: "if99", mode: "bridge"), "unknown parent index")
        #expect(ns.link(named: "vx")?.kind == .vxlan(VXLANSettings(vni: 7, local: nil, port: 4789, device: nil)))
    }

    @Test("kernel-managed addresses are left out: IPv6 link-local, loopback host scope")
    func addresses() {
        var d = hostDump()
        d.addresses = [
            addressPayload(index: 1, "127.0.0.1", prefix: 8, scope: 254),
            addressPayload(index: 1, "::1", prefix: 128, scope: 254),
            addressPayload(index: 1, "10.255.0.1", prefix: 32, scope: 0),
            addressPayload(index: 5, "172.17.0.1", prefix: 16),
            addressPayload(index: 5, "fd00:1::1", prefix: 64),
            addressPayload(index: 5, "fe80::1", prefix: 64, scope: 253),
            addressPayload(index: 6, "fe80::2", prefix: 64, scope: 0),  // fe80::/10 whatever the scope
            addressPayload(index: 10, "192.168.1.5", prefix: 24),
        ].map { AddressRecord(payload: $0)! }
        let ns = ObservedMapping.namespace(.host, d).state
        #expect(ns.addresses.map(\.description) == [
            "10.255.0.1/32 dev lo", "172.17.0.1/16 dev br0", "fd00:1::1/64 dev br0", "192.168.1.5/24 dev eth9",
        ])
    }

    @Test("routes: main table only, default as nil, IPv6 link-local and multicast left out")
    func routes() {
        var d = hostDump()
        d.routes = [
            routePayload(nil, gateway: "10.0.0.1", oif: 10, proto: 4),
            routePayload("172.17.0.0", prefix: 16, oif: 5, proto: 2),
            routePayload("10.7.0.0", prefix: 24, gateway: "172.17.0.9", oif: 5, proto: 78),
            routePayload("10.8.0.0", prefix: 24, table: 100),
            routePayload("127.0.0.0", prefix: 8, oif: 1, table: 255, proto: 2),
            routePayload("fe80::", prefix: 64, v6: true, oif: 5, proto: 2),
            routePayload("ff00::", prefix: 8, v6: true, oif: 5, proto: 2),
            routePayload("fd00:1::", prefix: 64, v6: true, oif: 5, proto: 2),
            routePayload(nil, v6: true, gateway: "fd00:1::fe", oif: 77, proto: 78),
        ].map { RouteRecord(payload: $0)! }
        let ns = ObservedMapping.namespace(.host, d).state
        #expect(ns.routes == [
            RouteState(destination: nil, family: .v4, gateway: IPAddress("10.0.0.1"), device: "eth9", proto: 4),
            RouteState(destination: IPNetwork("172.17.0.0/16"), family: .v4, device: "br0", proto: 2),
            RouteState(destination: IPNetwork("10.7.0.0/24"), family: .v4, gateway: IPAddress("172.17.0.9"), device: "br0", proto: 78),
            RouteState(destination: IPNetwork("fd00:1::/64"), family: .v6, device: "br0", proto: 2),
            RouteState(destination: nil, family: .v6, gateway: IPAddress("fd00:1::fe"), device: "if77", proto: 78),
        ])
        #expect(ns.routes.last?.isOwned == true)
    }

    @Test("neighbours: permanent only; FDB: static entries with a destination on VXLAN devices only")
    func neighboursAndFDB() {
        var d = hostDump()
        d.neighbours = [
            neighbourPayload(index: 5, state: 0x80, dst: "172.17.0.7", mac: "02:42:ac:11:00:07"),
            neighbourPayload(family: 10, index: 5, state: 0x80, dst: "fd00:1::7", mac: "02:42:ac:11:00:07"),
            neighbourPayload(index: 5, state: 0x02, dst: "172.17.0.8", mac: "02:42:ac:11:00:08"),  // reachable
            neighbourPayload(index: 5, state: 0x40, dst: "224.0.0.22", mac: "01:00:5e:00:00:16"),  // noarp
        ].map { NeighbourRecord(payload: $0)! }
        d.fdb = [
            neighbourPayload(family: 7, index: 7, state: 0x80, dst: "192.0.2.2", mac: "00:00:00:00:00:00"),
            neighbourPayload(family: 7, index: 7, state: 0x40, dst: "192.0.2.3", mac: "02:42:0a:0a:00:03"),
            neighbourPayload(family: 7, index: 7, state: 0x02, dst: "192.0.2.4", mac: "02:42:0a:0a:00:04"),  // learned
            neighbourPayload(family: 7, index: 7, state: 0x80, dst: nil, mac: "66:22:3f:bb:6f:6c"),  // the port's own
            neighbourPayload(family: 7, index: 6, state: 0x80, dst: "192.0.2.5", mac: "02:42:0a:0a:00:05"),  // not vxlan
        ].map { NeighbourRecord(payload: $0)! }
        let ns = ObservedMapping.namespace(.host, d).state
        #expect(ns.neighbours == [
            NeighbourState(link: "br0", address: IPAddress("172.17.0.7")!, mac: MACAddress("02:42:ac:11:00:07")!),
            NeighbourState(link: "br0", address: IPAddress("fd00:1::7")!, mac: MACAddress("02:42:ac:11:00:07")!),
        ])
        #expect(ns.fdb == [
            FDBEntryState(link: "vx0", mac: MACAddress("00:00:00:00:00:00")!, destination: IPAddress("192.0.2.2")),
            FDBEntryState(link: "vx0", mac: MACAddress("02:42:0a:0a:00:03")!, destination: IPAddress("192.0.2.3")),
        ])
    }

    @Test("across namespaces: container ends and macvlans towards the host, host veths back")
    func acrossNamespaces() throws {
        var host = ObservedMapping.namespace(.host, hostDump())
        #expect(host.crossLinks == [CrossLink(position: 2, parent: 2, nsid: 3)])
        var c1 = NamespaceDump()
        c1.links = [
            LinkSpec(index: 1, name: "lo", type: 772, alias: "netform:lab/ctr/c1").record,
            LinkSpec(index: 2, name: "eth0", parent: 6, netnsid: 0, kind: "veth").record,
            LinkSpec(index: 3, name: "lan0", parent: 10, netnsid: 0, kind: "macvlan", data: { $0.u32(IFLA.macvlanMode, 4) }).record,
            LinkSpec(index: 4, name: "peer9", parent: 2, netnsid: 5, kind: "veth").record,  // elsewhere
        ]
        c1.homeNsid = 0
        var other = NamespaceDump()
        other.links = [LinkSpec(index: 2, name: "eth0", parent: 6, netnsid: 0, kind: "veth").record]
        other.homeNsid = 4  // its nsid 0 is not the host: must not be taken for the host's link 6
        var all = [host, ObservedMapping.namespace(.named("c1"), c1), ObservedMapping.namespace(.named("x"), other)]
        ObservedMapping.resolveAcrossNamespaces(&all)
        host = all[0]
        let ns = all[1].state
        #expect(ns.link(named: "eth0")?.kind == .veth(peer: VethPeerRef(namespace: .host, name: "veth-h")))
        #expect(ns.link(named: "lan0")?.kind == .macvlan(parent: "eth9", mode: "bridge"))
        #expect(ns.link(named: "peer9")?.kind == .veth(peer: nil))
        #expect(all[2].state.link(named: "eth0")?.kind == .veth(peer: nil))
        #expect(host.state.link(named: "veth-h")?.kind == .veth(peer: VethPeerRef(namespace: .named("c1"), name: "eth0")))
    }
}

// MARK: - Selection and report

@Suite("Observe: project selection and show report")
struct SelectionTests {
    func sampleState() -> HostState {
        let lab = OwnerMark.network("lab", "a").alias
        let ep = OwnerMark.endpoint("lab", container: "c1", network: "a").alias
        var host = NamespaceState(ref: .host, links: [
            LinkState(name: "lo", kind: .loopback, mtu: 65536),
            LinkState(name: "br-lab", kind: .bridge, alias: lab, index: 2),
            LinkState(name: "v-lab", kind: .veth(peer: nil), master: "br-lab", alias: ep, isolated: true, index: 3),
            LinkState(name: "br-other", kind: .bridge, alias: OwnerMark.network("other", "b").alias, index: 4),
            LinkState(name: "docker0", kind: .bridge, index: 5),
        ])
        host.addresses = [AddressState(link: "br-lab", address: IPAddress("10.1.0.1")!, prefixLength: 24),
                          AddressState(link: "docker0", address: IPAddress("172.17.0.1")!, prefixLength: 16)]
        host.routes = [RouteState(destination: IPNetwork("10.2.0.0/24"), family: .v4, gateway: IPAddress("10.1.0.9"), device: "br-lab"),
                       RouteState(destination: IPNetwork("10.1.0.0/24"), family: .v4, device: "br-lab", proto: 2),
                       RouteState(destination: nil, family: .v4, gateway: IPAddress("192.0.2.1"), device: "docker0", proto: 78),
                       RouteState(destination: IPNetwork("10.3.0.0/24"), family: .v4, proto: 78)]
        let c1 = NamespaceState(ref: .named("lab-c1"), owner: .container("lab", "c1"), links: [
            LinkState(name: "lo", kind: .loopback, mtu: 65536, alias: OwnerMark.container("lab", "c1").alias, index: 1),
            LinkState(name: "eth0", kind: .veth(peer: VethPeerRef(namespace: .host, name: "v-lab")), alias: ep, index: 2),
            LinkState(name: "stray", kind: .other("tun"), index: 3),
        ], addresses: [AddressState(link: "eth0", address: IPAddress("10.1.0.2")!, prefixLength: 24),
                       AddressState(link: "stray", address: IPAddress("10.9.9.9")!, prefixLength: 32)],
           routes: [RouteState(destination: nil, family: .v4, gateway: IPAddress("10.1.0.1"), device: "eth0"),
                    RouteState(destination: IPNetwork("10.4.0.0/24"), family: .v4, proto: 78),
                    RouteState(destination: IPNetwork("10.5.0.0/24"), family: .v4, device: "stray", proto: 78)],
           neighbours: [NeighbourState(link: "eth0", address: IPAddress("10.1.0.7")!, mac: MACAddress("02:42:0a:01:00:07")!)])
        let foreign = NamespaceState(ref: .named("ci-runner"), links: [LinkState(name: "lo", kind: .loopback, mtu: 65536)])
        let other = NamespaceState(ref: .named("other-c"), owner: .container("other", "c"),
                                   links: [LinkState(name: "lo", kind: .loopback, alias: OwnerMark.container("other", "c").alias)])
        return HostState(namespaces: [.host: host, c1.ref: c1, foreign.ref: foreign, other.ref: other])
    }

    @Test("owned(by:) keeps the project's links, their addresses and proto-78 routes")
    func ownedBy() throws {
        let s = sampleState().owned(by: "lab")
        #expect(Set(s.namespaces.keys) == [.host, .named("lab-c1")])
        let host = try #require(s[.host])
        #expect(host.links.map(\.name) == ["br-lab", "v-lab"])
        #expect(host.addresses.map(\.address.description) == ["10.1.0.1"])
        #expect(host.routes.map(\.description) == ["10.2.0.0/24 via 10.1.0.9 dev br-lab proto 78"],
                "kernel route on our link, proto 78 on a foreign link and device-less routes in a foreign namespace are not ours")
        #expect(host.owner == nil)
        let c1 = try #require(s[.named("lab-c1")])
        #expect(c1.owner == .container("lab", "c1"))
        #expect(c1.links.map(\.name) == ["lo", "eth0"], "an unmarked link in our namespace is not ours")
        #expect(c1.addresses.map(\.link) == ["eth0"])
        #expect(c1.routes.map(\.description) == ["default via 10.1.0.1 dev eth0 proto 78", "10.4.0.0/24 proto 78"])
        #expect(c1.neighbours.count == 1)
        #expect(sampleState().owned(by: "nobody").namespaces.isEmpty)
        #expect(Set(sampleState().owned(by: "other").namespaces.keys) == [.host, .named("other-c")])
    }

    @Test("the JSON report is versioned, sorted, with explicit nulls and kind blocks")
    func jsonReport() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(ObservationReport(sampleState(), project: nil))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(root["format_version"] as? Int == 1)
        #expect(root["scope"] as? String == "all")
        #expect(root.keys.contains("project") && root["project"] is NSNull)
        let namespaces = try #require(root["namespaces"] as? [[String: Any]])
        #expect(namespaces.map { $0["name"] as? String } == ["host", "ci-runner", "lab-c1", "other-c"])
        #expect(namespaces[0]["type"] as? String == "host")
        #expect(namespaces[0]["owner"] is NSNull)
        let links = try #require(namespaces[0]["links"] as? [[String: Any]])
        #expect(links.map { $0["name"] as? String } == ["br-lab", "v-lab", "br-other", "docker0", "lo"], "by index, unknown last")
        let docker = links[3]
        #expect(docker["owner"] is NSNull && docker["alias"] is NSNull && docker["mac"] is NSNull)
        #expect(docker["peer"] == nil && docker["vxlan"] == nil)
        let port = links[1]
        #expect((port["owner"] as? [String: Any])?["project"] as? String == "lab")
        #expect((port["owner"] as? [String: Any])?["path"] as? String == "ep/c1/a")
        #expect(port["isolated"] as? Bool == true)
        #expect(port["state"] as? String == "up")
        #expect(port["master"] as? String == "br-lab")
        let peer = try #require(port["peer"] as? [String: Any])
        #expect(peer["name"] is NSNull && peer["namespace"] is NSNull)
        let c1 = namespaces[2]
        #expect((c1["owner"] as? [String: Any])?["mark"] as? String == "netform:lab/ctr/c1")
        let routes = try #require(c1["routes"] as? [[String: Any]])
        #expect(routes.first?["destination"] as? String == "default")
        #expect(routes.first?["netform"] as? Bool == true)
        #expect(routes[1]["device"] is NSNull)
        // Sorted keys: the text itself is ordered.
        let text = String(decoding: data, as: UTF8.self)
        let f = try #require(text.range(of: "\"format_version\""))
        let n = try #require(text.range(of: "\"namespaces\""))
        #expect(f.lowerBound < n.lowerBound)
    }

    @Test("the project report says which project")
    func projectReport() throws {
        let report = ObservationReport(sampleState().owned(by: "lab"), project: "lab")
        #expect(report.scope == "project")
        #expect(report.project == "lab")
        #expect(report.namespaces.map(\.name) == ["host", "lab-c1"])
    }
}
