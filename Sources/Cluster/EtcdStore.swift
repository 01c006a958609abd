import AsyncHTTPClient
import Dispatch
import Foundation
import Model
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// The cluster store of several hosts: etcd v3 through its JSON gateway, over
/// AsyncHTTPClient (HTTP/1.1; TLS and client certificates through NIOSSL).
///
/// Why the gateway and not gRPC: it needs no generated code and no HTTP/2 stack, and
/// etcd 3.4 (Debian's `etcd-server`) serves it on the client port. Its encoding is
/// `EtcdWire`'s business; this type does the I/O: it tries the configured endpoints in
/// turn (the last one that answered first) and reports `.unavailable` only when none
/// answers, logs in with `kv.username`/`kv.password` and sends the token as the
/// `Authorization` header (logging in again once when etcd says the token expired).
///
/// Calls are synchronous, as `ClusterStore` wants: each blocks its calling thread on
/// the request's future, with the configured timeout, and must never run on an
/// event-loop thread (that would deadlock the loop it waits for; it traps instead).
/// From async code, call it from a thread of its own: each call holds a thread of the
/// cooperative pool for up to `kv.timeout` per endpoint.
/// A write that timed out on one endpoint is sent to the next: etcd may have applied
/// it, so a `create` retried that way can report false for a key it made itself —
/// callers compare the stored value with their own, as they must after any timeout.
///
/// Lifetime: the HTTP client is shut down by `close()` or, at the latest, in deinit.
public final class EtcdStore: WatchableStore {
    public let configuration: EtcdConfiguration
    private let client: HTTPClient
    /// For watches only: the same TLS and connect timeout, no read timeout (a watch
    /// is quiet while nothing changes).
    private let watchClient: HTTPClient
    private let baseURLs: [String]

    private struct State {
        /// The endpoint to try first: the last one that answered.
        var preferred = 0
        /// The auth token, when `kv.username` is set and we logged in.
        var token: String?
        var closed = false
    }
    private let state = Mutex(State())

    /// Makes the client; reads the TLS files now, so a wrong path or a bad PEM file is
    /// reported here, by option. Does not contact etcd.
    public init(_ configuration: EtcdConfiguration) throws(EtcdConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        let scheme = configuration.tls ? "https" : "http"
        baseURLs = configuration.endpoints.map { "\(scheme)://\($0)" }

        var tls: TLSConfiguration?
        if configuration.tls {
            var t = TLSConfiguration.makeClientConfiguration()
            if let ca = configuration.caCertificateFile {
                t.trustRoots = .certificates(try Self.certificates(ca, option: "kv.cacertfile"))
            }
            if let cert = configuration.certificateFile, let key = configuration.keyFile {
                t.certificateChain = try Self.certificates(cert, option: "kv.certfile").map { .certificate($0) }
                try Self.checkReadable(key, option: "kv.keyfile")
                do {
                    t.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
                } catch {
                    throw EtcdConfigurationError("kv.keyfile", "cannot read a PEM private key from \(key): \(Self.describe(error))")
                }
            }
            tls = t
        }
        let amount = TimeAmount.nanoseconds(Int64(configuration.timeout * 1e9))
        var http = HTTPClient.Configuration(
            tlsConfiguration: tls,
            redirectConfiguration: .disallow,
            timeout: .init(connect: amount, read: amount),
            decompression: .disabled)
        // The gateway is HTTP/1.1; over TLS, ALPN could pick h2, which etcd's port
        // hands to its gRPC server.
        http.httpVersion = .http1Only
        // Failover is ours: a refused connection must fail now, so the next endpoint
        // is tried, not be retried by the pool until kv.timeout has passed.
        http.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
        http.timeout = .init(connect: amount, read: nil)
        watchClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
    }

    deinit { close() }

    /// Shuts the HTTP client down (idempotent). Later calls throw `.unavailable`.
    public func close() {
        let wasOpen = state.withLock { s in
            defer { s.closed = true }
            return !s.closed
        }
        guard wasOpen else { return }
        // No call is in flight (each holds the store); a running watch is cancelled.
        try? client.syncShutdown()
        try? watchClient.syncShutdown()
    }

    // MARK: ClusterStore

    public func get(_ key: String) throws(StoreError) -> StoreEntry? {
        try EtcdWire.decodeRange(call("/v3/kv/range", EtcdWire.get(key))).entries.first
    }

    public func list(prefix: String) throws(StoreError) -> (entries: [StoreEntry], revision: Int64) {
        try EtcdWire.decodeRange(call("/v3/kv/range", EtcdWire.list(prefix: prefix)))
    }

