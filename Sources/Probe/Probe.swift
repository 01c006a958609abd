#if canImport(Glibc)
import Glibc
#endif
import Addressing
import Netlink

/// Why a probe could not be run (not: why traffic did not pass — that is its result).
public struct ProbeError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Real traffic between two namespaces, to check what `explain` says against what
/// the kernel does: an ICMP echo, a TCP connect, or a UDP datagram to a listener the
/// probe opens itself in the target namespace.
///
/// Sockets are created on a dedicated pthread inside their namespace
/// (`NamespaceThread`) — a socket stays in the namespace it was made in — and are
/// then used from the calling thread; no Swift concurrency or Dispatch thread enters
/// a namespace. Probes only ever send to addresses of namespaces netform manages.
public enum Probe {
    public enum Kind: Sendable, Equatable {
        case icmp
        case tcp(port: Int)
        case udp(port: Int)
    }

    /// Whether `target` answers from `source`'s namespace (nil: the caller's), with
    /// the listener (TCP/UDP) opened in `listenerNamespace`.
    public static func reaches(from source: NetworkNamespace?, to target: IPAddress, kind: Kind,
                               listenerNamespace: NetworkNamespace?, timeout: Duration = .milliseconds(1500)) throws(ProbeError) -> Bool {
        switch kind {
        case .icmp:
            let fd = try socket(in: source, family: target.family, type: Int32(SOCK_RAW.rawValue),
                                proto: target.family == .v4 ? Int32(IPPROTO_ICMP) : Int32(IPPROTO_ICMPV6))
            defer { close(fd) }
            return try echo(fd, to: target, timeout: timeout)
        case .tcp(let port):
            let listener = try listen(in: listenerNamespace, family: target.family, type: Int32(SOCK_STREAM.rawValue), port: port)
            defer { if let listener { close(listener) } }
            let fd = try socket(in: source, family: target.family, type: Int32(SOCK_STREAM.rawValue), proto: 0)
            defer { close(fd) }
            return try connect(fd, to: target, port: port, timeout: timeout)
        case .udp(let port):
            guard let listener = try listen(in: listenerNamespace, family: target.family, type: Int32(SOCK_DGRAM.rawValue), port: port) else {
                throw ProbeError("UDP port \(port) is in use in the target namespace: cannot tell whether a datagram arrives")
            }
            defer { close(listener) }
            let fd = try socket(in: source, family: target.family, type: Int32(SOCK_DGRAM.rawValue), proto: 0)
            defer { close(fd) }
            let deadline = ContinuousClock.now + timeout
            repeat {
                try send(fd, Array("netform probe".utf8), to: target, port: port)
                if try readable(listener, for: .milliseconds(250)) { return true }
            } while ContinuousClock.now < deadline
            return false
        }
    }

    // MARK: sockets (each C call wrapped once, errno in the message)

    static func failure(_ what: String) -> ProbeError { ProbeError("\(what): \(String(cString: strerror(errno))) (errno \(errno))") }

    static func socket(in ns: NetworkNamespace?, family: IPFamily, type: Int32, proto: Int32) throws(ProbeError) -> Int32 {
        let domain = family == .v4 ? AF_INET : AF_INET6
        let result: Int32
        do {
            result = try NamespaceThread.run(in: ns) { () throws(NetlinkError) -> Int32 in
                let fd = Glibc.socket(domain, type | Int32(SOCK_CLOEXEC.rawValue), proto)
                if fd < 0 { throw NetlinkError(errno: errno, request: "socket") }
                return fd
            }
        } catch {
            throw ProbeError("socket in \(ns.map { "\($0)" } ?? "this namespace"): \(error)")
        }
        return result
    }

