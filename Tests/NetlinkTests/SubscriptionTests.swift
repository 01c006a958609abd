import Addressing
import Glibc
import Synchronization
import Testing
@testable import Netlink

/// Event decoding and the subscription's reader and buffer, on `FakeNetlinkTransport`
/// (pure: no root). The notifications are built field by field here, not with
/// `NetlinkMessage.notification` (which is checked against them).
@Suite("Subscriptions: decoding and the reader on a fake", .timeLimit(.minutes(1)))
struct SubscriptionTests {
    // MARK: - Notifications as the kernel sends them

    static func linkMessage(_ type: UInt16, index: Int32, name: String?) -> NetlinkMessage {
        var e = AttributeEncoder()
        e.appendRaw(IfInfoMsg(family: 0, type: 1, index: index, flags: 0x1043, change: 0).bytes)
        e.u32(IFLA.mtu, 1500)
        if let name { e.string(IFLA.ifname, name) }
        e.nested(IFLA.linkinfo) { $0.string(IFLA.infoKind, "bridge") }
        return NetlinkMessage(type: type, flags: [], sequence: 0, portID: 0, payload: e.bytes)
    }

    static func addressMessage(_ type: UInt16, index: UInt32) -> NetlinkMessage {
        var e = AttributeEncoder()
        e.appendRaw(IfAddrMsg(family: AddressFamily.inet6.rawValue, prefixLength: 64, flags: 0, scope: 0, index: index).bytes)
        e.address(IFA.address, .v6(IPv6Address("2001:db8::1")!))
        return NetlinkMessage(type: type, flags: [], sequence: 7, portID: 1234, payload: e.bytes)
    }

    static func routeMessage(_ type: UInt16, oif: Int32?) -> NetlinkMessage {
        var rt = RtMsg()
        rt.family = AddressFamily.inet.rawValue
        rt.dstLength = 24
        rt.table = 254
        var e = AttributeEncoder()
        e.appendRaw(rt.bytes)
        e.u32(RTA.table, 254)
        e.address(RTA.dst, .v4(IPv4Address("192.0.2.0")!))
        if let oif { e.i32(RTA.oif, oif) }
        return NetlinkMessage(type: type, flags: [], sequence: 0, portID: 0, payload: e.bytes)
    }

    static func neighbourMessage(_ type: UInt16, family: AddressFamily, index: Int32) -> NetlinkMessage {
        var e = AttributeEncoder()
        e.appendRaw(NdMsg(family: family.rawValue, index: index, state: 0x80, flags: 0, type: 0).bytes)
        e.mac(NDA.lladdr, MACAddress("02:00:00:00:00:01")!)
        return NetlinkMessage(type: type, flags: [], sequence: 0, portID: 0, payload: e.bytes)
    }

    @Test("what the kernel maintains by itself is marked, what someone configured is not")
    func kernelMaintained() {
        func marked(_ m: NetlinkMessage) -> Bool? { NetlinkEvent.decode(m)?.isKernelMaintained }
        func neighbour(family: AddressFamily, state: UInt16) -> NetlinkMessage {
            var e = AttributeEncoder()
            e.appendRaw(NdMsg(family: family.rawValue, index: 3, state: state, flags: 0, type: 0).bytes)
            return NetlinkMessage(type: MsgType.newNeigh, flags: [], sequence: 0, portID: 0, payload: e.bytes)
        }
        #expect(marked(neighbour(family: .inet, state: 0x80)) == false)  // permanent: netform's static entries
        #expect(marked(neighbour(family: .bridge, state: 0x80)) == false) // a static FDB entry
        #expect(marked(neighbour(family: .inet, state: 0x02)) == true)   // reachable (ARP)
        #expect(marked(neighbour(family: .inet, state: 0x04)) == true)   // stale
        #expect(marked(neighbour(family: .inet6, state: 0x40)) == true)  // NOARP: a multicast group's entry
        #expect(marked(neighbour(family: .bridge, state: 0x02)) == true) // a learned FDB entry
        func address(family: AddressFamily, scope: UInt8) -> NetlinkMessage {
            var e = AttributeEncoder()
            e.appendRaw(IfAddrMsg(family: family.rawValue, prefixLength: 64, flags: 0, scope: scope, index: 3).bytes)
            return NetlinkMessage(type: MsgType.newAddr, flags: [], sequence: 0, portID: 0, payload: e.bytes)
        }
        #expect(marked(address(family: .inet6, scope: 253)) == true)   // fe80::/64
        #expect(marked(address(family: .inet6, scope: 0)) == false)    // a global address
        #expect(marked(address(family: .inet, scope: 0)) == false)
        func route(protocol p: UInt8, table: UInt8) -> NetlinkMessage {
            var rt = RtMsg()
            rt.family = AddressFamily.inet.rawValue
            rt.protocol = p
            rt.table = table
            var e = AttributeEncoder()
            e.appendRaw(rt.bytes)
            return NetlinkMessage(type: MsgType.newRoute, flags: [], sequence: 0, portID: 0, payload: e.bytes)
        }
        #expect(marked(route(protocol: 2, table: 254)) == true)   // made from an address
        #expect(marked(route(protocol: 9, table: 254)) == true)   // router advertisement
        #expect(marked(route(protocol: 3, table: 255)) == true)   // the local table
        #expect(marked(route(protocol: 3, table: 254)) == false)  // boot: how netform's routes are made
        #expect(marked(route(protocol: 4, table: 254)) == false)  // static: a user's
        var inet6Link = AttributeEncoder()
        inet6Link.appendRaw(IfInfoMsg(family: AddressFamily.inet6.rawValue, type: 1, index: 3, flags: 0, change: 0).bytes)
        #expect(marked(NetlinkMessage(type: MsgType.newLink, flags: [], sequence: 0, portID: 0, payload: inet6Link.bytes)) == true)
        #expect(marked(Self.linkMessage(MsgType.newLink, index: 4, name: "br0")) == false)
    }

