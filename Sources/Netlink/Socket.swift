#if canImport(Glibc)
import Glibc
#endif
import CNetlink

/// The state machine of a `NETLINK_ROUTE` request socket: sequence and port-id
/// checks, multipart dumps, `NLM_F_DUMP_INTR` retries, extended ACKs and batched
/// requests, over a `NetlinkTransport` (the real socket, or a fake in tests).
///
/// Not thread-safe by itself: `NetlinkHandle` owns one and serializes access with a
/// lock. A real socket belongs to the network namespace of the thread that opened
/// it, for its whole life.
final class NetlinkSocket {
    let transport: any NetlinkTransport
    var portID: UInt32 { transport.portID }
    private var sequence: UInt32

    /// Dumps repeated because of `NLM_F_DUMP_INTR` (for tests and diagnostics).
    private(set) var interruptedDumps = 0

    /// How many times a dump interrupted by a concurrent change is retried.
    static let dumpRetries = 10
    /// How many requests of a batch are in flight before their ACKs are read.
    static let batchWindow = 64

    /// Opens a socket in the calling thread's current namespace.
    convenience init() throws(NetlinkError) {
        let (fd, pid) = try SocketTransport.openRequestSocket()
        self.init(transport: SocketTransport(fd: fd, portID: pid))
    }

    init(transport: any NetlinkTransport) {
        self.transport = transport
        // Start from a time-derived value so replies to an earlier process reusing
        // the same port id cannot be mistaken for ours.
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        sequence = UInt32(truncatingIfNeeded: ts.tv_nsec) | 1
    }

    private func nextSequence() -> UInt32 {
        sequence &+= 1
        if sequence == 0 { sequence = 1 }
        return sequence
    }

    // MARK: - Sending and receiving

    private func sendBytes(_ bytes: [UInt8], _ what: String) throws(NetlinkError) {
        do {
            try transport.send(bytes)
        } catch {
            var e = error
            e.request = "\(what): \(e.request)"
            throw e
        }
    }

    /// Receives one datagram from the kernel and splits it into messages. Datagrams
    /// from anyone but the kernel (port 0) are ignored; `EINTR` is retried.
    private func receiveMessages(_ what: String) throws(NetlinkError) -> [NetlinkMessage] {
        while true {
            let datagram: NetlinkDatagram
            do {
                datagram = try transport.receive()
            } catch {
                if error.errno == EINTR { continue }
                var e = error
                e.request = "\(what): \(e.request)"
                if e.errno == ENOBUFS, e.detail == nil {
                    e.detail = "the socket's receive buffer overflowed; replies were lost"
                }
                throw e
            }
            // Only the kernel (port 0) may talk to us.
            if datagram.sender != 0 { continue }
            return try NetlinkMessage.parse(datagram.bytes)
        }
    }

    private func kernelError(_ msg: NetlinkMessage, _ request: String) throws(NetlinkError) -> NetlinkError? {
        let e = try ErrorPayload(msg)
        if e.error == 0 { return nil }
        let code = e.error < 0 ? -e.error : e.error
        return NetlinkError(errno: code, request: request, extAckMessage: e.message, extAckOffset: e.offset)
    }

    /// Sends a request with `NLM_F_ACK` and returns the replies received before the
    /// ACK (a GET of one object replies with it; a NEW/DEL replies with none).
    @discardableResult
    func execute(_ request: NetlinkRequest) throws(NetlinkError) -> [NetlinkMessage] {
        let seq = nextSequence()
        let flags = request.flags.union([.request, .ack])
        var req = request
        req.flags = flags
        try sendBytes(req.encode(sequence: seq, portID: portID), request.description)
        var replies: [NetlinkMessage] = []
        while true {
            for msg in try receiveMessages(request.description) {
                guard msg.sequence == seq, msg.portID == portID else { continue }  // stale reply
                switch msg.type {
                case MsgType.error:
                    if let err = try kernelError(msg, request.description) { throw err }
                    return replies
                case MsgType.noop:
                    continue
                case MsgType.done:
                    return replies
                case MsgType.overrun:
                    throw NetlinkError(errno: ENOBUFS, request: request.description, detail: "NLMSG_OVERRUN")
                default:
                    replies.append(msg)
                }
            }
        }
    }