    /// A listener on `port` in `ns`, or nil when something listens there already
    /// (then that service answers).
    static func listen(in ns: NetworkNamespace?, family: IPFamily, type: Int32, port: Int) throws(ProbeError) -> Int32? {
        let fd = try socket(in: ns, family: family, type: type, proto: 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let any: IPAddress = family == .v4 ? IPAddress("0.0.0.0")! : IPAddress("::")!
        let rc = withSockaddr(any, port: port) { bind(fd, $0, $1) }
        if rc != 0 {
            let e = errno
            close(fd)
            if e == EADDRINUSE { return nil }
            errno = e
            throw failure("bind port \(port)")
        }
        if type == Int32(SOCK_STREAM.rawValue), Glibc.listen(fd, 8) != 0 {
            close(fd)
            throw failure("listen")
        }
        return fd
    }

    static func withSockaddr<T>(_ a: IPAddress, port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        switch a {
        case .v4(let v):
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = UInt16(port).bigEndian
            sin.sin_addr.s_addr = v.value.bigEndian
            return withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        case .v6(let v):
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = UInt16(port).bigEndian
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { raw in
                for (i, b) in v.bytes.enumerated() { raw[i] = b }
            }
            return withUnsafePointer(to: &sin6) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        }
    }

    static func readable(_ fd: Int32, for d: Duration) throws(ProbeError) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ms = Int32(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
        while true {
            let rc = poll(&p, 1, max(ms, 1))
            if rc < 0 && errno == EINTR { continue }
            if rc < 0 { throw failure("poll") }
            return rc > 0
        }
    }

    static func send(_ fd: Int32, _ bytes: [UInt8], to a: IPAddress, port: Int) throws(ProbeError) {
        let n = bytes.withUnsafeBytes { b in withSockaddr(a, port: port) { sendto(fd, b.baseAddress, b.count, 0, $0, $1) } }
        // An ICMP error from an earlier datagram surfaces here: the path says no.
        if n < 0 && errno != ECONNREFUSED && errno != EHOSTUNREACH && errno != ENETUNREACH { throw failure("sendto \(a)") }
    }

    static func connect(_ fd: Int32, to a: IPAddress, port: Int, timeout: Duration) throws(ProbeError) -> Bool {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        let rc = withSockaddr(a, port: port) { Glibc.connect(fd, $0, $1) }
        if rc == 0 { return true }
        guard errno == EINPROGRESS else { return false }
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let ms = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        var r: Int32
        repeat { r = poll(&p, 1, ms) } while r < 0 && errno == EINTR
        guard r > 0 else { return false }
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        return err == 0
    }

    /// Sends echo requests (every 250 ms) until a reply from `target` or the timeout.
    static func echo(_ fd: Int32, to target: IPAddress, timeout: Duration) throws(ProbeError) -> Bool {
        let v6 = target.family == .v6
        let id = UInt16(truncatingIfNeeded: getpid())
        var seq: UInt16 = 0
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            seq &+= 1
            var packet: [UInt8] = [v6 ? 128 : 8, 0, 0, 0, UInt8(id >> 8), UInt8(id & 0xff), UInt8(seq >> 8), UInt8(seq & 0xff)]
            packet += Array("netform probe".utf8)
            if !v6 {  // the kernel computes the ICMPv6 checksum itself
                let sum = checksum(packet)
                packet[2] = UInt8(sum >> 8)
                packet[3] = UInt8(sum & 0xff)
            }
            try send(fd, packet, to: target, port: 0)
            let until = min(deadline, ContinuousClock.now + .milliseconds(250))
            while ContinuousClock.now < until {
                guard try readable(fd, for: until - ContinuousClock.now) else { break }
                var buf = [UInt8](repeating: 0, count: 1500)
                let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { continue }
                // IPv4 raw sockets deliver the IP header; IPv6 ones do not.
                let offset = v6 ? 0 : Int(buf[0] & 0x0f) * 4
                guard n >= offset + 8 else { continue }
                if !v6 {
                    let src = IPAddress.v4(IPv4Address(UInt32(buf[12]) << 24 | UInt32(buf[13]) << 16 | UInt32(buf[14]) << 8 | UInt32(buf[15])))
                    guard src == target else { continue }
                }
                let type = buf[offset], replyID = UInt16(buf[offset + 4]) << 8 | UInt16(buf[offset + 5])
                if type == (v6 ? 129 : 0), replyID == id { return true }
            }
        }
        return false
    }

    static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i + 1 < bytes.count { sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]); i += 2 }
        if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }
}
