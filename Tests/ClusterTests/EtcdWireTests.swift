import Cluster
import Model
import Testing

/// The gateway's JSON, both ways, against answers captured from etcd 3.4.23.
@Suite struct EtcdWireTests {
    private func json(_ text: String) throws -> JSONValue { try JSONValue.parse(text) }

    @Test func requestsAreBase64WithInt64AsStrings() {
        #expect(EtcdWire.get("a").rendered == #"{"key":"YQ=="}"#)
        #expect(EtcdWire.put("a", [0xff, 0], lease: LeaseID(4111120374397220362)).rendered
                == #"{"key":"YQ==","lease":"4111120374397220362","value":"/wA="}"#)
        #expect(EtcdWire.put("a", [], lease: nil).rendered == #"{"key":"YQ==","value":""}"#)
        #expect(EtcdWire.grant(ttl: 10).rendered == #"{"TTL":"10"}"#)
        #expect(EtcdWire.lease(LeaseID(-5)).rendered == #"{"ID":"-5"}"#)
        #expect(EtcdWire.authenticate(user: "alice", password: "p\"w").rendered == #"{"name":"alice","password":"p\"w"}"#)
    }

    @Test func prefixRangeEnd() {
        #expect(EtcdWire.prefixEnd(Array("/a/".utf8)) == Array("/a0".utf8))
        #expect(EtcdWire.prefixEnd([0x61, 0xff, 0xff]) == [0x62])
        #expect(EtcdWire.prefixEnd([0xff]) == [0], "no end: every key from the start")
        #expect(EtcdWire.prefixEnd([]) == [0])
        #expect(EtcdWire.list(prefix: "/nf/").rendered == #"{"key":"L25mLw==","range_end":"L25mMA=="}"#)
        #expect(EtcdWire.list(prefix: "").rendered == #"{"key":"AA==","range_end":"AA=="}"#)
    }

    @Test func createAllIsOneGuardedTxn() throws {
        let txn = EtcdWire.createAll([("a", [1]), ("b", [2])], lease: LeaseID(7))
        let compare = txn["compare"]?.arrayValue ?? []
        #expect(compare.count == 2)
        #expect(compare.first?.rendered == #"{"create_revision":"0","key":"YQ==","result":"EQUAL","target":"CREATE"}"#)
        #expect(txn["success"]?.arrayValue.last?.rendered == #"{"request_put":{"key":"Yg==","lease":"7","value":"Ag=="}}"#)
        #expect(txn["failure"]?.arrayValue.first?.rendered == #"{"request_range":{"count_only":true,"key":"YQ=="}}"#)
    }

