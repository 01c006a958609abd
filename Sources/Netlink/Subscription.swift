#if canImport(Glibc)
import Glibc
#endif
import CNetlink
import Synchronization

/// "Something of this kind changed in the subscription's namespace", decoded from an
/// rtnetlink notification (or "events were lost": an overrun).
///
/// Why it exists: `netform agent` reconciles on a full re-read, never by replaying
/// events, so it needs only which kind of object changed (to coalesce and to log) and
/// whether it must distrust everything (overrun). The decoding is kept that small so
/// it never fails on a notification it does not fully understand.
public struct NetlinkEvent: Sendable, Equatable, CustomStringConvertible {
    /// What changed. Neighbours include FDB entries (`AF_BRIDGE` neighbours).
    public enum Kind: Sendable, Hashable, CaseIterable {
        case link, address, route, neighbour
    }

    /// The kind of object; nil for an overrun.
    public var kind: Kind?
    /// An `RTM_DEL*` notification.
    public var isDeletion: Bool
    /// The interface concerned: the link's own index, the address's or neighbour's
    /// interface, a route's output interface (`RTA_OIF`; nil for routes without one).
    public var interfaceIndex: Int32?
    /// Links only: `IFLA_IFNAME`.
    public var interfaceName: String?
    /// The socket overflowed (the kernel's `ENOBUFS`, or the consumer fell behind the
    /// subscription's buffer): events were lost, the consumer must re-read everything.
    public var isOverrun: Bool
    /// An object the kernel makes and changes by itself, which netform never owns:
    /// a neighbour or FDB entry that is not `NUD_PERMANENT` (learned, aging, or the
    /// NOARP entries of multicast groups), an IPv6 link-local address, a route of
    /// protocol kernel or RA or of the local table, IPv6's per-link notifications
    /// (`RTM_NEWLINK` of family `AF_INET6`: router solicitation and addrconf state). ARP aging and DAD make such events all the time; an agent that
    /// reconciled on each would never be idle.
    public var isKernelMaintained: Bool

    public init(kind: Kind?, isDeletion: Bool = false, interfaceIndex: Int32? = nil,
                interfaceName: String? = nil, isOverrun: Bool = false, isKernelMaintained: Bool = false) {
        self.kind = kind
        self.isDeletion = isDeletion
        self.interfaceIndex = interfaceIndex
        self.interfaceName = interfaceName
        self.isOverrun = isOverrun
        self.isKernelMaintained = isKernelMaintained
    }

    /// Events were lost; re-read everything.
    public static let overrun = NetlinkEvent(kind: nil, isOverrun: true)

    public var description: String {
        if isOverrun { return "overrun" }
        var s = "\(isDeletion ? "del" : "new") \(kind.map { "\($0)" } ?? "?")"
        if let interfaceName { s += " \(interfaceName)" }
        if let interfaceIndex { s += " if#\(interfaceIndex)" }
        return s
    }

