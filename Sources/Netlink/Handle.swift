#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A rtnetlink connection bound to one network namespace (vishvananda/netlink's
/// "one handle per namespace").
///
/// The socket of a handle for another namespace is opened on a dedicated,
/// short-lived pthread that enters the namespace with `setns`, opens and binds the
/// socket, and exits; the socket stays bound to that namespace. The calling thread
/// never changes namespace.
///
/// Concurrency: the API is synchronous (blocking system calls, each request takes
/// microseconds to a few milliseconds). The handle is `Sendable`: a lock serializes
/// requests, so it can be shared between tasks and threads; one request runs at a
/// time per handle. Use one handle per namespace (or several for parallelism).
public final class NetlinkHandle: Sendable {
    private let socket: Mutex<NetlinkSocket>
    /// The namespace this handle's socket lives in.
    public let namespaceID: NamespaceID

    /// A handle for the calling thread's current network namespace.
    public init() throws(NetlinkError) {
        namespaceID = try NamespaceID(path: "/proc/thread-self/ns/net")
        socket = Mutex(try NetlinkSocket())
    }

    /// A handle whose socket is opened inside `namespace` (on a dedicated thread).
    public init(namespace: NetworkNamespace) throws(NetlinkError) {
        let (fd, pid) = try NamespaceThread.run(in: namespace) { () throws(NetlinkError) in
            try SocketTransport.openRequestSocket()
        }
        namespaceID = namespace.id
        socket = Mutex(NetlinkSocket(transport: SocketTransport(fd: fd, portID: pid)))
    }

    /// A handle over any transport: `FakeNetlinkTransport` in tests (no root, no
    /// kernel), so code above the netlink layer can be driven with scripted replies.
    /// `namespaceID` is what `namespaceID` reports (a fake has no namespace).
    public init(transport: any NetlinkTransport, namespaceID: NamespaceID = NamespaceID(device: 0, inode: 0)) {
        self.namespaceID = namespaceID
        socket = Mutex(NetlinkSocket(transport: transport))
    }

    /// A handle for the named namespace `/run/netns/NAME`.
    public convenience init(namespaceNamed name: String) throws(NetlinkError) {
        try self.init(namespace: NetworkNamespace.open(name: name))
    }

    /// Sends one request with `NLM_F_ACK` and waits for its ACK; returns any reply
    /// messages that came before it (for GET requests).
    @discardableResult
    public func execute(_ request: NetlinkRequest) throws(NetlinkError) -> [NetlinkMessage] {
        try socket.withLock { (s: inout NetlinkSocket) throws(NetlinkError) -> [NetlinkMessage] in
            try s.execute(request)
        }
    }

    /// Runs a dump request (`NLM_F_DUMP`) and returns all its messages.
    public func dump(_ request: NetlinkRequest) throws(NetlinkError) -> [NetlinkMessage] {
        try socket.withLock { (s: inout NetlinkSocket) throws(NetlinkError) -> [NetlinkMessage] in
            try s.dump(request)
        }
    }

    /// How many dumps were repeated because the kernel flagged them inconsistent
    /// (`NLM_F_DUMP_INTR`) since the handle was opened.
    public var interruptedDumpCount: Int {
        socket.withLock { $0.interruptedDumps }
    }

    /// Sends several requests before reading their ACKs; throws the first failure,
    /// naming the request that failed (see `NetlinkSocket.batch` for the exact
    /// semantics: windows of 64 requests; requests after a failed one in the same
    /// window may still have been applied; later windows are not sent).
    public func batch(_ requests: [NetlinkRequest]) throws(NetlinkError) {
        try socket.withLock { (s: inout NetlinkSocket) throws(NetlinkError) in
            try s.batch(requests)
        }
    }

    /// Requests sent with `send(_:)` whose ACKs `collect(_:)` reads.
    public struct PendingBatch: Sendable {
        fileprivate var pending: NetlinkSocket.Pending
        public var count: Int { pending.requests.count }
    }

    /// Sends requests without reading their ACKs (all in one datagram when they fit
    /// 32 KiB): then `collect` them. Meanwhile other handles (other namespaces) can
    /// send theirs, so the kernel works through all of them while nobody waits on a
    /// round trip. Nothing else may use this handle in between.
    ///
    /// The kernel runs the requests of one socket in order, each on its own: a
    /// refused one does not stop the next. Send together only requests a refusal of
    /// an earlier one cannot turn into harm (never "create X" then "change X").
    public func send(_ requests: [NetlinkRequest]) throws(NetlinkError) -> PendingBatch {
        try socket.withLock { (s: inout NetlinkSocket) throws(NetlinkError) -> PendingBatch in
            PendingBatch(pending: try s.send(requests))
        }
    }

    /// The outcome of each request `send` sent, in request order: the replies before
    /// its ACK (a GET's object), or the kernel's refusal (errno and extended ACK).
    /// Throws only when the socket fails.
    public func collect(_ batch: PendingBatch) throws(NetlinkError) -> [Result<[NetlinkMessage], NetlinkError>] {
        try socket.withLock { (s: inout NetlinkSocket) throws(NetlinkError) -> [Result<[NetlinkMessage], NetlinkError>] in
            try s.collect(batch.pending)
        }
    }
}
