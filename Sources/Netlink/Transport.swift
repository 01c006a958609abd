#if canImport(Glibc)
import Glibc
#endif
import CNetlink
import Synchronization

/// One datagram as received: its bytes (one or more netlink messages) and the port
/// id of its sender (0 for the kernel).
public struct NetlinkDatagram: Sendable, Hashable {
    public var bytes: [UInt8]
    public var sender: UInt32

    public init(bytes: [UInt8], sender: UInt32 = 0) {
        self.bytes = bytes
        self.sender = sender
    }
}

/// The datagram layer under the netlink socket's state machine (sequence and port-id
/// checks, multipart dumps, `NLM_F_DUMP_INTR` retries, batching, extended ACKs) and
/// under `NetlinkSubscription`'s reader.
///
/// Why it exists: that state machine is where netlink bugs hide (a stale reply taken
/// for ours, an interrupted dump returned as complete), and the kernel produces those
/// cases only by chance. With the datagrams behind a protocol, tests drive it with
/// `FakeNetlinkTransport` (mdlayher/netlink's `nltest.Dial`) without root, and the
/// kernel tier checks only what the kernel decides. The real transport wraps an
/// `AF_NETLINK` socket bound in some network namespace.
///
/// Errors are `NetlinkError`s with these errnos, which the layers above handle:
/// `EINTR` (retried), `ENOBUFS` (the kernel dropped messages because the receive
/// buffer was full; the socket stays usable), `EAGAIN` (no datagram within the
/// receive timeout), `ECANCELED` (after `interrupt()`), `EBADF` (after `close()`).
public protocol NetlinkTransport: AnyObject, Sendable {
    /// The port id the socket is bound to (`nl_pid`); the kernel's replies carry it.
    var portID: UInt32 { get }
    /// Sends one datagram (one or more messages) to the kernel.
    func send(_ datagram: [UInt8]) throws(NetlinkError)
    /// Receives one whole datagram, blocking until one arrives.
    func receive() throws(NetlinkError) -> NetlinkDatagram
    /// Wakes a `receive` blocked on another thread: it, and every later one, throws
    /// `ECANCELED`. Callable from any thread, any number of times.
    func interrupt()
    /// Releases the socket; later calls throw `EBADF`. Idempotent. Called by the
    /// transport's one user (never concurrently with its own `receive`).
    func close()
}

/// The real transport: an `AF_NETLINK`/`NETLINK_ROUTE` socket.
///
/// A request socket (`NetlinkHandle`) receives with a plain blocking `recv` (with a
/// 30 s `SO_RCVTIMEO`, so a kernel that never answers cannot hang the caller). A
/// subscription socket also has a wake-up pipe: `receive` polls both, so `interrupt`
/// wakes it at once.
final class SocketTransport: NetlinkTransport {
    private struct Descriptors {
        var socket: Int32
        /// The pipe that wakes a blocked `receive` (subscription sockets only).
        var wakeRead: Int32 = -1
        var wakeWrite: Int32 = -1
        var interrupted = false
    }

    let portID: UInt32
    private let descriptors: Mutex<Descriptors>

    /// Takes ownership of a configured, bound socket (and of the wake-up pipe).
    init(fd: Int32, portID: UInt32, wakePipe: (read: Int32, write: Int32)? = nil) {
        self.portID = portID
        descriptors = Mutex(Descriptors(socket: fd, wakeRead: wakePipe?.read ?? -1, wakeWrite: wakePipe?.write ?? -1))
    }

    deinit { close() }

    /// The socket's descriptor, or -1 once closed (for tests and diagnostics).
    var descriptor: Int32 { descriptors.withLock { $0.socket } }