    /// The event one notification stands for; nil for messages that are not
    /// rtnetlink notifications of these kinds (`NLMSG_DONE`, `NLMSG_ERROR`, unknown
    /// types) and for those whose fixed header is cut short. Attributes that do not
    /// parse leave the optional fields nil (the change is still reported).
    /// `NLMSG_OVERRUN` is an overrun.
    public static func decode(_ message: NetlinkMessage) -> NetlinkEvent? {
        let p = message.payload[...]
        switch message.type {
        case MsgType.overrun:
            return .overrun
        case MsgType.newLink, MsgType.delLink:
            var r = ByteReader(p, what: "ifinfomsg")
            guard let header = try? IfInfoMsg(&r) else { return nil }
            let attributes = try? AttributeList(parsing: p.dropFirst(IfInfoMsg.size))
            return NetlinkEvent(kind: .link, isDeletion: message.type == MsgType.delLink, interfaceIndex: header.index,
                                interfaceName: attributes?[IFLA.ifname]?.string(),
                                isKernelMaintained: header.family == UInt8(AF_INET6))
        case MsgType.newAddr, MsgType.delAddr:
            var r = ByteReader(p, what: "ifaddrmsg")
            guard let header = try? IfAddrMsg(&r) else { return nil }
            return NetlinkEvent(kind: .address, isDeletion: message.type == MsgType.delAddr,
                                interfaceIndex: Int32(bitPattern: header.index),
                                isKernelMaintained: header.family == UInt8(AF_INET6) && header.scope == 253 /* RT_SCOPE_LINK */)
        case MsgType.newRoute, MsgType.delRoute:
            var r = ByteReader(p, what: "rtmsg")
            guard let header = try? RtMsg(&r) else { return nil }
            let attributes = try? AttributeList(parsing: p.dropFirst(RtMsg.size))
            // RTPROT_KERNEL 2, RTPROT_RA 9; RT_TABLE_LOCAL 255.
            return NetlinkEvent(kind: .route, isDeletion: message.type == MsgType.delRoute,
                                interfaceIndex: try? attributes?[RTA.oif]?.i32(),
                                isKernelMaintained: header.protocol == 2 || header.protocol == 9 || header.table == 255)
        case MsgType.newNeigh, MsgType.delNeigh:
            var r = ByteReader(p, what: "ndmsg")
            guard let header = try? NdMsg(&r) else { return nil }
            // NUD_PERMANENT 0x80: entries someone configured (netform's are).
            return NetlinkEvent(kind: .neighbour, isDeletion: message.type == MsgType.delNeigh,
                                interfaceIndex: header.index, isKernelMaintained: header.state & 0x80 == 0)
        default:
            return nil
        }
    }

    /// The events of one received datagram, in order, keeping `kinds` (overruns are
    /// always kept). A datagram whose framing breaks part-way yields the events
    /// before the break and then an overrun: what followed is unreadable, so it may
    /// have held changes.
    static func decode(datagram: [UInt8], kinds: Set<Kind>) -> [NetlinkEvent] {
        let (messages, failure) = NetlinkMessage.parsePrefix(datagram[...])
        var events = messages.compactMap(decode).filter { $0.isOverrun || $0.kind.map(kinds.contains) == true }
        if failure != nil { events.append(.overrun) }
        return events
    }

    /// The rtnetlink multicast groups (`RTNLGRP_*`) that carry these kinds.
    static func groups(for kinds: Set<Kind>) -> [UInt32] {
        var groups: [UInt32] = []
        for kind in Kind.allCases where kinds.contains(kind) {
            switch kind {
            case .link: groups += [UInt32(RTNLGRP_LINK.rawValue)]
            case .address: groups += [UInt32(RTNLGRP_IPV4_IFADDR.rawValue), UInt32(RTNLGRP_IPV6_IFADDR.rawValue)]
            case .route: groups += [UInt32(RTNLGRP_IPV4_ROUTE.rawValue), UInt32(RTNLGRP_IPV6_ROUTE.rawValue)]
            case .neighbour: groups += [UInt32(RTNLGRP_NEIGH.rawValue)]
            }
        }
        return groups
    }
}

/// rtnetlink notifications of one network namespace, as an `AsyncSequence` of
/// `NetlinkEvent`s (vishvananda/netlink's `LinkSubscribeWithOptions`).
///
/// Why it exists: `netform agent` must notice drift in every namespace it owns. The
/// socket is opened inside the namespace by `NamespaceThread.run` (the one primitive
/// that enters namespaces) and then read by a reader thread of the subscription's
/// own, which never enters a namespace: a blocking `recv`, woken for `cancel()`
/// through `poll` on the socket and a pipe.
///
/// Order of use: open the subscription first, then read the state (there is no
/// "list existing" replay): every change after `open` returns is reported, so none
/// falls between the read and the subscription.
///
/// Buffering: the kernel queues up to 8 MB for the socket (`SO_RCVBUFFORCE`, or
/// `SO_RCVBUF` as far as net.core.rmem_max allows); when it drops notifications the
/// sequence yields an overrun event and goes on. Events wait for the consumer in a
/// buffer of `bufferLimit`; when it is full, the buffer is replaced by a single
/// overrun event (re-reading everything covers what it held), so nothing is lost
/// silently and memory stays bounded.
///
/// The sequence ends after `cancel()`, when the consuming task is cancelled (which
/// also cancels the subscription), or when the socket fails (`error` says why). One
/// consumer is intended; several would share the events between them. Deleting the
/// namespace does not end it: the socket keeps the namespace alive until cancelled.
public final class NetlinkSubscription: AsyncSequence, Sendable {
    public typealias Element = NetlinkEvent

