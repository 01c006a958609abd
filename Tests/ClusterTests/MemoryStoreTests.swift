import Cluster
import Testing

/// The embedded store behaves as etcd does for what netform relies on.
@Suite struct MemoryStoreSemantics {
    @Test func createIfAbsentAndTransactions() throws {
        let s = MemoryStore()
        #expect(try s.create("/a", [1], lease: nil))
        #expect(try !s.create("/a", [2], lease: nil), "the second claim loses")
        #expect(try s.get("/a")?.value == [1])
        #expect(try s.createAll([("/b", [1]), ("/a", [3])], lease: nil) == ["/a"])
        #expect(try s.get("/b") == nil, "all or nothing")
        #expect(try s.createAll([("/b", [1]), ("/c", [1])], lease: nil).isEmpty)
        #expect(try s.list(prefix: "/").entries.map(\.key) == ["/a", "/b", "/c"])
        try s.delete("/a")
        try s.delete("/a")   // gone already: done
        #expect(try s.get("/a") == nil)
    }

    @Test func leasesExpireAndTakeTheirKeys() throws {
        let s = MemoryStore()
        let l = try s.grantLease(ttl: 10)
        try s.put("/host/n1", Array("x".utf8), lease: l)
        s.advance(seconds: 6)
        #expect(try s.keepAlive(l) == 10)
        s.advance(seconds: 6)
        #expect(try s.get("/host/n1") != nil, "renewed")
        s.advance(seconds: 11)
        #expect(try s.get("/host/n1") == nil, "expired with its lease")
        #expect(throws: StoreError.self) { try s.keepAlive(l) }
        #expect(throws: StoreError.self) { try s.put("/x", [], lease: l) }
    }
}
