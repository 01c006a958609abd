import Model
import Observe
import Testing

// Ids users depend on (`network ls`, `network inspect`, scripts that saved them),
// pinned to literal values: a change to the id derivation is a breaking change
// and must fail here, whatever netform's own id functions now compute.
@Suite struct PinnedIDs {
    @Test func networkIDsOfTheSeedAndTheBuiltIns() {
        #expect(NetworkInventory.networkID(project: "seed", network: "bridge") == "5305e86c2df5eb6ab20474e9828cb718eee85399c887d74a38a0e9f9f9516974")
        #expect(NetworkInventory.networkID(project: "seed", network: "aislada") == "a0cfaafd7ec500b148450be4a92a77fbdc3c17482ded568287f8e381fd4674ed")
        #expect(NetworkInventory.networkID(project: nil, network: "host") == "8b79f663c2a98dbc064e6cc0994f9e7186ed55c8c1371b8982f03fc5892ccabe")
        #expect(NetworkInventory.networkID(project: nil, network: "none") == "58c422df18e115cc65b73546bdcd5bf1c11852e06f883e544832ba83deaa4c11")
    }

    @Test func containerAndEndpointIDsOfTheSeed() {
        #expect(NetworkInventory.containerID(project: "seed", container: "container1") == "c9e1987ed1b704885408b018a99eaa1800d79f5ab624108c61a066490545e1ed")
        #expect(NetworkInventory.containerID(project: "seed", container: "container2") == "5d610808598100da29cce252509a30154aac2b10ecfed714a3ec140f155d43fd")
        #expect(NetworkInventory.containerID(project: "seed", container: "container3") == "80d29670f4eb323b38990e8489c139578ed7fa99cf23f55af20d5745584dd701")
        #expect(NetworkInventory.endpointID(project: "seed", container: "container1", network: "bridge") == "5b37575edf77ded36a01a740be4fe8ef3597db1ee7d28c8a41de94c58d44b318")
        #expect(NetworkInventory.endpointID(project: "seed", container: "container2", network: "bridge") == "91753b6cb4203246f76712429c624b18ca0c5ca162c3add2831051c1b583e39f")
        #expect(NetworkInventory.endpointID(project: "seed", container: "container3", network: "aislada") == "f79f5c91d53fe15a00fabd198d8f9e9b9998500b4474711db4564687814653fd")
    }

    @Test func theLsTableShowsTheFirst12Digits() {
        var host = NamespaceState(ref: .host, links: [LinkState(name: "lo", kind: .loopback, mtu: 65536)])
        host.links.append(LinkState(name: "docker0", kind: .bridge, alias: OwnerMark.network("seed", "bridge").alias))
        let table = NetworkInventory.table(NetworkInventory.records(of: HostState(namespaces: [.host: host])))
        #expect(table == """
        NETWORK ID     NAME      DRIVER    SCOPE
        5305e86c2df5   bridge    bridge    local
        8b79f663c2a9   host      host      local
        58c422df18e1   none      null      local

        """)
    }
}