    /// The kinds this subscription reports.
    public let kinds: Set<NetlinkEvent.Kind>
    /// The namespace the socket lives in (nil for a subscription over a fake).
    public let namespaceID: NamespaceID?

    private let transport: any NetlinkTransport
    private let buffer: EventBuffer
    /// The reader thread until someone joins (or detaches) it.
    private let reader = Mutex<pthread_t?>(nil)

    /// The default number of events held for a slow consumer.
    public static let defaultBufferLimit = 4096

    /// Subscribes to `kinds` in `namespace` (the caller's namespace when nil).
    public static func open(in namespace: NetworkNamespace?,
                            kinds: Set<NetlinkEvent.Kind> = Set(NetlinkEvent.Kind.allCases)) throws(NetlinkError) -> NetlinkSubscription {
        guard !kinds.isEmpty else { throw .invalid("no event kinds to subscribe to", request: "subscribe") }
        let groups = NetlinkEvent.groups(for: kinds)
        let d: SocketTransport.SubscriptionDescriptors
        let id: NamespaceID
        if let namespace {
            d = try NamespaceThread.run(in: namespace) { () throws(NetlinkError) in
                try SocketTransport.openSubscriptionSocket(groups: groups)
            }
            id = namespace.id
        } else {
            d = try SocketTransport.openSubscriptionSocket(groups: groups)
            id = try NamespaceID(path: "/proc/thread-self/ns/net")
        }
        let transport = SocketTransport(fd: d.fd, portID: d.portID, wakePipe: (d.wakeRead, d.wakeWrite))
        return try NetlinkSubscription(transport: transport, kinds: kinds, namespaceID: id)
    }

    /// A subscription reading notifications from `transport` (a
    /// `FakeNetlinkTransport` with `whenEmpty: .wait` in tests, to inject events).
    /// It takes the transport over: it closes it when the reader stops.
    public convenience init(transport: any NetlinkTransport,
                            kinds: Set<NetlinkEvent.Kind> = Set(NetlinkEvent.Kind.allCases),
                            bufferLimit: Int = NetlinkSubscription.defaultBufferLimit) throws(NetlinkError) {
        try self.init(transport: transport, kinds: kinds, namespaceID: nil, bufferLimit: bufferLimit)
    }

    init(transport: any NetlinkTransport, kinds: Set<NetlinkEvent.Kind>, namespaceID: NamespaceID?,
         bufferLimit: Int = NetlinkSubscription.defaultBufferLimit) throws(NetlinkError) {
        self.transport = transport
        self.kinds = kinds
        self.namespaceID = namespaceID
        buffer = EventBuffer(limit: Swift.max(1, bufferLimit), onConsumerCancelled: { transport.interrupt() })
        let buffer = self.buffer
        do {
            let thread = try NamespaceThread.start {
                let error = NetlinkSubscription.read(transport, kinds: kinds, into: buffer)
                transport.close()
                buffer.finish(failure: error)
            }
            reader.withLock { $0 = thread }
        } catch {
            transport.close()
            throw error
        }
    }

    deinit {
        transport.interrupt()
        if let thread = reader.withLock({ $0 }) { pthread_detach(thread) }
    }

    /// Stops the reader thread and closes the socket (both done when this returns,
    /// also for callers racing each other); the sequence finishes once the consumer
    /// has taken the events already buffered. Idempotent.
    public func cancel() {
        transport.interrupt()
        // Joined under the lock, so a concurrent caller returns only after the join.
        // The reader never takes this lock.
        reader.withLock { (t: inout pthread_t?) in
            guard let thread = t else { return }
            t = nil
            if pthread_equal(thread, pthread_self()) != 0 {
                pthread_detach(thread)
            } else {
                pthread_join(thread, nil)
            }
        }
    }

    /// Why the sequence ended on its own: the socket failed (nil while it runs and
    /// after a `cancel()`). The consumer should subscribe again and re-read.
    public var error: NetlinkError? { buffer.failure }

