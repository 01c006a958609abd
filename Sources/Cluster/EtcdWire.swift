import Foundation
import Model

/// The JSON of etcd v3's gateway (`/v3/kv/*`, `/v3/lease/*`, `/v3/auth/*`), both
/// ways, without any I/O: what `EtcdStore` sends and how it reads the answers.
///
/// Why its own type: the gateway's encoding has traps a test must pin down without a
/// server — keys and values are base64, int64 fields (revisions, lease IDs, TTLs) are
/// JSON strings, and fields that are false, zero or empty are left out (a failed txn
/// has no `succeeded`, an absent key gives no `kvs`, an expired lease's keep-alive no
/// `TTL`). Errors are `{"error","message","code"}` with a gRPC code, whatever the HTTP
/// status (400, 401, 403, 404, 412 and 503 all occur).
public enum EtcdWire {
    // MARK: Requests

    /// `/v3/kv/range` for one key.
    public static func get(_ key: String) -> JSONValue {
        ["key": base64(key)]
    }

    /// `/v3/kv/range` for every key under `prefix` (sorted by key: etcd's default).
    public static func list(prefix: String) -> JSONValue {
        let start = Array(prefix.utf8)
        return ["key": .string(base64(start.isEmpty ? [0] : start)), "range_end": .string(base64(prefixEnd(start)))]
    }

