import Addressing
import CNetlink
import Testing
@testable import Netlink

/// A real `RTM_NEWLINK` reply captured inside the sandbox (kernel 6.18) with a raw
/// Python netlink socket: `ip link add br7 type bridge; ip link set br7 mtu 1400 up;
/// ip link set br7 alias netform:lab/net/x`, then RTM_GETLINK for br7 with
/// IFLA_EXT_MASK = RTEXT_FILTER_SKIP_STATS.
let capturedBridgeLink = hexBytes("""
000600001000000001000000d01d000000000100020000004310010000000000080003006272370008000d00e80300000500100000000000050011000000000005004300010000000800040078050000080032004400000008003300ffff000008001b000000000008001e000000000008003d000000000008001f000100000008002800ffff0000080029000000010008003a000000010008003f0000000100080040000000010008003b000000010008003c00ffff0000080042000000000008002000010000000500210001000000160014006e6574666f726d3a6c61622f6e65742f78000000080023000000000008002f000000000008003000000000000600440000000000060045000000000005002700000000000a00010012c56d5b720600000a000200ffffffffffff0000cc0017000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000640007000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000c002b0005000200000000009c0112000b00010062726964676500008c0102000c00100000000000000000000c00110000000000000000000c00120000000000000000000c001300090000000000000008000100dc05000008000200c800000008000300d0070000080004003075000008000500000000000600060000800000050007000000000006000900000000000c000b0080000000000000000c000a00800000000000000006000c000000000008000d000000000005000e000000000005000f00000000000a0014000180c200000000000c002e00000000001f00000008003000000000000800310000000000050016000100000005001700010000000500180000000000050019000000000005002a000000000008001a001000000008001b000010000008001c000200000008001d000200000005002b000200000005002c00010000000c001e0064000000000000000c001f0090650000000000000c0020009c630000000000000c002100d4300000000000000c002200e8030000000000000c002300340c0000000000000500240000000000050025000000000005002600000000000c0006006e6f717565756500c0011a008c00020088000100000000000000000000000000010000000100000001000000010000000000000001000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000010270000e8030000000000000000000000000000000000000100000030010a00080001000000008014000500ffff0000c0be000080400000e8030000f400020000000000400000007805000001000000010000000100000001000000ffffffffa00f0000e803000000000000803a0900805101000300000058020000100000000000000001000000010000000100000060ea000000000000000000000000000000000000000000000000000001000000000000000000000010270000e8030000010000000000000000000000010000000000000000000000010000000000000000000000000000000000000080ee360000000000000000000100000000000000000000000000000000000000000000000004000000000000ffff0000ffffffff010000000000000000000000000000001400070000000000000000000000000000000000050008000000000024000e00000000000000000000000000000000000000000000000000000000000000000004003e8004004180
""")

/// A small deterministic generator for garbage input.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Decoder")
struct DecoderTests {
    @Test("captured kernel RTM_NEWLINK decodes")
    func capturedLink() throws {
        let msgs = try NetlinkMessage.parse(capturedBridgeLink)
        #expect(msgs.count == 1)
        let m = msgs[0]
        #expect(m.type == MsgType.newLink)
        #expect(m.sequence == 1)
        let link = try Link(payload: m.payload)
        #expect(link.name == "br7")
        #expect(link.index == 2)
        #expect(link.mtu == 1400)
        #expect(link.isUp)
        #expect(link.kind == "bridge")
        #expect(link.alias == "netform:lab/net/x")
        #expect(link.mac == MACAddress("12:c5:6d:5b:72:06"))
        #expect(link.group == 0)
        #expect(link.infoData != nil)
        // Attributes this layer does not decode are kept, not dropped.
        #expect(link.unknownAttributes.contains { $0.type == u16(IFLA_QDISC) && $0.string() == "noqueue" })
        #expect(link.unknownAttributes.contains { $0.type == u16(IFLA_AF_SPEC) && $0.payload.count == 0x1c0 - 4 })
    }

    @Test("every truncation of a kernel message throws instead of crashing")
    func truncations() {
        for cut in 0..<capturedBridgeLink.count where cut % 4 != 0 || cut < 64 {
            let prefix = Array(capturedBridgeLink[0..<cut])
            if cut > 0 {
                #expect(throws: NetlinkError.self) { try NetlinkMessage.parse(prefix) }
            }
        }
        // A payload cut anywhere either decodes or throws; never traps.
        let payload = Array(capturedBridgeLink[16...])
        var thrown = 0
        for cut in 0..<payload.count {
            do { _ = try Link(payload: Array(payload[0..<cut])) } catch { thrown += 1 }
        }
        #expect(thrown > 0)
    }

