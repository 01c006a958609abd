#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization

/// A scripted stand-in for the kernel's end of a netlink socket (mdlayher/netlink's
/// `nltest.Dial(func)`), for tests without root.
///
/// Why it exists: the socket's state machine (sequence and port-id checks, dumps
/// split over datagrams, `NLM_F_DUMP_INTR` retries, batches, extended ACKs, lost
/// replies) and the subscription reader are exercised here with exactly the
/// datagrams a test wants, including the ones the kernel sends only by chance.
///
/// Each datagram sent is decoded and handed to the `responder`, which returns what
/// the "kernel" answers: datagrams (any split of messages, any sequence number, port
/// id or sender) and receive failures (`ENOBUFS`, `EINTR`, ...), queued in order.
/// Tests may also `deliver` datagrams nobody asked for (notifications). When the
/// queue is empty, `receive` fails with `EAGAIN` (`whenEmpty: .fail`, as a real
/// socket's receive timeout would, so a state machine waiting for a reply that never
/// comes fails instead of hanging) or blocks until something is delivered
/// (`whenEmpty: .wait`, for subscriptions).
public final class FakeNetlinkTransport: NetlinkTransport {
    /// One datagram the socket sent.
    public struct Request: Sendable {
        /// Its messages, decoded.
        public var messages: [NetlinkMessage]
        /// Its bytes as sent.
        public var bytes: [UInt8]
        /// 0 for the first datagram sent through this transport, then 1, 2 ...
        public var index: Int
    }

    /// One thing `receive` returns: a datagram, or a failure with an errno.
    public enum Reply: Sendable, Hashable {
        case datagram(NetlinkDatagram)
        case failure(errno: Int32)

        /// The messages in one datagram, from `sender` (0: the kernel).
        public static func messages(_ messages: [NetlinkMessage], from sender: UInt32 = 0) -> Reply {
            .datagram(NetlinkDatagram(bytes: messages.flatMap(\.bytes), sender: sender))
        }

        /// Each message in a datagram of its own (a reply split across datagrams).
        public static func separately(_ messages: [NetlinkMessage]) -> [Reply] {
            messages.map { .messages([$0]) }
        }
    }

    /// What `receive` does when no reply is queued.
    public enum WhenEmpty: Sendable {
        /// Fail with `EAGAIN` at once (a real socket's receive timeout).
        case fail
        /// Block until something is delivered, `interrupt()` or `close()`.
        case wait
    }

    public typealias Responder = @Sendable (Request) throws(NetlinkError) -> [Reply]

    private struct State {
        var queue: [Reply] = []
        var requests: [Request] = []
        var receives = 0
        var waiting = 0
        var interrupted = false
        var closed = false
    }

    public let portID: UInt32
    public let whenEmpty: WhenEmpty
    private let responder: Responder
    private let state = Mutex(State())
    /// Signalled whenever the state changes in a way a blocked `receive` cares about.
    private let wakeup = DispatchSemaphore(value: 0)

    /// A fake bound to `portID`; every datagram sent goes to `responder`, and what
    /// it returns is queued for `receive`. A responder that throws makes the send
    /// fail with its error.
    public init(portID: UInt32 = 4242, whenEmpty: WhenEmpty = .fail,
                responder: @escaping Responder = { _ in [] }) {
        self.portID = portID
        self.whenEmpty = whenEmpty
        self.responder = responder
    }

    /// Queues datagrams or failures that arrive without a request (notifications).
    public func deliver(_ replies: [Reply]) {
        state.withLock { $0.queue += replies }
        wakeup.signal()
    }

    /// Every datagram sent so far, in order.
    public var requests: [Request] { state.withLock { $0.requests } }
    /// Replies queued and not yet received.
    public var pendingReplies: Int { state.withLock { $0.queue.count } }
    /// How many times `receive` was called.
    public var receiveCount: Int { state.withLock { $0.receives } }
    /// Whether a `receive` is blocked on an empty queue (the reader has caught up).
    public var isWaiting: Bool { state.withLock { $0.waiting > 0 && $0.queue.isEmpty } }
    /// Whether `close()` was called.
    public var isClosed: Bool { state.withLock { $0.closed } }

    public func send(_ datagram: [UInt8]) throws(NetlinkError) {
        let index = try state.withLock { (s: inout State) throws(NetlinkError) -> Int in
            if s.closed { throw NetlinkError(errno: EBADF, request: "sendto(fake)", detail: "socket closed") }
            return s.requests.count
        }
        let request = Request(messages: try NetlinkMessage.parse(datagram), bytes: datagram, index: index)
        state.withLock { $0.requests.append(request) }
        let replies = try responder(request)
        deliver(replies)
    }

    public func receive() throws(NetlinkError) -> NetlinkDatagram {
        while true {
            let next = try state.withLock { (s: inout State) throws(NetlinkError) -> Reply? in
                s.receives += 1
                if s.closed { throw NetlinkError(errno: EBADF, request: "recv(fake)", detail: "socket closed") }
                if s.interrupted { throw NetlinkError(errno: ECANCELED, request: "recv(fake)", detail: "interrupted") }
                if !s.queue.isEmpty { return s.queue.removeFirst() }
                if whenEmpty == .fail {
                    throw NetlinkError(errno: EAGAIN, request: "recv(fake)", detail: "no reply queued (a real socket would time out)")
                }
                s.receives -= 1  // counted once, when it returns
                s.waiting += 1
                return nil
            }
            switch next {
            case .datagram(let d): return d
            case .failure(let code): throw NetlinkError(errno: code, request: "recv(fake)")
            case nil:
                wakeup.wait()
                state.withLock { $0.waiting -= 1 }
            }
        }
    }

