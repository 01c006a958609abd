import Addressing
import CNetlink
import Testing
@testable import Netlink

/// Encodes a request as the socket sends it (REQUEST|ACK added, seq 1, port 0).
func wire(_ r: NetlinkRequest, seq: UInt32 = 1) -> [UInt8] {
    var r = r
    r.flags.formUnion([.request, .ack])
    return r.encode(sequence: seq, portID: 0)
}

@Suite("Golden bytes")
struct GoldenTests {
    @Test("fixed headers have the uapi sizes")
    func headerSizes() {
        #expect(MemoryLayout<ifinfomsg>.size == IfInfoMsg.size)
        #expect(MemoryLayout<ifaddrmsg>.size == IfAddrMsg.size)
        #expect(MemoryLayout<rtmsg>.size == RtMsg.size)
        #expect(MemoryLayout<ndmsg>.size == NdMsg.size)
        #expect(MemoryLayout<nlmsghdr>.size == 16)
        #expect(cnl_nlmsg_align(17) == 20)
        #expect(cnl_rta_align(5) == 8)
    }

    @Test("RTM_NEWLINK bridge br0")
    func newBridge() throws {
        let req = try NetlinkRequest.newLink(NewLink(name: "br0", kind: .bridge))
        let expected: [UInt8] = [
            // nlmsghdr: len 56, RTM_NEWLINK (16), REQUEST|ACK|EXCL|CREATE (0x605), seq 1, pid 0
            0x38, 0, 0, 0, 0x10, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0,
            // ifinfomsg: family 0, pad, type 0, index 0, flags 0, change 0
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            // IFLA_IFNAME (3) "br0\0"
            8, 0, 3, 0, 0x62, 0x72, 0x30, 0,
            // IFLA_LINKINFO (18) | NLA_F_NESTED, len 16
            16, 0, 18, 0x80,
            //   IFLA_INFO_KIND (1) "bridge\0" (len 11, padded to 12)
            11, 0, 1, 0, 0x62, 0x72, 0x69, 0x64, 0x67, 0x65, 0, 0,
        ]
        #expect(wire(req) == expected)
    }

    @Test("RTM_NEWLINK set br0 alias, mtu, up")
    func setAlias() throws {
        let req = try NetlinkRequest.setLink(.name("br0"), LinkChange(mtu: 1400, up: true, alias: "lab"))
        let expected: [UInt8] = [
            // len 56, RTM_NEWLINK, REQUEST|ACK, seq 7
            0x38, 0, 0, 0, 0x10, 0, 0x05, 0, 7, 0, 0, 0, 0, 0, 0, 0,
            // ifinfomsg: index 0, flags IFF_UP, change IFF_UP
            0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0,
            // IFLA_IFNAME "br0"
            8, 0, 3, 0, 0x62, 0x72, 0x30, 0,
            // IFLA_MTU (4) 1400
            8, 0, 4, 0, 0x78, 0x05, 0, 0,
            // IFLA_IFALIAS (20) "lab\0"
            8, 0, 20, 0, 0x6c, 0x61, 0x62, 0,
        ]
        #expect(wire(req, seq: 7) == expected)
    }

    @Test("RTM_NEWADDR 10.0.0.1/24")
    func newAddress() throws {
        let req = try NetlinkRequest.newAddress(NewAddress(index: 2, address: IPAddress("10.0.0.1")!, prefixLength: 24))
        let expected: [UInt8] = [
            // len 40, RTM_NEWADDR (20), REQUEST|ACK|EXCL|CREATE
            0x28, 0, 0, 0, 0x14, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0,
            // ifaddrmsg: AF_INET, /24, flags 0, scope 0 (universe), index 2
            2, 24, 0, 0, 2, 0, 0, 0,
            // IFA_LOCAL (2) 10.0.0.1
            8, 0, 2, 0, 10, 0, 0, 1,
            // IFA_ADDRESS (1) 10.0.0.1
            8, 0, 1, 0, 10, 0, 0, 1,
        ]
        #expect(wire(req) == expected)
    }