    /// The real socket's descriptor (-1 once closed; nil over a fake), for tests.
    var descriptor: Int32? { (transport as? SocketTransport)?.descriptor }

    public struct Iterator: AsyncIteratorProtocol {
        let buffer: EventBuffer
        public mutating func next() async -> NetlinkEvent? { await buffer.next() }
    }

    public func makeAsyncIterator() -> Iterator { Iterator(buffer: buffer) }

    /// The reader thread's loop: until interrupted or a failure (returned).
    private static func read(_ transport: any NetlinkTransport, kinds: Set<NetlinkEvent.Kind>,
                             into buffer: EventBuffer) -> NetlinkError? {
        while true {
            do {
                let datagram = try transport.receive()
                // Only the kernel (port 0) sends notifications.
                guard datagram.sender == 0 else { continue }
                for event in NetlinkEvent.decode(datagram: datagram.bytes, kinds: kinds) { buffer.push(event) }
            } catch {
                switch error.errno {
                case EINTR: continue
                case ENOBUFS: buffer.push(.overrun)
                case ECANCELED: return nil
                default: return error
                }
            }
        }
    }
}

/// The events between the reader thread and the consumer: bounded, and an overflow
/// turns into one overrun event (see `NetlinkSubscription`).
final class EventBuffer: Sendable {
    private struct State {
        var events: [NetlinkEvent] = []
        var head = 0
        var finished = false
        var failure: NetlinkError?
        var waiters: [(id: UInt64, continuation: CheckedContinuation<NetlinkEvent?, Never>)] = []
        var nextWaiter: UInt64 = 0

        var count: Int { events.count - head }

        mutating func popFirst() -> NetlinkEvent? {
            guard head < events.count else { return nil }
            let e = events[head]
            head += 1
            if head == events.count {
                events.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 1024, head * 2 >= events.count {
                events.removeFirst(head)
                head = 0
            }
            return e
        }
    }

    let limit: Int
    private let state = Mutex(State())
    private let onConsumerCancelled: @Sendable () -> Void

    init(limit: Int, onConsumerCancelled: @escaping @Sendable () -> Void) {
        self.limit = limit
        self.onConsumerCancelled = onConsumerCancelled
    }

    /// How many events wait for the consumer.
    var count: Int { state.withLock { $0.count } }

    /// Why the reader stopped on its own, once it has.
    var failure: NetlinkError? { state.withLock { $0.failure } }

    func push(_ event: NetlinkEvent) {
        let waiter = state.withLock { (s: inout State) -> CheckedContinuation<NetlinkEvent?, Never>? in
            if s.finished { return nil }
            if !s.waiters.isEmpty { return s.waiters.removeFirst().continuation }
            if event.isOverrun, s.events.last?.isOverrun == true, s.count > 0 { return nil }
            if s.count >= limit {
                s.events = [.overrun]
                s.head = 0
            } else {
                s.events.append(event)
            }
            return nil
        }
        waiter?.resume(returning: event)
    }

    /// No more events: waiting consumers get nil once the buffer is drained.
    func finish(failure: NetlinkError? = nil) {
        let waiters = state.withLock { (s: inout State) in
            s.finished = true
            s.failure = failure
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.continuation.resume(returning: nil) }
    }

    func next() async -> NetlinkEvent? {
        let id = state.withLock { (s: inout State) -> UInt64 in
            s.nextWaiter += 1
            return s.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<NetlinkEvent?, Never>) in
                let now = state.withLock { (s: inout State) -> NetlinkEvent?? in
                    if Task.isCancelled { return .some(nil) }
                    if let e = s.popFirst() { return .some(e) }
                    if s.finished { return .some(nil) }
                    s.waiters.append((id, c))
                    return .none
                }
                if let now { c.resume(returning: now) }
            }
        } onCancel: {
            let waiter = state.withLock { (s: inout State) -> CheckedContinuation<NetlinkEvent?, Never>? in
                guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return s.waiters.remove(at: i).continuation
            }
            waiter?.resume(returning: nil)
            onConsumerCancelled()
        }
    }
}