    /// The `range_end` that makes a range a prefix: the prefix with its last byte
    /// below 0xff incremented (bytes after it dropped); `[0]` (every key) when there
    /// is none, as for the empty prefix.
    public static func prefixEnd(_ prefix: [UInt8]) -> [UInt8] {
        var end = prefix
        while let last = end.last {
            if last < 0xff {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return [0]
    }

    /// `/v3/kv/put`.
    public static func put(_ key: String, _ value: [UInt8], lease: LeaseID?) -> JSONValue {
        var body: [String: JSONValue] = ["key": base64(key), "value": .string(base64(value))]
        if let lease { body["lease"] = .string(String(lease.value)) }
        return .object(body)
    }

    /// `/v3/kv/txn`: every key must not exist (create_revision == 0); then all are
    /// put, else each key is counted, so the answer says which ones existed.
    public static func createAll(_ entries: [(key: String, value: [UInt8])], lease: LeaseID?) -> JSONValue {
        let compare: [JSONValue] = entries.map {
            ["key": base64($0.key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"]
        }
        let success: [JSONValue] = entries.map { ["request_put": put($0.key, $0.value, lease: lease)] }
        let failure: [JSONValue] = entries.map { ["request_range": ["key": base64($0.key), "count_only": true]] }
        return ["compare": .array(compare), "success": .array(success), "failure": .array(failure)]
    }

    /// `/v3/kv/txn` of a `StoreTransaction`: every key to create must not exist;
    /// then all are put and the deletes done, else each key to create is counted (as
    /// in `createAll`, so the answer says which ones existed).
    public static func commit(_ txn: StoreTransaction) -> JSONValue {
        let compare: [JSONValue] = txn.creates.map {
            ["key": base64($0.key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"]
        }
        let success: [JSONValue] = (txn.creates + txn.puts).map { ["request_put": put($0.key, Array($0.value.utf8), lease: nil)] }
            + txn.deletes.map { ["request_delete_range": delete($0)] }
        let failure: [JSONValue] = txn.creates.map { ["request_range": ["key": base64($0.key), "count_only": true]] }
        return ["compare": .array(compare), "success": .array(success), "failure": .array(failure)]
    }

    /// `/v3/kv/deleterange` for one key.
    public static func delete(_ key: String) -> JSONValue {
        ["key": base64(key)]
    }

    /// `/v3/kv/txn`: deletes `key` only while `guardKey` does not exist
    /// (create_revision == 0); nothing otherwise.
    public static func delete(_ key: String, unlessExists guardKey: String) -> JSONValue {
        ["compare": [["key": base64(guardKey), "target": "CREATE", "result": "EQUAL", "create_revision": "0"]],
         "success": [["request_delete_range": delete(key)]], "failure": []]
    }

    /// Whether a txn's compare held (etcd leaves out `succeeded` when false).
    public static func decodeSucceeded(_ body: JSONValue) -> Bool {
        body["succeeded"] == .bool(true)
    }

    /// `/v3/lease/grant`.
    public static func grant(ttl: Int) -> JSONValue {
        ["TTL": .string(String(ttl))]
    }

    /// `/v3/lease/keepalive` and `/v3/lease/revoke`.
    public static func lease(_ id: LeaseID) -> JSONValue {
        ["ID": .string(String(id.value))]
    }

    /// `/v3/auth/authenticate`.
    public static func authenticate(user: String, password: String) -> JSONValue {
        ["name": .string(user), "password": .string(password)]
    }

    // MARK: Responses

    /// The entries of a range answer and the store's revision (`header.revision`).
    public static func decodeRange(_ body: JSONValue) throws(StoreError) -> (entries: [StoreEntry], revision: Int64) {
        let revision = try int64(body["header"]?["revision"], "header.revision") ?? 0
        var entries: [StoreEntry] = []
        for kv in body["kvs"]?.arrayValue ?? [] {
            guard let key = try bytes(kv["key"], "kvs.key") else { throw malformed("a kv without key") }
            let lease = try int64(kv["lease"], "kvs.lease") ?? 0
            entries.append(StoreEntry(
                key: String(decoding: key, as: UTF8.self),
                value: try bytes(kv["value"], "kvs.value") ?? [],
                modRevision: try int64(kv["mod_revision"], "kvs.mod_revision") ?? 0,
                createRevision: try int64(kv["create_revision"], "kvs.create_revision") ?? 0,
                lease: lease == 0 ? nil : LeaseID(lease)))
        }
        return (entries, revision)
    }

    /// The keys of `keys` that existed when a `createAll` txn failed (empty when it
    /// succeeded).
    public static func decodeCreateAll(_ body: JSONValue, keys: [String]) throws(StoreError) -> [String] {
        if body["succeeded"] == .bool(true) { return [] }
        let responses = body["responses"]?.arrayValue ?? []
        guard responses.count == keys.count else {
            throw malformed("a failed txn answered \(responses.count) ranges for \(keys.count) keys")
        }
        var existing: [String] = []
        for (key, response) in zip(keys, responses) {
            guard let range = response["response_range"] else { throw malformed("a failed txn without response_range") }
            if (try int64(range["count"], "response_range.count") ?? 0) > 0 { existing.append(key) }
        }
        // The compare failed, so some key existed; a txn that failed with none counted
        // would be a create that silently lost.
        guard !existing.isEmpty else { throw malformed("a txn failed although none of its keys exists") }
        return existing
    }

    /// The lease a grant made and its TTL (etcd may raise a TTL to its minimum).
    public static func decodeGrant(_ body: JSONValue) throws(StoreError) -> (lease: LeaseID, ttl: Int) {
        if let error = body["error"]?.stringValue, !error.isEmpty { throw StoreError(.invalid, "lease grant refused: \(error)") }
        guard let id = try int64(body["ID"], "ID"), id != 0 else { throw malformed("a lease grant without ID") }
        return (LeaseID(id), Int(try int64(body["TTL"], "TTL") ?? 0))
    }

    /// The TTL a keep-alive renewed to. The answer is one message of a stream,
    /// wrapped in `result`; an expired or unknown lease comes back without `TTL`.
    public static func decodeKeepAlive(_ body: JSONValue, lease: LeaseID) throws(StoreError) -> Int {
        if let error = body["error"], error != .null { throw decodeError(error, status: 200) }
        let result = body["result"] ?? body
        let ttl = try int64(result["TTL"], "TTL") ?? 0
        guard ttl > 0 else { throw StoreError(.notFound, "etcd: lease \(lease) expired or unknown") }
        return Int(ttl)
    }

    /// The seconds a `/v3/lease/timetolive` answer says are left; nil for a lease
    /// that expired or never existed (etcd answers TTL -1, or leaves it out at 0).
    public static func decodeTimeToLive(_ body: JSONValue) throws(StoreError) -> Int? {
        let ttl = try int64(body["TTL"], "TTL") ?? 0
        return ttl > 0 ? Int(ttl) : nil
    }

    /// The token `/v3/auth/authenticate` answered.
    public static func decodeToken(_ body: JSONValue) throws(StoreError) -> String {
        guard let token = body["token"]?.stringValue, !token.isEmpty else { throw malformed("authenticate answered no token") }
        return token
    }

    /// gRPC status codes etcd puts in `code`.
    public enum Code: Int, Sendable {
        case cancelled = 1, unknown = 2, invalidArgument = 3, deadlineExceeded = 4, notFound = 5, alreadyExists = 6
        case permissionDenied = 7, resourceExhausted = 8, failedPrecondition = 9, aborted = 10, outOfRange = 11
        case unimplemented = 12, `internal` = 13, unavailable = 14, dataLoss = 15, unauthenticated = 16
    }

    /// An error answer (`{"error","message","code"}`, any HTTP status) as a
    /// `StoreError` of the right kind, and its gRPC code.
    public static func decodeError(_ body: JSONValue, status: Int) -> StoreError {
        let message = body["message"]?.stringValue ?? body["error"]?.stringValue ?? body.rendered
        let code = body["code"]?.intValue.flatMap(Code.init(rawValue:))
        return StoreError(kind(code: code, message: message, status: status), "etcd: \(message)" + (code.map { " (\($0))" } ?? ""))
    }

    /// The kind of a refusal. etcd reports a wrong password and a missing user name
    /// as invalid arguments: they are read from the message.
    public static func kind(code: Code?, message: String, status: Int) -> StoreError.Kind {
        switch code {
        case .notFound: return .notFound
        case .permissionDenied, .unauthenticated: return .unauthorized
        case .unavailable, .deadlineExceeded, .resourceExhausted, .aborted: return .unavailable
        case .invalidArgument, .failedPrecondition:
            let authMessages = ["authentication failed", "user name is empty", "authentication is not enabled",
                                "user name not found", "invalid auth token", "permission denied"]
            return authMessages.contains(where: message.contains) ? .unauthorized : .invalid
        case nil:
            switch status {
            case 401, 403: return .unauthorized
            case 404: return .notFound
            case 500...: return .unavailable
            default: return .invalid
            }
        default: return .invalid
        }
    }

    /// The gateway's JSON text as a value, or a `StoreError` naming the endpoint.
    public static func parse(_ text: String, from endpoint: String) throws(StoreError) -> JSONValue {
        do { return try JSONValue.parse(text) } catch {
            throw StoreError(.invalid, "etcd at \(endpoint) answered something that is not JSON: \(error)")
        }
    }

    // MARK: Fields

    static func base64(_ text: String) -> JSONValue { .string(base64(Array(text.utf8))) }
    static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    /// A base64 field (nil when left out).
    static func bytes(_ value: JSONValue?, _ field: String) throws(StoreError) -> [UInt8]? {
        guard let value, value != .null else { return nil }
        guard let text = value.stringValue, let data = Data(base64Encoded: text) else {
            throw malformed("\(field) is not base64: \(value.rendered.prefix(80))")
        }
        return Array(data)
    }

    /// An int64 field: a JSON string of digits (a bare number is accepted too); nil
    /// when left out (etcd omits zeros).
    static func int64(_ value: JSONValue?, _ field: String) throws(StoreError) -> Int64? {
        switch value {
        case nil, .null?: return nil
        case .string(let s)?:
            guard let n = Int64(s) else { throw malformed("\(field) is not an int64: \"\(s.prefix(40))\"") }
            return n
        case .int(let n)?: return Int64(n)
        case let other?: throw malformed("\(field) is not an int64: \(other.rendered.prefix(40))")
        }
    }

    static func malformed(_ what: String) -> StoreError { StoreError(.invalid, "etcd answered malformed JSON: \(what)") }
}

// MARK: Watch

extension EtcdWire {
    /// `/v3/watch`: a create request for every key under `prefix` from `revision` on.
    public static func watch(prefix: String, fromRevision revision: Int64) -> JSONValue {
        var request = list(prefix: prefix)
        if case .object(var members) = request {
            members["start_revision"] = .string(String(revision))
            request = .object(members)
        }
        return ["create_request": request]
    }

    /// One line of a watch stream: nil for messages that carry no change (the
    /// `created` confirmation, progress notifications). A stream error or a
    /// cancelled watch throws.
    public static func decodeWatchLine(_ line: JSONValue) throws(StoreError) -> WatchEvent? {
        if let error = line["error"], error != .null {
            // The gateway's stream errors: {"error":{"grpc_code","http_code","message"}}.
            let message = error["message"]?.stringValue ?? error.rendered
            let code = error["grpc_code"]?.intValue.flatMap(Code.init(rawValue:))
            throw StoreError(kind(code: code, message: message, status: error["http_code"]?.intValue ?? 500), "etcd watch: \(message)")
        }
        let result = line["result"] ?? line
        if let compacted = try int64(result["compact_revision"], "compact_revision"), compacted > 0 {
            return .compacted(compacted)
        }
        if result["canceled"] == .bool(true) {
            let reason = result["cancel_reason"]?.stringValue ?? "no reason given"
            throw StoreError(.invalid, "etcd cancelled the watch: \(reason)")
        }
        var changes: [StoreChange] = []
        for event in result["events"]?.arrayValue ?? [] {
            guard let kv = event["kv"], let key = try bytes(kv["key"], "events.kv.key") else { throw malformed("a watch event without kv.key") }
            let isDelete = event["type"]?.stringValue == "DELETE"
            changes.append(StoreChange(isDelete ? .delete : .put, key: String(decoding: key, as: UTF8.self),
                                       value: isDelete ? [] : (try bytes(kv["value"], "events.kv.value") ?? []),
                                       revision: try int64(kv["mod_revision"], "events.kv.mod_revision") ?? 0))
        }
        return changes.isEmpty ? nil : .changes(changes)
    }
}