    @Test("RTM_NEWROUTE 10.1.0.0/16 via 10.0.0.1 dev #3 proto 77")
    func newRoute() {
        let req = NetlinkRequest.newRoute(RouteSpec(destination: IPNetwork("10.1.0.0/16")!, gateway: IPAddress("10.0.0.1"),
                                                    outputIndex: 3, protocol: 77))
        let expected: [UInt8] = [
            // len 60, RTM_NEWROUTE (24), REQUEST|ACK|EXCL|CREATE
            0x3c, 0, 0, 0, 0x18, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0,
            // rtmsg: AF_INET, dst /16, src /0, tos 0, table main (254), proto 77,
            // scope universe (has a gateway), type unicast, flags 0
            2, 16, 0, 0, 254, 77, 0, 1, 0, 0, 0, 0,
            // RTA_DST (1) 10.1.0.0
            8, 0, 1, 0, 10, 1, 0, 0,
            // RTA_GATEWAY (5) 10.0.0.1
            8, 0, 5, 0, 10, 0, 0, 1,
            // RTA_OIF (4) 3
            8, 0, 4, 0, 3, 0, 0, 0,
            // RTA_TABLE (15) 254
            8, 0, 15, 0, 254, 0, 0, 0,
        ]
        #expect(wire(req) == expected)
    }

    @Test("RTM_NEWNEIGH AF_BRIDGE fdb entry with VXLAN destination")
    func newFDB() {
        let req = NetlinkRequest.newFDB(FDBSpec(index: 9, mac: MACAddress("02:42:ac:11:00:02")!, destination: IPAddress("192.0.2.7")))
        let expected: [UInt8] = [
            // len 48, RTM_NEWNEIGH (28), REQUEST|ACK|EXCL|CREATE
            0x30, 0, 0, 0, 0x1c, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0,
            // ndmsg: AF_BRIDGE (7), pads, ifindex 9, state NUD_PERMANENT, flags NTF_SELF, type 0
            7, 0, 0, 0, 9, 0, 0, 0, 0x80, 0, 0x02, 0,
            // NDA_LLADDR (2), 6 bytes padded to 8
            10, 0, 2, 0, 0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 0, 0,
            // NDA_DST (1) 192.0.2.7
            8, 0, 1, 0, 192, 0, 2, 7,
        ]
        #expect(wire(req) == expected)
    }

    @Test("RTM_DELLINK group: ifindex 0 and IFLA_GROUP")
    func deleteGroup() throws {
        let expected: [UInt8] = [
            0x28, 0, 0, 0, 0x11, 0, 0x05, 0, 1, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            // IFLA_GROUP (27) 4100
            8, 0, 27, 0, 0x04, 0x10, 0, 0,
        ]
        #expect(wire(try NetlinkRequest.deleteLinkGroup(4100)) == expected)
    }

    @Test("veth with peer in a namespace: nested VETH_INFO_PEER carries an ifinfomsg")
    func vethLayout() throws {
        let req = try NetlinkRequest.newLink(NewLink(name: "a", kind: .veth(peer: VethPeer(name: "b"))))
        let bytes = wire(req)
        let msgs = try NetlinkMessage.parse(bytes)
        #expect(msgs.count == 1)
        let attrs = try AttributeList(parsing: msgs[0].payload[IfInfoMsg.size...])
        let info = try #require(attrs[IFLA.linkinfo]).nested()
        #expect(info[IFLA.infoKind]?.string() == "veth")
        let data = try #require(info[IFLA.infoData]).nested()
        let peer = try #require(data[IFLA.vethInfoPeer])
        #expect(peer.isNested)
        #expect(Array(peer.payload[0..<16]) == IfInfoMsg().bytes)
        let peerAttrs = try AttributeList(parsing: peer.payload[16...])
        #expect(peerAttrs[IFLA.ifname]?.string() == "b")
    }

    @Test("VXLAN port is big endian, learning off")
    func vxlanLayout() throws {
        let req = try NetlinkRequest.newLink(NewLink(name: "vx0", kind: .vxlan(VXLANConfig(vni: 4100, local: IPAddress("192.0.2.1")))))
        let msg = try NetlinkMessage.parse(wire(req))[0]
        let attrs = try AttributeList(parsing: msg.payload[IfInfoMsg.size...])
        let info = try #require(attrs[IFLA.linkinfo]).nested()
        let data = try #require(info[IFLA.infoData]).nested()
        #expect(data[IFLA.vxlanPort]?.payload == [0x12, 0xb5])
        #expect(try data[IFLA.vxlanID]?.u32() == 4100)
        #expect(data[IFLA.vxlanLearning]?.payload == [0])
        #expect(data[IFLA.vxlanLocal]?.payload == [192, 0, 2, 1])
    }

    @Test("deleting group 0 is refused")
    func groupZero() {
        #expect(throws: NetlinkError.self) { try NetlinkRequest.deleteLinkGroup(0) }
    }

    @Test("invalid interface names are refused before reaching the kernel")
    func badNames() {
        for name in ["", "a/b", "sixteen-chars-xx", "a b"] {
            #expect(throws: NetlinkError.self) { try NetlinkRequest.newLink(NewLink(name: name, kind: .bridge)) }
        }
    }
}