    public func put(_ key: String, _ value: [UInt8], lease: LeaseID?) throws(StoreError) {
        _ = try call("/v3/kv/put", EtcdWire.put(key, value, lease: lease))
    }

    public func create(_ key: String, _ value: [UInt8], lease: LeaseID?) throws(StoreError) -> Bool {
        try createAll([(key, value)], lease: lease).isEmpty
    }

    public func createAll(_ entries: [(key: String, value: [UInt8])], lease: LeaseID?) throws(StoreError) -> [String] {
        guard !entries.isEmpty else { return [] }
        return try EtcdWire.decodeCreateAll(call("/v3/kv/txn", EtcdWire.createAll(entries, lease: lease)), keys: entries.map(\.key))
    }

    public func delete(_ key: String) throws(StoreError) {
        _ = try call("/v3/kv/deleterange", EtcdWire.delete(key))
    }

    public func grantLease(ttl: Int) throws(StoreError) -> LeaseID {
        try EtcdWire.decodeGrant(call("/v3/lease/grant", EtcdWire.grant(ttl: ttl))).lease
    }

    /// One POST per renewal: the gateway honours only the first keep-alive message of
    /// a streamed request.
    public func keepAlive(_ lease: LeaseID) throws(StoreError) -> Int {
        try EtcdWire.decodeKeepAlive(call("/v3/lease/keepalive", EtcdWire.lease(lease)), lease: lease)
    }

    /// A lease already gone (expired, revoked) is a revoke done.
    public func revoke(_ lease: LeaseID) throws(StoreError) {
        do {
            _ = try call("/v3/lease/revoke", EtcdWire.lease(lease))
        } catch where error.kind == .notFound {
            return
        }
    }

    public func commit(_ txn: StoreTransaction) throws(StoreError) -> [String] {
        guard !txn.keys.isEmpty else { return [] }
        return try EtcdWire.decodeCreateAll(call("/v3/kv/txn", EtcdWire.commit(txn)), keys: txn.creates.map(\.key))
    }

    public func timeToLive(_ lease: LeaseID) throws(StoreError) -> Int? {
        try EtcdWire.decodeTimeToLive(call("/v3/lease/timetolive", EtcdWire.lease(lease)))
    }

    public func delete(_ key: String, unlessExists guardKey: String) throws(StoreError) -> Bool {
        try EtcdWire.decodeSucceeded(call("/v3/kv/txn", EtcdWire.delete(key, unlessExists: guardKey)))
    }

    /// Requests this process sent to etcd so far, by every store (each endpoint tried
    /// counts, logins too): the store round trips `NETFORM_PROFILE=1` reports.
    public static var requestsSent: Int { sent.load(ordering: .relaxed) }
    private static let sent = Atomic<Int>(0)

    // MARK: Watch