    func send(_ datagram: [UInt8]) throws(NetlinkError) {
        let fd = descriptors.withLock { $0.socket }
        guard fd >= 0 else { throw NetlinkError(errno: EBADF, request: "sendto(AF_NETLINK)", detail: "socket closed") }
        var kernel = sockaddr_nl()
        kernel.nl_family = sa_family_t(AF_NETLINK)
        let n = try sysCall("sendto(AF_NETLINK)") {
            datagram.withUnsafeBytes { buf in
                withUnsafePointer(to: &kernel) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, buf.baseAddress, buf.count, 0, $0, socklen_t(MemoryLayout<sockaddr_nl>.size))
                    }
                }
            }
        }
        guard n == datagram.count else {
            throw NetlinkError(errno: EMSGSIZE, request: "sendto(AF_NETLINK)", detail: "short send: \(n) of \(datagram.count) bytes")
        }
    }

    /// Peeks at the datagram's size first, so that no message is ever truncated.
    func receive() throws(NetlinkError) -> NetlinkDatagram {
        let (fd, wake, interrupted) = descriptors.withLock { ($0.socket, $0.wakeRead, $0.interrupted) }
        guard fd >= 0 else { throw NetlinkError(errno: EBADF, request: "recv(AF_NETLINK)", detail: "socket closed") }
        if interrupted { throw NetlinkError(errno: ECANCELED, request: "recv(AF_NETLINK)", detail: "interrupted") }
        if wake >= 0 {
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
            _ = try sysCall("poll(AF_NETLINK)") { poll(&fds, 2, -1) }
            if fds[1].revents != 0 {
                throw NetlinkError(errno: ECANCELED, request: "recv(AF_NETLINK)", detail: "interrupted")
            }
        }
        let size = try sysCall("recv(AF_NETLINK, MSG_PEEK)") {
            recv(fd, nil, 0, Int32(MSG_PEEK) | Int32(MSG_TRUNC))
        }
        var from = sockaddr_nl()
        var fromLen = socklen_t(MemoryLayout<sockaddr_nl>.size)
        var received = 0
        var failure: NetlinkError?
        let bytes = [UInt8](unsafeUninitializedCapacity: max(size, 1)) { buf, count in
            do throws(NetlinkError) {
                received = try sysCall("recvfrom(AF_NETLINK)") {
                    withUnsafeMutablePointer(to: &from) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            recvfrom(fd, buf.baseAddress, buf.count, 0, $0, &fromLen)
                        }
                    }
                }
                count = min(received, buf.count)
            } catch {
                failure = error
                count = 0
            }
        }
        if let failure { throw failure }
        return NetlinkDatagram(bytes: bytes, sender: from.nl_pid)
    }

    func interrupt() {
        descriptors.withLock { d in
            d.interrupted = true
            if d.wakeWrite >= 0 {
                var one: UInt8 = 1
                // Non-blocking: a full pipe already wakes the reader.
                _ = write(d.wakeWrite, &one, 1)
            }
        }
    }

    func close() {
        descriptors.withLock { d in
            for fd in [d.socket, d.wakeRead, d.wakeWrite] where fd >= 0 { _ = Glibc.close(fd) }
            d.socket = -1
            d.wakeRead = -1
            d.wakeWrite = -1
        }
    }

    // MARK: - Opening

    /// Opens a request socket in the calling thread's namespace, configured as
    /// `NetlinkSocket` needs it, and returns its descriptor and port id (plain values,
    /// so they can come back from a namespace thread).
    static func openRequestSocket() throws(NetlinkError) -> (fd: Int32, portID: UInt32) {
        let fd = try openSocket()
        do {
            try setOption(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1, "NETLINK_EXT_ACK")
            try setOption(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1, "NETLINK_GET_STRICT_CHK")
            try setOption(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1, "NETLINK_CAP_ACK")
            var size: Int32 = 1 << 20
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            // A kernel that never answers would otherwise hang the caller forever.
            var tv = timeval(tv_sec: 30, tv_usec: 0)
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            return (fd, try bindSocket(fd))
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
    }

    /// A subscription socket's descriptors: the socket, joined to `groups`, and its
    /// wake-up pipe.
    struct SubscriptionDescriptors: Sendable {
        var fd: Int32
        var portID: UInt32
        var wakeRead: Int32
        var wakeWrite: Int32
    }

    /// How much the kernel may queue for a subscription before it drops events
    /// (`ENOBUFS`): a burst of thousands of changes (a namespace with its links going
    /// away) must fit. `SO_RCVBUFFORCE` needs CAP_NET_ADMIN; without it `SO_RCVBUF`
    /// is capped by net.core.rmem_max.
    static let subscriptionBufferSize: Int32 = 8 << 20

    /// Opens a socket in the calling thread's namespace that receives the multicast
    /// `groups` (`RTNLGRP_*`), with a generous receive buffer and a wake-up pipe.
    static func openSubscriptionSocket(groups: [UInt32],
                                       receiveBuffer: Int32 = subscriptionBufferSize) throws(NetlinkError) -> SubscriptionDescriptors {
        let fd = try openSocket()
        var pipeFDs: [Int32] = [-1, -1]
        do {
            if (try? setOption(fd, SOL_SOCKET, SO_RCVBUFFORCE, receiveBuffer, "SO_RCVBUFFORCE")) == nil {
                try setOption(fd, SOL_SOCKET, SO_RCVBUF, receiveBuffer, "SO_RCVBUF")
            }
            let portID = try bindSocket(fd)
            for group in groups {
                try setOption(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, Int32(group), "NETLINK_ADD_MEMBERSHIP \(group)")
            }
            _ = try sysCall("pipe") { pipe(&pipeFDs) }
            for p in pipeFDs {
                _ = try sysCall("fcntl(F_SETFD, FD_CLOEXEC)") { fcntl(p, F_SETFD, FD_CLOEXEC) }
                _ = try sysCall("fcntl(F_SETFL, O_NONBLOCK)") { fcntl(p, F_SETFL, O_NONBLOCK) }
            }
            return SubscriptionDescriptors(fd: fd, portID: portID, wakeRead: pipeFDs[0], wakeWrite: pipeFDs[1])
        } catch {
            for p in pipeFDs where p >= 0 { _ = Glibc.close(p) }
            _ = Glibc.close(fd)
            throw error
        }
    }

    private static func openSocket() throws(NetlinkError) -> Int32 {
        try sysCall("socket(AF_NETLINK, NETLINK_ROUTE)") {
            socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), NETLINK_ROUTE)
        }
    }

    /// Binds to a port id the kernel picks and returns it.
    private static func bindSocket(_ fd: Int32) throws(NetlinkError) -> UInt32 {
        var addr = sockaddr_nl()
        addr.nl_family = sa_family_t(AF_NETLINK)
        _ = try sysCall("bind(AF_NETLINK)") {
            withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_nl>.size))
                }
            }
        }
        var len = socklen_t(MemoryLayout<sockaddr_nl>.size)
        _ = try sysCall("getsockname(AF_NETLINK)") {
            withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
            }
        }
        return addr.nl_pid
    }

    private static func setOption(_ fd: Int32, _ level: Int32, _ opt: Int32, _ value: Int32, _ name: String) throws(NetlinkError) {
        var v = value
        _ = try sysCall("setsockopt(\(name))") {
            setsockopt(fd, level, opt, &v, socklen_t(MemoryLayout<Int32>.size))
        }
    }
}