    @Test("link, address, route and neighbour notifications decode to their kind, deletion and interface")
    func decoding() {
        #expect(NetlinkEvent.decode(Self.linkMessage(MsgType.newLink, index: 4, name: "br0"))
            == NetlinkEvent(kind: .link, isDeletion: false, interfaceIndex: 4, interfaceName: "br0"))
        #expect(NetlinkEvent.decode(Self.linkMessage(MsgType.delLink, index: 4, name: "br0"))
            == NetlinkEvent(kind: .link, isDeletion: true, interfaceIndex: 4, interfaceName: "br0"))
        #expect(NetlinkEvent.decode(Self.addressMessage(MsgType.newAddr, index: 12))
            == NetlinkEvent(kind: .address, isDeletion: false, interfaceIndex: 12))
        #expect(NetlinkEvent.decode(Self.addressMessage(MsgType.delAddr, index: 12))
            == NetlinkEvent(kind: .address, isDeletion: true, interfaceIndex: 12))
        #expect(NetlinkEvent.decode(Self.routeMessage(MsgType.newRoute, oif: 5))
            == NetlinkEvent(kind: .route, isDeletion: false, interfaceIndex: 5))
        #expect(NetlinkEvent.decode(Self.routeMessage(MsgType.delRoute, oif: nil))
            == NetlinkEvent(kind: .route, isDeletion: true, interfaceIndex: nil))
        #expect(NetlinkEvent.decode(Self.neighbourMessage(MsgType.newNeigh, family: .inet, index: 6))
            == NetlinkEvent(kind: .neighbour, isDeletion: false, interfaceIndex: 6))
        // An FDB entry is an AF_BRIDGE neighbour.
        #expect(NetlinkEvent.decode(Self.neighbourMessage(MsgType.delNeigh, family: .bridge, index: 7))
            == NetlinkEvent(kind: .neighbour, isDeletion: true, interfaceIndex: 7))
    }

    @Test("control, unknown and cut-short messages are skipped; unreadable attributes leave the event without them")
    func robustDecoding() {
        let control = [MsgType.noop, MsgType.done, MsgType.error, 0xfff0, MsgType.getLink]
        for type in control {
            #expect(NetlinkEvent.decode(NetlinkMessage(type: type, flags: [], sequence: 0, portID: 0, payload: [0, 0, 0, 0])) == nil)
        }
        // An ifinfomsg of 10 bytes instead of 16.
        let short = NetlinkMessage(type: MsgType.newLink, flags: [], sequence: 0, portID: 0, payload: Array(repeating: 0, count: 10))
        #expect(NetlinkEvent.decode(short) == nil)
        // An attribute whose length runs past the end: still a change of link 4.
        var broken = Self.linkMessage(MsgType.newLink, index: 4, name: "br0")
        broken.payload += [0xff, 0x00, 0x03, 0x00]
        #expect(NetlinkEvent.decode(broken) == NetlinkEvent(kind: .link, interfaceIndex: 4, interfaceName: nil))
        let overrun = NetlinkMessage(type: MsgType.overrun, flags: [], sequence: 0, portID: 0, payload: [])
        #expect(NetlinkEvent.decode(overrun)?.isOverrun == true)
    }

    @Test("a datagram is decoded message by message, keeping the kinds asked for")
    func datagramDecoding() {
        let datagram = [Self.linkMessage(MsgType.newLink, index: 1, name: "a"),
                        NetlinkMessage(type: 0xfff0, flags: [], sequence: 0, portID: 0, payload: [1, 2, 3]),
                        Self.addressMessage(MsgType.newAddr, index: 1),
                        Self.routeMessage(MsgType.newRoute, oif: 1)].flatMap(\.bytes)
        #expect(NetlinkEvent.decode(datagram: datagram, kinds: Set(NetlinkEvent.Kind.allCases)).map(\.kind)
            == [.link, .address, .route])
        #expect(NetlinkEvent.decode(datagram: datagram, kinds: [.route, .link]).map(\.kind) == [.link, .route])
        #expect(NetlinkEvent.decode(datagram: datagram, kinds: [.neighbour]).isEmpty)
    }

    @Test("a datagram whose framing breaks yields the events before the break, then an overrun")
    func brokenFraming() {
        var datagram = Self.linkMessage(MsgType.newLink, index: 1, name: "a").bytes
        // A header claiming 200 bytes, with 20 left.
        datagram += AttributeEncoder.hostBytes(UInt32(200)) + AttributeEncoder.hostBytes(MsgType.newLink)
            + Array(repeating: 0, count: 14)
        let events = NetlinkEvent.decode(datagram: datagram, kinds: Set(NetlinkEvent.Kind.allCases))
        #expect(events == [NetlinkEvent(kind: .link, interfaceIndex: 1, interfaceName: "a"), .overrun])
    }

    @Test("the multicast groups joined are the ones of the kinds asked for")
    func groups() {
        // RTNLGRP_LINK 1, _NEIGH 3, _IPV4_IFADDR 5, _IPV4_ROUTE 7, _IPV6_IFADDR 9, _IPV6_ROUTE 11 (linux/rtnetlink.h).
        #expect(NetlinkEvent.groups(for: [.link]) == [1])
        #expect(Set(NetlinkEvent.groups(for: [.address, .route])) == [5, 7, 9, 11])
        #expect(Set(NetlinkEvent.groups(for: Set(NetlinkEvent.Kind.allCases))) == [1, 3, 5, 7, 9, 11])
    }

    @Test("NetlinkMessage.notification builds what the kernel sends, for scripting consumers' tests")
    func notificationsRoundTrip() {
        let events = [NetlinkEvent(kind: .link, interfaceIndex: 3, interfaceName: "veth0"),
                      NetlinkEvent(kind: .link, isDeletion: true, interfaceIndex: 3, interfaceName: "veth0"),
                      NetlinkEvent(kind: .address, interfaceIndex: 3),
                      NetlinkEvent(kind: .route, isDeletion: true, interfaceIndex: 2),
                      NetlinkEvent(kind: .route),
                      NetlinkEvent(kind: .neighbour, interfaceIndex: 9),
                      .overrun]
        #expect(events.map { NetlinkEvent.decode(.notification($0)) } == events)
        // Field for field what the kernel's own layout gives.
        #expect(NetlinkMessage.notification(events[0]).payload.prefix(IfInfoMsg.size).elementsEqual(IfInfoMsg(index: 3).bytes))
    }

    // MARK: - The reader and its buffer

    @Test("events arrive in order; ENOBUFS becomes one overrun event and reading goes on")
    func readerOrderAndOverrun() async throws {
        let fake = FakeNetlinkTransport(whenEmpty: .wait)
        let sub = try NetlinkSubscription(transport: fake)
        fake.deliver([.messages([Self.linkMessage(MsgType.newLink, index: 4, name: "br0"),
                                 Self.addressMessage(MsgType.newAddr, index: 4)]),
                      .failure(errno: EINTR),
                      .failure(errno: ENOBUFS),
                      .messages([Self.routeMessage(MsgType.delRoute, oif: 4)]),
                      // Not from the kernel: ignored.
                      .messages([Self.linkMessage(MsgType.delLink, index: 4, name: "br0")], from: 999),
                      .messages([Self.neighbourMessage(MsgType.newNeigh, family: .bridge, index: 4)])])
        #expect(await waitUntil { fake.isWaiting })
        #expect(sub.error == nil)
        sub.cancel()
        #expect(fake.isClosed)
        var got: [NetlinkEvent] = []
        for await e in sub { got.append(e) }
        #expect(got == [NetlinkEvent(kind: .link, interfaceIndex: 4, interfaceName: "br0"),
                        NetlinkEvent(kind: .address, interfaceIndex: 4),
                        .overrun,
                        NetlinkEvent(kind: .route, isDeletion: true, interfaceIndex: 4),
                        NetlinkEvent(kind: .neighbour, interfaceIndex: 4)])
    }

    @Test("kinds not asked for are not delivered")
    func readerKinds() async throws {
        let fake = FakeNetlinkTransport(whenEmpty: .wait)
        let sub = try NetlinkSubscription(transport: fake, kinds: [.neighbour])
        fake.deliver([.messages([Self.linkMessage(MsgType.newLink, index: 4, name: "br0"),
                                 Self.neighbourMessage(MsgType.newNeigh, family: .inet, index: 4)])])
        #expect(await waitUntil { fake.isWaiting })
        sub.cancel()
        var events: [NetlinkEvent] = []
        for await e in sub { events.append(e) }
        #expect(events == [NetlinkEvent(kind: .neighbour, interfaceIndex: 4)])
    }

    @Test("a consumer that falls behind gets an overrun instead of a silent drop, in bounded memory")
    func consumerOverflow() async throws {
        let fake = FakeNetlinkTransport(whenEmpty: .wait)
        let sub = try NetlinkSubscription(transport: fake, bufferLimit: 4)
        fake.deliver((1...10).map { .messages([Self.linkMessage(MsgType.newLink, index: Int32($0), name: "l\($0)")]) })
        #expect(await waitUntil { fake.isWaiting })
        sub.cancel()
        var events: [NetlinkEvent] = []
        for await e in sub { events.append(e) }
        #expect(events.count <= 4)
        #expect(events.first == .overrun)
        // The newest change is not lost.
        #expect(events.last == NetlinkEvent(kind: .link, interfaceIndex: 10, interfaceName: "l10"))
    }

    @Test("a buffer that never overflows delivers everything")
    func noOverflow() async throws {
        let fake = FakeNetlinkTransport(whenEmpty: .wait)
        let sub = try NetlinkSubscription(transport: fake, bufferLimit: 10)
        fake.deliver((1...10).map { .messages([Self.linkMessage(MsgType.newLink, index: Int32($0), name: "l\($0)")]) })
        #expect(await waitUntil { fake.isWaiting })
        sub.cancel()
        var indexes: [Int32] = []
        for await e in sub { indexes.append(e.interfaceIndex ?? -1) }
        #expect(indexes == Array(1...10))
    }

    @Test("cancel() ends a consumer that is waiting, and closes the transport")
    func cancelWakesConsumer() async throws {
        let fake = FakeNetlinkTransport(whenEmpty: .wait)
        let sub = try NetlinkSubscription(transport: fake)
        let consumer = Task {
            var n = 0
            for await _ in sub { n += 1 }
            return n
        }
        fake.deliver([.messages([Self.linkMessage(MsgType.newLink, index: 1, name: "a")])])
        #expect(await waitUntil { fake.isWaiting })
        sub.cancel()
        #expect(fake.isClosed)
        #expect(await consumer.value == 1)
        #expect(sub.error == nil)
    }

    @Test("cancelling the consuming task ends the sequence and stops the reader")
    func taskCancellation() async throws {
        let fake = FakeNetlinkTransport(whenEmpty: .wait)
        let sub = try NetlinkSubscription(transport: fake)
        let consumer = Task {
            for await _ in sub {}
        }
        #expect(await waitUntil { fake.isWaiting })
        consumer.cancel()
        await consumer.value
        #expect(await waitUntil { fake.isClosed })
    }

    @Test("a socket that fails ends the sequence, and error says why")
    func readerFailure() async throws {
        let fake = FakeNetlinkTransport(whenEmpty: .wait)
        let sub = try NetlinkSubscription(transport: fake)
        fake.deliver([.messages([Self.linkMessage(MsgType.newLink, index: 1, name: "a")]), .failure(errno: EIO)])
        var events: [NetlinkEvent] = []
        for await e in sub { events.append(e) }
        #expect(events.map(\.interfaceName) == ["a"])
        #expect(sub.error?.errno == EIO)
        #expect(fake.isClosed)
    }

    @Test("subscribing to no kind at all is refused")
    func noKinds() {
        #expect(throws: NetlinkError.self) { try NetlinkSubscription.open(in: nil, kinds: []) }
    }
}

/// Polls `condition` until it holds or `seconds` pass.
func waitUntil(within seconds: Double = 20, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while !condition() {
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return true
}