    /// A `/v3/watch` stream (one JSON object per line) on the first endpoint that
    /// accepts it. The sequence ends with an error when that stream breaks: watch
    /// again from the last revision seen plus one (another endpoint is tried then).
    public func watch(prefix: String, fromRevision revision: Int64) -> AsyncThrowingStream<WatchEvent, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try await self.runWatch(EtcdWire.watch(prefix: prefix, fromRevision: revision), into: continuation)
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func runWatch(_ body: JSONValue, into continuation: AsyncThrowingStream<WatchEvent, any Error>.Continuation) async throws {
        var token: String?
        if let user = configuration.username {
            token = state.withLock({ $0.token })
            if token == nil { token = try login(user) }
        }
        let (first, closed) = state.withLock { ($0.preferred, $0.closed) }
        guard !closed else { throw StoreError(.unavailable, "the etcd store was closed") }
        var failures: [String] = []
        for step in 0..<baseURLs.count {
            let index = (first + step) % baseURLs.count
            let endpoint = configuration.endpoints[index].description
            var request = HTTPClientRequest(url: baseURLs[index] + "/v3/watch")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            if let token { request.headers.add(name: "Authorization", value: token) }
            request.body = .bytes(ByteBuffer(string: body.rendered))
            let response: HTTPClientResponse
            do {
                response = try await watchClient.execute(request, deadline: .distantFuture)
            } catch {
                try Task.checkCancellation()
                failures.append("\(endpoint): \(Self.describe(error))")
                continue
            }
            guard response.status == .ok else {
                let text = String(buffer: try await response.body.collect(upTo: 1 << 16))
                let json = try? EtcdWire.parse(text, from: endpoint)
                throw json.map { EtcdWire.decodeError($0, status: Int(response.status.code)) }
                    ?? StoreError(.invalid, "etcd at \(endpoint) answered HTTP \(response.status.code) to /v3/watch: \(text.prefix(200))")
            }
            var pending: [UInt8] = []
            for try await chunk in response.body {
                pending += chunk.readableBytesView
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[..<newline], as: UTF8.self)
                    pending.removeSubrange(...newline)
                    guard line.contains(where: { !$0.isWhitespace }) else { continue }
                    guard let event = try EtcdWire.decodeWatchLine(EtcdWire.parse(line, from: endpoint)) else { continue }
                    continuation.yield(event)
                    if case .compacted = event { return }
                }
            }
            try Task.checkCancellation()
            throw StoreError(.unavailable, "the watch stream from \(endpoint) ended")
        }
        throw StoreError(.unavailable, "no etcd endpoint accepted a watch: " + failures.joined(separator: "; "))
    }

    // MARK: Requests

    /// One request, authenticated when a user is configured; logs in again once when
    /// etcd says the token is no longer valid (simple tokens expire after 5 minutes).
    private func call(_ path: String, _ body: JSONValue) throws(StoreError) -> JSONValue {
        guard let user = configuration.username else {
            do {
                return try send(path, body, token: nil)
            } catch where error.kind == .unauthorized
                && (error.message.contains("user name is empty") || error.message.contains("invalid auth token")) {
                throw StoreError(.unauthorized, "etcd requires authentication: set kv.username and kv.password (\(error.message))")
            }
        }
        let token: String
        if let cached = state.withLock({ $0.token }) { token = cached } else { token = try login(user) }
        do {
            return try send(path, body, token: token)
        } catch where error.kind == .unauthorized && error.message.contains("invalid auth token") {
            return try send(path, body, token: login(user))
        }
    }

    private func login(_ user: String) throws(StoreError) -> String {
        let answer: JSONValue
        do {
            answer = try send("/v3/auth/authenticate", EtcdWire.authenticate(user: user, password: configuration.password ?? ""), token: nil)
        } catch {
            throw StoreError(error.kind, "logging in to etcd as kv.username '\(user)': \(error.message)")
        }
        let token = try EtcdWire.decodeToken(answer)
        state.withLock { $0.token = token }
        return token
    }

    /// Sends to each endpoint in turn, starting with the last that answered, until one
    /// answers. Connection errors, timeouts, TLS failures and gRPC `unavailable`
    /// (no leader) move on; any other answer, success or refusal, is the store's.
    private func send(_ path: String, _ body: JSONValue, token: String?) throws(StoreError) -> JSONValue {
        let (first, closed) = state.withLock { ($0.preferred, $0.closed) }
        guard !closed else { throw StoreError(.unavailable, "the etcd store was closed") }
        // One connection per request: AsyncHTTPClient 1.37's pool can trap ("A connection
        // that we don't know was released?") when a kept-alive connection is released
        // while it is being closed (seen right after an etcd restart). `Connection:
        // close` takes every connection out of the pool's idle path; a request costs a
        // TCP (or TLS) handshake more, on a local network a fraction of a millisecond
        // (Benchmarks/cluster-results.txt).
        var headers = HTTPHeaders([("Content-Type", "application/json"), ("Connection", "close")])
        if let token { headers.add(name: "Authorization", value: token) }
        let bytes = Array(body.rendered.utf8)
        var failures: [String] = []
        for step in 0..<baseURLs.count {
            let index = (first + step) % baseURLs.count
            let endpoint = configuration.endpoints[index].description
            let request: HTTPClient.Request
            do {
                request = try HTTPClient.Request(url: baseURLs[index] + path, method: .POST, headers: headers, body: .bytes(bytes))
            } catch {
                throw StoreError(.invalid, "etcd endpoint \(endpoint): cannot make a request: \(Self.describe(error))")
            }
            Self.sent.add(1, ordering: .relaxed)
            switch perform(request) {
            case .failure(let error):
                failures.append("\(endpoint): \(Self.describe(error))")
            case .success(let response):
                let text = response.body.map { String(buffer: $0) } ?? ""
                let status = Int(response.status.code)
                if status == 200 {
                    state.withLock { $0.preferred = index }
                    return try EtcdWire.parse(text, from: endpoint)
                }
                let error: StoreError
                if let json = try? EtcdWire.parse(text, from: endpoint), json["code"] != nil || json["error"] != nil {
                    error = EtcdWire.decodeError(json, status: status)
                } else {
                    let kind = EtcdWire.kind(code: nil, message: text, status: status)
                    error = StoreError(kind, "etcd at \(endpoint) answered HTTP \(status) to \(path): \(text.prefix(200))")
                }
                guard error.kind == .unavailable else {
                    state.withLock { $0.preferred = index }
                    throw error
                }
                failures.append("\(endpoint): \(error.message)")
            }
        }
        throw StoreError(.unavailable, "no etcd endpoint answered \(path): " + failures.joined(separator: "; "))
    }

    /// Runs one request and blocks this thread until it completes or the timeout
    /// passes (the request's own deadline, plus a second for the client to report it).
    private func perform(_ request: HTTPClient.Request) -> Result<HTTPClient.Response, any Error> {
        precondition(MultiThreadedEventLoopGroup.currentEventLoop == nil,
                     "EtcdStore blocks its caller: never call it on an event loop thread")
        let timeout = configuration.timeout
        let deadline = NIODeadline.now() + .nanoseconds(Int64(timeout * 1e9))
        let task = client.execute(request: request, delegate: ResponseAccumulator(request: request), deadline: deadline)
        let outcome = Mutex<Result<HTTPClient.Response, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        task.futureResult.whenComplete { result in
            outcome.withLock { $0 = result }
            done.signal()
        }
        if done.wait(timeout: .now() + timeout + 1) == .timedOut {
            task.cancel()
            return .failure(Timeout(seconds: timeout))
        }
        return outcome.withLock { $0 } ?? .failure(Timeout(seconds: timeout))
    }

    private struct Timeout: Error, CustomStringConvertible {
        var seconds: Double
        var description: String { "no answer within \(EtcdStore.seconds(seconds)) (kv.timeout)" }
    }

    static func seconds(_ t: Double) -> String {
        t == t.rounded() ? "\(Int(t)) s" : "\(t) s"
    }

    /// A transport error as a short reason: what a person can act on.
    static func describe(_ error: any Error) -> String {
        if let e = error as? HTTPClientError {
            switch e {
            case .deadlineExceeded, .readTimeout: return "no answer in time (kv.timeout)"
            case .connectTimeout: return "connect timed out (kv.timeout)"
            case .remoteConnectionClosed: return "the connection was closed by the server"
            default: return "\(e)"
            }
        }
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError { return describeTLS("\(error)") }
        if let e = error as? IOError { return String(cString: strerror(e.errnoCode)).lowercased() }
        if let e = error as? NIOConnectionError {
            let reasons = e.connectionErrors.map { "\($0.error)" } + (e.dnsAAAAError.map { ["\($0)"] } ?? []) + (e.dnsAError.map { ["\($0)"] } ?? [])
            return reasons.isEmpty ? "cannot connect" : "cannot connect: " + reasons.joined(separator: ", ")
        }
        return String(describing: error)
    }

    /// A clear reason for a missing or unreadable file, before NIOSSL's own errors.
    static func checkReadable(_ path: String, option: String) throws(EtcdConfigurationError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw EtcdConfigurationError(option, "\(path): no such file")
        }
        guard !isDirectory.boolValue else { throw EtcdConfigurationError(option, "\(path) is a directory, not a PEM file") }
        guard FileManager.default.isReadableFile(atPath: path) else { throw EtcdConfigurationError(option, "\(path) is not readable") }
    }

    /// A TLS failure with what it usually means first, then BoringSSL's reason.
    static func describeTLS(_ text: String) -> String {
        let hint: String
        if text.contains("ALERT_BAD_CERTIFICATE") || text.contains("CERTIFICATE_REQUIRED") || text.contains("ALERT_UNKNOWN_CA")
            || text.contains("ALERT_HANDSHAKE_FAILURE") {
            hint = "the server refused this host's client certificate or its absence (kv.certfile, kv.keyfile)"
        } else if text.contains("CERTIFICATE_VERIFY_FAILED") {
            hint = "the server's certificate is not signed by a trusted CA (kv.cacertfile)"
        } else if text.contains("failedToValidateHostname") || text.contains("Hostname") {
            hint = "the server's certificate does not name the endpoint's host"
        } else {
            hint = "the handshake failed"
        }
        return "TLS failed: \(hint): \(text)"
    }

    private static func certificates(_ path: String, option: String) throws(EtcdConfigurationError) -> [NIOSSLCertificate] {
        try checkReadable(path, option: option)
        let certs: [NIOSSLCertificate]
        do {
            certs = try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            throw EtcdConfigurationError(option, "cannot read PEM certificates from \(path): \(describe(error))")
        }
        guard !certs.isEmpty else { throw EtcdConfigurationError(option, "\(path) holds no PEM certificate") }
        return certs
    }
}