    @Test func rangeAnswers() throws {
        let found = try json(#"""
            {"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"9","raft_term":"2"},
             "kvs":[{"key":"YQ==","create_revision":"2","mod_revision":"5","version":"2","value":"eA==","lease":"4111120374397220362"},
                    {"key":"Yg==","create_revision":"3","mod_revision":"3","version":"1"}],"count":"2"}
            """#)
        let (entries, revision) = try EtcdWire.decodeRange(found)
        #expect(revision == 9)
        #expect(entries == [
            StoreEntry(key: "a", value: Array("x".utf8), modRevision: 5, createRevision: 2, lease: LeaseID(4111120374397220362)),
            StoreEntry(key: "b", value: [], modRevision: 3, createRevision: 3, lease: nil),
        ], "an empty value and a zero lease are left out by etcd")
        let none = try EtcdWire.decodeRange(json(#"{"header":{"revision":"2","raft_term":"2"}}"#))
        #expect(none.entries.isEmpty && none.revision == 2, "no kvs key when nothing matched")
    }

    @Test func malformedAnswersAreInvalidNotEmpty() throws {
        for text in [#"{"header":{"revision":2.5}}"#, #"{"header":{"revision":"x"}}"#,
                     #"{"kvs":[{"value":"eA=="}]}"#, #"{"kvs":[{"key":"not base64!"}]}"#] {
            #expect(throws: StoreError.self, "\(text)") { try EtcdWire.decodeRange(EtcdWire.parse(text, from: "test")) }
        }
        do { _ = try EtcdWire.parse("<html>", from: "127.0.0.1:1") } catch { #expect(error.kind == .invalid) }
    }

    @Test func txnAnswers() throws {
        let won = try json(#"{"header":{"revision":"3"},"succeeded":true,"responses":[{"response_put":{"header":{"revision":"3"}}}]}"#)
        #expect(try EtcdWire.decodeCreateAll(won, keys: ["a"]).isEmpty)
        // A failed txn has no "succeeded"; a count of zero is left out too.
        let lost = try json(#"""
            {"header":{"revision":"4"},"responses":[{"response_range":{"header":{"revision":"4"}}},
             {"response_range":{"header":{"revision":"4"},"count":"1"}}]}
            """#)
        #expect(try EtcdWire.decodeCreateAll(lost, keys: ["a", "b"]) == ["b"])
        #expect(throws: StoreError.self, "a failure that counts no key is not a success") {
            try EtcdWire.decodeCreateAll(json(#"{"responses":[{"response_range":{}}]}"#), keys: ["a"])
        }
        #expect(throws: StoreError.self) { try EtcdWire.decodeCreateAll(json(#"{"responses":[]}"#), keys: ["a"]) }
    }

    @Test func leaseAnswers() throws {
        let grant = try EtcdWire.decodeGrant(json(#"{"header":{"revision":"3"},"ID":"4111120374397220362","TTL":"2"}"#))
        #expect(grant.lease == LeaseID(4111120374397220362) && grant.ttl == 2)
        let alive = try json(#"{"result":{"header":{"revision":"3"},"ID":"12","TTL":"10"}}"#)
        #expect(try EtcdWire.decodeKeepAlive(alive, lease: LeaseID(12)) == 10)
        let expired = try json(#"{"result":{"header":{"revision":"3"},"ID":"12"}}"#)
        do { _ = try EtcdWire.decodeKeepAlive(expired, lease: LeaseID(12)); Issue.record("expired lease renewed") } catch {
            #expect(error.kind == .notFound && error.message.contains("12"))
        }
        #expect(try EtcdWire.decodeToken(json(#"{"header":{},"token":"fvxkxAcnfXplzGSA.24"}"#)) == "fvxkxAcnfXplzGSA.24")
        #expect(throws: StoreError.self) { try EtcdWire.decodeToken(json(#"{"header":{}}"#)) }
    }

    /// Error bodies as etcd 3.4 sends them (with their HTTP statuses), by kind.
    @Test(arguments: [
        (#"{"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5}"#, 404, StoreError.Kind.notFound),
        (#"{"error":"etcdserver: authentication failed, invalid user ID or password","message":"etcdserver: authentication failed, invalid user ID or password","code":3}"#, 400, .unauthorized),
        (#"{"error":"etcdserver: user name is empty","message":"etcdserver: user name is empty","code":3}"#, 400, .unauthorized),
        (#"{"error":"etcdserver: permission denied","message":"etcdserver: permission denied","code":7}"#, 403, .unauthorized),
        (#"{"error":"etcdserver: invalid auth token","message":"etcdserver: invalid auth token","code":16}"#, 401, .unauthorized),
        (#"{"error":"etcdserver: authentication is not enabled","message":"etcdserver: authentication is not enabled","code":9}"#, 412, .unauthorized),
        (#"{"error":"etcdserver: key is not provided","message":"etcdserver: key is not provided","code":3}"#, 400, .invalid),
        (#"{"error":"etcdserver: request is too large","message":"etcdserver: request is too large","code":3}"#, 400, .invalid),
        (#"{"error":"etcdserver: no leader","message":"etcdserver: no leader","code":14}"#, 503, .unavailable),
        (#"{"error":"context deadline exceeded","message":"context deadline exceeded","code":4}"#, 504, .unavailable),
        (#"{"error":"something new","code":99}"#, 400, .invalid),
    ])
    func errorKinds(body: String, status: Int, kind: StoreError.Kind) throws {
        let error = EtcdWire.decodeError(try json(body), status: status)
        #expect(error.kind == kind)
        #expect(error.message.hasPrefix("etcd: "))
        #expect(!error.message.contains("{"), "the message, not the JSON: \(error.message)")
    }
}

/// The watch stream's lines as etcd 3.4 sends them.
@Suite struct EtcdWatchWireTests {
    @Test func watchRequestAndLines() throws {
        #expect(EtcdWire.watch(prefix: "/nf/", fromRevision: 12).rendered
                == #"{"create_request":{"key":"L25mLw==","range_end":"L25mMA==","start_revision":"12"}}"#)
        #expect(try EtcdWire.decodeWatchLine(JSONValue.parse(#"{"result":{"header":{"revision":"3"},"created":true}}"#)) == nil)
        let line = try JSONValue.parse(#"""
            {"result":{"header":{"revision":"5"},"events":[
              {"kv":{"key":"YQ==","create_revision":"4","mod_revision":"4","version":"1","value":"eA=="}},
              {"type":"DELETE","kv":{"key":"Yg==","mod_revision":"5"}}]}}
            """#)
        #expect(try EtcdWire.decodeWatchLine(line) == .changes([
            StoreChange(.put, key: "a", value: Array("x".utf8), revision: 4), StoreChange(.delete, key: "b", revision: 5),
        ]), "a put has no type: it is the zero value")
        let compacted = try JSONValue.parse(#"{"result":{"header":{"revision":"9"},"compact_revision":"7","canceled":true}}"#)
        #expect(try EtcdWire.decodeWatchLine(compacted) == .compacted(7))
        let denied = try JSONValue.parse(#"{"error":{"grpc_code":7,"http_code":403,"message":"etcdserver: permission denied","http_status":"Forbidden"}}"#)
        do { _ = try EtcdWire.decodeWatchLine(denied); Issue.record("an error line passed") } catch {
            #expect(error.kind == .unauthorized && error.message.contains("permission denied"))
        }
    }
}
