#if canImport(Glibc)
import Glibc
#endif

/// The one error type of the netlink layer.
///
/// It carries the errno (from a system call or from the kernel's `NLMSG_ERROR`
/// reply), its `strerror` text, the kernel's extended-ACK message and offset when the
/// kernel sent one, and which request failed ("RTM_NEWLINK veth nf-abc"), so a
/// planner can show the user exactly which step the kernel refused and why.
public struct NetlinkError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The errno value (positive, e.g. `EEXIST`).
    public var errno: Int32
    /// `strerror(errno)`.
    public var errnoText: String
    /// The kernel's extended-ACK message (`NLMSGERR_ATTR_MSG`), if any.
    public var extAckMessage: String?
    /// Offset of the offending attribute in the request (`NLMSGERR_ATTR_OFFS`), if any.
    public var extAckOffset: UInt32?
    /// What was being done: a request description or a system call.
    public var request: String
    /// Extra detail from this library (e.g. why a reply could not be decoded).
    public var detail: String?

    public init(errno: Int32, request: String, extAckMessage: String? = nil,
                extAckOffset: UInt32? = nil, detail: String? = nil) {
        self.errno = errno
        self.errnoText = NetlinkError.text(for: errno)
        self.extAckMessage = extAckMessage
        self.extAckOffset = extAckOffset
        self.request = request
        self.detail = detail
    }

    /// A malformed or unexpected reply (errno `EBADMSG`).
    static func malformed(_ detail: String, request: String = "decode") -> NetlinkError {
        NetlinkError(errno: EBADMSG, request: request, detail: detail)
    }

    /// An argument this library refuses before talking to the kernel (`EINVAL`).
    static func invalid(_ detail: String, request: String) -> NetlinkError {
        NetlinkError(errno: EINVAL, request: request, detail: detail)
    }

    /// The error for a failed system call, reading the thread's errno now.
    static func lastSystemError(_ call: String) -> NetlinkError {
        NetlinkError(errno: Glibc.errno, request: call)
    }

    static func text(for code: Int32) -> String {
        guard let p = strerror(code) else { return "errno \(code)" }
        return String(cString: p)
    }

    public var description: String {
        var s = "\(request): \(errnoText) (errno \(errno))"
        if let m = extAckMessage, !m.isEmpty { s += ": \(m)" }
        if let o = extAckOffset { s += " [attribute at offset \(o)]" }
        if let d = detail { s += " — \(d)" }
        return s
    }
}

/// Runs a system call returning -1 and errno on failure; retries on EINTR.
@inline(__always)
func sysCall<T: BinaryInteger>(_ what: @autoclosure () -> String, _ body: () -> T) throws(NetlinkError) -> T {
    while true {
        let r = body()
        if r >= 0 { return r }
        let e = Glibc.errno
        if e == EINTR { continue }
        throw NetlinkError(errno: e, request: what())
    }
}

/// Checks a CNetlink wrapper result (negative errno on failure).
@inline(__always)
func cnlCall(_ what: @autoclosure () -> String, _ r: Int32) throws(NetlinkError) {
    if r < 0 { throw NetlinkError(errno: -r, request: what()) }
}
