#if canImport(Glibc)
import Glibc
#endif
import CNetlink
import Synchronization

/// Identity of a namespace: the device and inode of its nsfs file. Two paths (or
/// fds) name the same namespace exactly when their identities are equal.
public struct NamespaceID: Hashable, Sendable, CustomStringConvertible {
    public var device: UInt64
    public var inode: UInt64

    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    /// The identity of the namespace file at `path` (e.g. `/proc/1/ns/net`).
    public init(path: String) throws(NetlinkError) {
        var st = stat()
        _ = try sysCall("stat(\(path))") { stat(path, &st) }
        self.init(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    init(fd: Int32, what: String) throws(NetlinkError) {
        var st = stat()
        _ = try sysCall("fstat(\(what))") { fstat(fd, &st) }
        self.init(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    public var description: String { "net:[\(inode)]" }
}

/// An open network namespace: a file descriptor on its nsfs file, closed when the
/// value is released. Immutable and `Sendable`.
///
/// Named namespaces are created the iproute2 way (a bind mount under `/run/netns`),
/// so `ip netns list` and `ip netns exec` see them and vice versa.
public final class NetworkNamespace: Sendable, CustomStringConvertible {
    /// The open descriptor (`O_RDONLY | O_CLOEXEC`).
    public let fd: Int32
    public let id: NamespaceID
    /// The path it was opened from.
    public let path: String
    /// The iproute2 name, when opened or created by name.
    public let name: String?

    /// Where iproute2 keeps named namespaces.
    public static let namedDirectory = "/run/netns"

    init(fd: Int32, path: String, name: String?) throws(NetlinkError) {
        self.fd = fd
        self.path = path
        self.name = name
        do {
            id = try NamespaceID(fd: fd, what: path)
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    public var description: String { name ?? path }

    /// Opens the namespace file at `path`.
    public static func open(path: String) throws(NetlinkError) -> NetworkNamespace {
        try open(path: path, name: nil)
    }

    static func open(path: String, name: String?) throws(NetlinkError) -> NetworkNamespace {
        let fd = try sysCall("open(\(path))") { Glibc.open(path, O_RDONLY | O_CLOEXEC) }
        return try NetworkNamespace(fd: fd, path: path, name: name)
    }

    /// Opens the named namespace `/run/netns/NAME`.
    public static func open(name: String) throws(NetlinkError) -> NetworkNamespace {
        try checkName(name)
        return try open(path: "\(namedDirectory)/\(name)", name: name)
    }

    /// Opens the network namespace of process `pid`.
    public static func open(pid: Int32) throws(NetlinkError) -> NetworkNamespace {
        try open(path: "/proc/\(pid)/ns/net")
    }

    /// The namespace of the calling thread.
    public static func current() throws(NetlinkError) -> NetworkNamespace {
        try open(path: "/proc/thread-self/ns/net")
    }

    /// Names of the namespaces under `/run/netns` (sorted; empty when the
    /// directory does not exist).
    public static func listNamed() throws(NetlinkError) -> [String] {
        guard let dir = opendir(namedDirectory) else {
            if Glibc.errno == ENOENT { return [] }
            throw .lastSystemError("opendir(\(namedDirectory))")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            names.append(name)
        }
        return names.sorted()
    }

    /// Creates a named namespace exactly as `ip netns add NAME` does and returns it
    /// open. Its loopback is down, as with iproute2.
    ///
    /// `prepare` runs inside the new namespace before it becomes visible under
    /// /run/netns (e.g. to mark its loopback), so a process killed half-way never
    /// leaves a visible but unmarked namespace. An empty, unmounted file left by such
    /// an interrupted creation is reused.
    public static func create(name: String, prepare: (@Sendable () throws(NetlinkError) -> Void)? = nil) throws(NetlinkError) -> NetworkNamespace {
        try checkName(name)
        try prepareNamedDirectory()
        let path = "\(namedDirectory)/\(name)"
        let fd = Glibc.open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0)
        if fd >= 0 {
            close(fd)
        } else {
            let code = Glibc.errno
            guard code == EEXIST, cnl_is_nsfs(path) == 0 else {
                throw NetlinkError(errno: code, request: "create \(path)")
            }
        }
        do {
            try NamespaceThread.run(in: nil) { () throws(NetlinkError) in
                try cnlCall("unshare(CLONE_NEWNET) for \(name)", cnl_unshare_net())
                try prepare?()
                let source = "/proc/self/task/\(cnl_gettid())/ns/net"
                try cnlCall("mount --bind \(source) \(path)", cnl_bind_mount(source, path))
            }
            return try open(path: path, name: name)
        } catch {
            _ = cnl_umount_detach(path)
            unlink(path)
            throw error
        }
    }

    /// Deletes a named namespace as `ip netns delete NAME` does: detaches the bind
    /// mount and removes the file. The namespace itself lives on while anything
    /// (a process, an open fd or a handle) still holds it.
    public static func delete(name: String) throws(NetlinkError) {
        try checkName(name)
        let path = "\(namedDirectory)/\(name)"
        let r = cnl_umount_detach(path)
        if r < 0, -r != EINVAL {
            throw NetlinkError(errno: -r, request: "umount \(path)")
        }
        _ = try sysCall("unlink(\(path))") { unlink(path) }
    }

    private static func checkName(_ name: String) throws(NetlinkError) {
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), name.utf8.count < 256 else {
            throw .invalid("'\(name)' is not a valid namespace name", request: "netns \(name)")
        }
    }

    private static let prepareLock = Mutex(false)

    /// Ensures `/run/netns` exists and is a shared mount point, like iproute2 does,
    /// so mounts made in it propagate to `ip netns exec` and other mount namespaces.
    static func prepareNamedDirectory() throws(NetlinkError) {
        try prepareLock.withLock { (done: inout Bool) throws(NetlinkError) in
            if done { return }
            if mkdir(namedDirectory, 0o755) != 0, Glibc.errno != EEXIST {
                throw .lastSystemError("mkdir(\(namedDirectory))")
            }
            try cnlCall("make \(namedDirectory) a shared mount", cnl_make_shared_mountpoint(namedDirectory))
            done = true
        }
    }
}

/// Runs work on a dedicated, short-lived pthread, optionally inside another network
/// namespace. The thread enters the namespace with `setns`, runs the work and exits,
/// so no other thread (and no Swift concurrency or Dispatch thread) ever changes
/// namespace. The caller blocks until the thread has finished.
public enum NamespaceThread {
    private final class Context {
        let work: () -> Void
        init(_ work: @escaping () -> Void) { self.work = work }
    }

    private final class ResultBox<T> {
        var result: Result<T, NetlinkError>?
    }

    /// Runs `body` on a new pthread inside `namespace` (or in the caller's namespace
    /// when nil) and returns its result. Threads started by `body` inherit the
    /// namespace; the thread exits afterwards instead of switching back.
    public static func run<T>(in namespace: NetworkNamespace?,
                              _ body: @escaping () throws(NetlinkError) -> T) throws(NetlinkError) -> T {
        let box = ResultBox<T>()
        let context = Context {
            if let namespace {
                let r = cnl_setns_net(namespace.fd)
                if r < 0 {
                    box.result = .failure(NetlinkError(errno: -r, request: "setns(\(namespace))"))
                    return
                }
            }
            do throws(NetlinkError) {
                box.result = .success(try body())
            } catch {
                box.result = .failure(error)
            }
        }
        let raw = Unmanaged.passRetained(context).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { arg in
            let c = Unmanaged<Context>.fromOpaque(arg!).takeRetainedValue()
            c.work()
            return nil
        }, raw)
        if rc != 0 {
            Unmanaged<Context>.fromOpaque(raw).release()
            throw NetlinkError(errno: rc, request: "pthread_create")
        }
        pthread_join(thread, nil)
        guard let result = box.result else {
            throw NetlinkError(errno: EFAULT, request: "namespace thread", detail: "thread produced no result")
        }
        return try result.get()
    }
}