    public func interrupt() {
        state.withLock { $0.interrupted = true }
        wakeup.signal()
    }

    public func close() {
        state.withLock { $0.closed = true }
        wakeup.signal()
    }
}

// MARK: - Building the kernel's side of a conversation

extension NetlinkMessage {
    /// The message's bytes (header and payload, padded to 4 bytes), as it travels.
    public var bytes: [UInt8] {
        var out = AttributeEncoder.hostBytes(UInt32(16 + payload.count)) + AttributeEncoder.hostBytes(type)
            + AttributeEncoder.hostBytes(flags.rawValue) + AttributeEncoder.hostBytes(sequence)
            + AttributeEncoder.hostBytes(portID) + payload
        while out.count % 4 != 0 { out.append(0) }
        return out
    }

    /// The kernel's `NLMSG_ERROR` answer to `request`: an ACK (`errno` 0) or a
    /// refusal, with the extended-ACK message and offset when given. `capped` (as
    /// with `NETLINK_CAP_ACK`) leaves the request's payload out of the echo.
    public static func acknowledgement(of request: NetlinkMessage, errno code: Int32 = 0, extAckMessage: String? = nil,
                                       extAckOffset: UInt32? = nil, capped: Bool = true) -> NetlinkMessage {
        var payload = AttributeEncoder.hostBytes(-code)
        let echoed = capped ? [] : request.payload
        payload += AttributeEncoder.hostBytes(UInt32(16 + request.payload.count)) + AttributeEncoder.hostBytes(request.type)
            + AttributeEncoder.hostBytes(request.flags.rawValue) + AttributeEncoder.hostBytes(request.sequence)
            + AttributeEncoder.hostBytes(request.portID) + echoed
        while payload.count % 4 != 0 { payload.append(0) }
        var flags: NetlinkFlags = capped ? [.capped] : []
        if extAckMessage != nil || extAckOffset != nil {
            flags.insert(.ackTLVs)
            var tlvs = AttributeEncoder()
            if let extAckMessage { tlvs.string(NLMSGERR.msg, extAckMessage) }
            if let extAckOffset { tlvs.u32(NLMSGERR.offs, extAckOffset) }
            payload += tlvs.bytes
        }
        return NetlinkMessage(type: MsgType.error, flags: flags, sequence: request.sequence, portID: request.portID,
                              payload: payload)
    }

    /// The `NLMSG_DONE` that ends a dump answering `request`; a negative status
    /// (the dump failed with `errno`) with the extended-ACK message when given.
    public static func done(for request: NetlinkMessage, errno code: Int32 = 0, extAckMessage: String? = nil) -> NetlinkMessage {
        var payload = AttributeEncoder.hostBytes(-code)
        var flags: NetlinkFlags = [.multi]
        if let extAckMessage {
            flags.insert(.ackTLVs)
            var tlvs = AttributeEncoder()
            tlvs.string(NLMSGERR.msg, extAckMessage)
            payload += tlvs.bytes
        }
        return NetlinkMessage(type: MsgType.done, flags: flags, sequence: request.sequence, portID: request.portID,
                              payload: payload)
    }

    /// A reply message of `type` to `request` (its sequence number and port id).
    public static func reply(to request: NetlinkMessage, type: UInt16, flags: NetlinkFlags = [.multi],
                             payload: [UInt8]) -> NetlinkMessage {
        NetlinkMessage(type: type, flags: flags, sequence: request.sequence, portID: request.portID, payload: payload)
    }

    /// A notification the kernel would multicast for `event` (`NLMSG_OVERRUN` for an
    /// overrun), so tests of subscription consumers can script events.
    public static func notification(_ event: NetlinkEvent, sequence: UInt32 = 0, portID: UInt32 = 0) -> NetlinkMessage {
        let index = event.interfaceIndex ?? 0
        let type: UInt16
        var payload: [UInt8]
        switch event.kind {
        case nil:
            return NetlinkMessage(type: MsgType.overrun, flags: [], sequence: sequence, portID: portID, payload: [])
        case .link?:
            type = event.isDeletion ? MsgType.delLink : MsgType.newLink
            var info = IfInfoMsg(index: index)
            if event.isKernelMaintained { info.family = AddressFamily.inet6.rawValue }
            payload = info.bytes
            if let name = event.interfaceName {
                var e = AttributeEncoder()
                e.string(IFLA.ifname, name)
                payload += e.bytes
            }
        case .address?:
            type = event.isDeletion ? MsgType.delAddr : MsgType.newAddr
            payload = event.isKernelMaintained
                ? IfAddrMsg(family: AddressFamily.inet6.rawValue, prefixLength: 64, scope: 253, index: UInt32(bitPattern: index)).bytes
                : IfAddrMsg(family: AddressFamily.inet.rawValue, prefixLength: 24, index: UInt32(bitPattern: index)).bytes
        case .route?:
            type = event.isDeletion ? MsgType.delRoute : MsgType.newRoute
            var rt = RtMsg()
            rt.family = AddressFamily.inet.rawValue
            rt.table = 254
            rt.protocol = event.isKernelMaintained ? 2 : 3
            payload = rt.bytes
            if let oif = event.interfaceIndex {
                var e = AttributeEncoder()
                e.i32(RTA.oif, oif)
                payload += e.bytes
            }
        case .neighbour?:
            type = event.isDeletion ? MsgType.delNeigh : MsgType.newNeigh
            payload = NdMsg(family: AddressFamily.inet.rawValue, index: index, state: event.isKernelMaintained ? 0x02 : 0x80).bytes
        }
        return NetlinkMessage(type: type, flags: [], sequence: sequence, portID: portID, payload: payload)
    }
}
