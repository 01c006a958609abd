import Addressing
import Model
@testable import Netlink
@testable import Observe
import Testing

/// IFA_PROTO goes out in the request that adds an address, and both decoders (the
/// typed one and Observe's lean record) read it back; absent, it is 0 (`ip addr add`).
@Suite struct AddressProtocolOnTheWire {
    @Test func theMarkRoundTripsThroughBothDecoders() throws {
        let marked = try NetlinkRequest.newAddress(NewAddress(index: 7, address: IPAddress("172.17.0.2")!, prefixLength: 16,
                                                              proto: netformAddressProtocol)).payload
        let plain = try NetlinkRequest.newAddress(NewAddress(index: 7, address: IPAddress("fd00::2")!, prefixLength: 64, noDAD: true)).payload
        #expect(try InterfaceAddress(payload: marked).proto == 78)
        #expect(try InterfaceAddress(payload: plain).proto == nil)
        #expect(AddressRecord(payload: marked)?.proto == 78)
        #expect(AddressRecord(payload: plain)?.proto == 0)
        var d = NamespaceDump()
        d.links = []
        d.addresses = [AddressRecord(payload: marked)!, AddressRecord(payload: plain)!]
        #expect(ObservedMapping.namespace(.host, d).state.addresses.map(\.proto) == [78, 0])
    }
}

/// `network inspect` shows a network's and a container's addresses from the kernel:
/// addresses someone added by hand on a container's eth0 or on a netform bridge
/// (no IFA_PROTO mark) are not its IPAM nor its IPv4Address (issue 8, item 3).
@Suite struct ForeignAddressesInTheInventory {
    @Test func onlyNetformsAddressesAreTheNetworksAndTheContainers() throws {
        let mark = OwnerMark.endpoint("seed", container: "container1", network: "bridge").alias
        let ref = NamespaceRef.named("seed.container1")
        var host = NamespaceState(ref: .host, links: [
            LinkState(name: "lo", kind: .loopback, mtu: 65536),
            LinkState(name: "docker0", kind: .bridge, alias: OwnerMark.network("seed", "bridge").alias),
            LinkState(name: "nfv1", kind: .veth(peer: VethPeerRef(namespace: ref, name: "eth0")), master: "docker0", alias: mark),
        ])
        host.addresses = [
            AddressState(link: "docker0", address: IPAddress("172.17.250.1")!, prefixLength: 16, proto: 0),
            AddressState(link: "docker0", address: IPAddress("172.17.0.1")!, prefixLength: 16),
        ]
        let owner = OwnerMark.container("seed", "container1")
        var c1 = NamespaceState(ref: ref, owner: owner, links: [
            LinkState(name: "lo", kind: .loopback, mtu: 65536, alias: owner.alias),
            LinkState(name: "eth0", kind: .veth(peer: VethPeerRef(namespace: .host, name: "nfv1")), mac: MACAddress("02:42:ac:11:00:02"), alias: mark),
        ])
        c1.addresses = [
            AddressState(link: "eth0", address: IPAddress("172.17.99.9")!, prefixLength: 16, proto: 0),
            AddressState(link: "eth0", address: IPAddress("172.17.0.2")!, prefixLength: 16),
        ]
        let records = NetworkInventory.records(of: HostState(namespaces: [.host: host, ref: c1]))
        let bridge = try #require(records.first { $0.name == "bridge" })
        #expect(bridge.ipam.map(\.gateway) == ["172.17.0.1"])
        #expect(bridge.containers.map(\.ipv4Address) == ["172.17.0.2/16"])
    }
}