    @Test("garbage input throws or decodes, never crashes")
    func garbage() {
        var rng = SplitMix(state: 42)
        for _ in 0..<3000 {
            let n = Int.random(in: 0..<200, using: &rng)
            var bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Make the header plausible often enough to reach the attribute decoders.
            if n >= 16, Bool.random(using: &rng) {
                bytes[0] = UInt8(n); bytes[1] = 0; bytes[2] = 0; bytes[3] = 0
            }
            if let msgs = try? NetlinkMessage.parse(bytes) {
                for m in msgs {
                    _ = try? Link(payload: m.payload)
                    _ = try? InterfaceAddress(payload: m.payload)
                    _ = try? Route(payload: m.payload)
                    _ = try? Neighbour(payload: m.payload)
                    _ = try? ErrorPayload(m)
                }
            }
            _ = try? AttributeList(parsing: bytes[...])
        }
    }

    @Test("attribute shorter than its header is an error")
    func shortAttribute() throws {
        #expect(throws: NetlinkError.self) { try AttributeList(parsing: [2, 0, 1, 0][...]) }
        #expect(throws: NetlinkError.self) { try AttributeList(parsing: [12, 0, 1, 0, 1, 2][...]) }
        // Zero padding after the last attribute is fine.
        #expect(try AttributeList(parsing: [5, 0, 1, 0, 9, 0, 0, 0, 0, 0][...]).attributes.count == 1)
    }

    @Test("integer accessors check sizes")
    func accessorSizes() {
        let a = RawAttribute(type: 4, payload: [1, 2, 3])
        #expect(throws: NetlinkError.self) { try a.u32() }
        #expect(throws: NetlinkError.self) { try a.ipAddress() }
        #expect(a.macAddress() == nil)
    }

    @Test("NLMSG_ERROR with extended ACK message and offset")
    func extendedAck() throws {
        var e = AttributeEncoder()
        e.appendRaw(AttributeEncoder.hostBytes(Int32(-17)))  // -EEXIST
        // Original header echoed (capped: header only): len 56, type 16, flags, seq 9, pid 0.
        e.appendRaw(AttributeEncoder.hostBytes(UInt32(56)) + [16, 0, 5, 6, 9, 0, 0, 0, 0, 0, 0, 0])
        e.string(NLMSGERR.msg, "File exists")
        e.u32(NLMSGERR.offs, 32)
        let msg = NetlinkMessage(type: MsgType.error, flags: [.capped, .ackTLVs], sequence: 9, portID: 0, payload: e.bytes)
        let p = try ErrorPayload(msg)
        #expect(p.error == -17)
        #expect(p.message == "File exists")
        #expect(p.offset == 32)

        // Uncapped: the original payload (40 bytes) precedes the TLVs.
        var u = AttributeEncoder()
        u.appendRaw(AttributeEncoder.hostBytes(Int32(-22)))
        u.appendRaw(AttributeEncoder.hostBytes(UInt32(56)) + [16, 0, 5, 6, 9, 0, 0, 0, 0, 0, 0, 0])
        u.appendRaw([UInt8](repeating: 0xee, count: 40))
        u.string(NLMSGERR.msg, "bad thing")
        let m2 = NetlinkMessage(type: MsgType.error, flags: [.ackTLVs], sequence: 9, portID: 0, payload: u.bytes)
        #expect(try ErrorPayload(m2).message == "bad thing")
    }

    @Test("NetlinkError description names the request, errno text and extack")
    func errorText() {
        let e = NetlinkError(errno: 17, request: "RTM_NEWLINK veth nf-abc", extAckMessage: "peer exists")
        #expect(e.description.contains("RTM_NEWLINK veth nf-abc"))
        #expect(e.description.contains("File exists"))
        #expect(e.description.contains("peer exists"))
    }

    @Test("decoded addresses, routes and neighbours from encoded requests round-trip")
    func roundTrips() throws {
        let addr = try NetlinkRequest.newAddress(NewAddress(index: 3, address: IPAddress("fd00::5")!, prefixLength: 64, noDAD: true))
        let a = try InterfaceAddress(payload: addr.payload)
        #expect(a.address == IPAddress("fd00::5"))
        #expect(a.prefixLength == 64)
        #expect(a.flags & IFA.noDAD != 0)
        #expect(a.index == 3)

        let route = NetlinkRequest.newRoute(RouteSpec(destination: IPNetwork("10.1.0.0/16")!, gateway: IPAddress("10.0.0.1"),
                                                     table: 1000, protocol: 77))
        let r = try Route(payload: route.payload)
        #expect(r.destination == IPNetwork("10.1.0.0/16"))
        #expect(r.gateway == IPAddress("10.0.0.1"))
        #expect(r.table == 1000)
        #expect(r.protocol == 77)

        let fdb = NetlinkRequest.newFDB(FDBSpec(index: 9, mac: MACAddress("02:42:ac:11:00:02")!, destination: IPAddress("192.0.2.7")))
        let n = try Neighbour(payload: fdb.payload)
        #expect(n.family == .bridge)
        #expect(n.flags.contains(.self))
        #expect(n.state == .permanent)
        #expect(n.destination == IPAddress("192.0.2.7"))
        #expect(n.mac == MACAddress("02:42:ac:11:00:02"))
    }
}