    /// Sends a dump request and collects every message until `NLMSG_DONE`. When the
    /// kernel marks the dump inconsistent (`NLM_F_DUMP_INTR`, state changed while
    /// dumping) the whole dump is repeated, a bounded number of times.
    func dump(_ request: NetlinkRequest) throws(NetlinkError) -> [NetlinkMessage] {
        for attempt in 0..<NetlinkSocket.dumpRetries {
            if attempt > 0 {
                interruptedDumps += 1
                // Back off a little so a burst of changes can settle: 1, 2, 4 ... 32 ms.
                usleep(UInt32(1000 << min(attempt - 1, 5)))
            }
            let seq = nextSequence()
            var req = request
            req.flags = request.flags.union([.request, .dump])
            try sendBytes(req.encode(sequence: seq, portID: portID), request.description)
            var replies: [NetlinkMessage] = []
            var interrupted = false
            receiving: while true {
                for msg in try receiveMessages(request.description) {
                    guard msg.sequence == seq, msg.portID == portID else { continue }
                    if msg.flags.contains(.dumpInterrupted) { interrupted = true }
                    switch msg.type {
                    case MsgType.done:
                        if msg.payload.count >= 4 {
                            let code: Int32 = hostInteger(msg.payload[0..<4])
                            if code < 0 {
                                // DONE carries the error and, with extended ACKs, TLVs after it.
                                let text = msg.flags.contains(.ackTLVs)
                                    ? (try? AttributeList(parsing: msg.payload[4...]))?[NLMSGERR.msg]?.string() : nil
                                throw NetlinkError(errno: -code, request: request.description, extAckMessage: text)
                            }
                        }
                        break receiving
                    case MsgType.error:
                        if let err = try kernelError(msg, request.description) { throw err }
                        break receiving
                    case MsgType.noop:
                        continue
                    case MsgType.overrun:
                        throw NetlinkError(errno: ENOBUFS, request: request.description, detail: "NLMSG_OVERRUN")
                    default:
                        replies.append(msg)
                    }
                }
            }
            if !interrupted { return replies }
        }
        throw NetlinkError(errno: EINTR, request: request.description,
                           detail: "dump interrupted by concurrent changes \(NetlinkSocket.dumpRetries) times")
    }

    /// Sends several requests before reading their ACKs (up to `batchWindow` in
    /// flight). All ACKs of a window are collected; the first failure (in request
    /// order) is thrown, naming the request, and later windows are not sent.
    /// Requests after a failed one in the same window may still have been applied.
    func batch(_ requests: [NetlinkRequest]) throws(NetlinkError) {
        var start = 0
        while start < requests.count {
            let end = min(start + NetlinkSocket.batchWindow, requests.count)
            let window = Array(requests[start..<end])
            let results = try collect(try send(window))
            for (offset, result) in results.enumerated() {
                if case .failure(var err) = result {
                    err.detail = "request \(start + offset + 1) of \(requests.count) in batch"
                    throw err
                }
            }
            start = end
        }
    }

    /// Requests sent by `send(_:)` whose ACKs are still to be read with `collect(_:)`.
    struct Pending: Sendable {
        var requests: [NetlinkRequest]
        var sequences: [UInt32]
    }

    /// Sends requests (with `NLM_F_ACK`) in as few datagrams as fit 32 KiB each,
    /// without reading anything: `collect` reads their replies and ACKs. Between the
    /// two, several sockets (one per namespace) can have their requests in the
    /// kernel at once.
    func send(_ requests: [NetlinkRequest]) throws(NetlinkError) -> Pending {
        var bytes: [UInt8] = []
        var seqs: [UInt32] = []
        seqs.reserveCapacity(requests.count)
        for request in requests {
            let seq = nextSequence()
            seqs.append(seq)
            var req = request
            req.flags = req.flags.union([.request, .ack])
            let encoded = req.encode(sequence: seq, portID: portID)
            if bytes.count + encoded.count > 32 * 1024, !bytes.isEmpty {
                try sendBytes(bytes, "batch")
                bytes.removeAll(keepingCapacity: true)
            }
            bytes += encoded
        }
        if !bytes.isEmpty { try sendBytes(bytes, "batch") }
        return Pending(requests: requests, sequences: seqs)
    }

    /// Reads the ACK of every request `send` sent (in any order): one result per
    /// request, in request order, with the replies that came before its ACK (a GET's
    /// object) or the kernel's refusal with its extended ACK. Throws only when the
    /// socket itself fails.
    func collect(_ pending: Pending) throws(NetlinkError) -> [Result<[NetlinkMessage], NetlinkError>] {
        var indexBySequence: [UInt32: Int] = [:]
        for (i, seq) in pending.sequences.enumerated() { indexBySequence[seq] = i }
        var replies = [[NetlinkMessage]](repeating: [], count: pending.requests.count)
        var results = [Result<[NetlinkMessage], NetlinkError>?](repeating: nil, count: pending.requests.count)
        var open = pending.requests.count
        while open > 0 {
            for msg in try receiveMessages("batch") {
                guard msg.portID == portID, let index = indexBySequence[msg.sequence], results[index] == nil else { continue }
                switch msg.type {
                case MsgType.error:
                    open -= 1
                    if let err = try kernelError(msg, pending.requests[index].description) {
                        results[index] = .failure(err)
                    } else {
                        results[index] = .success(replies[index])
                    }
                case MsgType.done:
                    open -= 1
                    results[index] = .success(replies[index])
                case MsgType.noop:
                    continue
                case MsgType.overrun:
                    throw NetlinkError(errno: ENOBUFS, request: pending.requests[index].description, detail: "NLMSG_OVERRUN")
                default:
                    replies[index].append(msg)
                }
            }
        }
        return results.map { $0! }
    }
}
