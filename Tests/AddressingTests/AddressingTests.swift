import Testing
@testable import Addressing

@Suite struct IPv4Tests {
    @Test(arguments: ["172.17.0.1", "0.0.0.0", "255.255.255.255", "10.1.2.3"])
    func roundTrips(_ text: String) {
        #expect(IPv4Address(text)?.description == text)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1..2.3", "1.2.3.4 ", "a.b.c.d", "1.2.3.-4"])
    func refusesMalformed(_ text: String) {
        #expect(IPv4Address(text) == nil)
    }
}

@Suite struct IPv6Tests {
    @Test(arguments: [
        ("2001:db8::1", "2001:db8::1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("::", "::"),
        ("::1", "::1"),
        ("fe80::", "fe80::"),
        ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
        ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
        ("::ffff:1.2.3.4", "::ffff:102:304"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("1:2:3:4:5:6:0:8", "1:2:3:4:5:6:0:8"),
    ])
    func canonicalText(_ input: String, _ expected: String) {
        #expect(IPv6Address(input)?.description == expected)
    }

    @Test(arguments: ["", ":", ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "g::1", "fe80::1%eth0", "1:2:3:4:5:6:7::8:9"])
    func refusesMalformed(_ text: String) {
        #expect(IPv6Address(text) == nil)
    }

    @Test func bytesRoundTrip() {
        let a = IPv6Address("2001:db8:1:2:3:4:5:6")!
        #expect(IPv6Address(bytes: a.bytes) == a)
        #expect(a.bytes.count == 16)
        #expect(a.bytes[0] == 0x20 && a.bytes[1] == 0x01 && a.bytes[15] == 6)
    }
}

@Suite struct IPNetworkTests {
    @Test func parsesAndComputesBounds() throws {
        let n = try #require(IPNetwork("172.17.0.0/16"))
        #expect(n.address(at: 1) == IPAddress("172.17.0.1"))
        #expect(n.last == IPAddress("172.17.255.255"))
        #expect(n.address(at: 65536) == nil)
        #expect(n.size == 65536)
        #expect(n.contains(IPAddress("172.17.3.4")!))
        #expect(!n.contains(IPAddress("172.18.0.1")!))
        #expect(n.offset(of: IPAddress("172.17.1.2")!) == 258)
    }

    @Test func hostBitsAreRefusedWithSuggestion() {
        #expect(IPNetwork.parse("172.17.0.1/16") == .failure(.hostBitsSet(suggestion: IPNetwork("172.17.0.0/16")!)))
        #expect(IPNetwork.parse("172.17.0.0") == .failure(.missingPrefix))
        #expect(IPNetwork.parse("172.17.0.0/33") == .failure(.badPrefix("33", max: 32)))
        #expect(IPNetwork.parse("172.17.0.0/+3") == .failure(.badPrefix("+3", max: 32)))
        #expect(IPNetwork.parse("foo/3") == .failure(.badAddress("foo")))
    }

    @Test func overlap() {
        let a = IPNetwork("10.0.0.0/8")!
        let b = IPNetwork("10.1.0.0/16")!
        let c = IPNetwork("11.0.0.0/16")!
        #expect(a.overlaps(b) && b.overlaps(a))
        #expect(!a.overlaps(c))
        #expect(!a.overlaps(IPNetwork("fd00::/8")!))
    }

    @Test func ipv6Arithmetic() throws {
        let n = try #require(IPNetwork("fd00:1::/64"))
        #expect(n.address(at: 1)?.description == "fd00:1::1")
        #expect(n.last.description == "fd00:1::ffff:ffff:ffff:ffff")
        let all = try #require(IPNetwork("::/0"))
        #expect(all.size == .max)
        #expect(all.last.description == "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
    }
}

@Suite struct MACTests {
    @Test func dockerDerivation() {
        #expect(MACAddress(derivedFrom: IPv4Address("172.17.0.2")!).description == "02:42:ac:11:00:02")
    }

    @Test func parsing() {
        #expect(MACAddress("02:42:AC:11:00:02")?.description == "02:42:ac:11:00:02")
        #expect(MACAddress("02-42-ac-11-00-02")?.description == "02:42:ac:11:00:02")
        #expect(MACAddress("02:42:ac:11:00") == nil)
        #expect(MACAddress("02:42:ac:11:00:0g") == nil)
        #expect(MACAddress("01:00:5e:00:00:01")?.isMulticast == true)
    }
}
