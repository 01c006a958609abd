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
    /// leaves a visible but unmarked namespace. A placeholder left by such an
    /// interrupted creation (see `NamedEntry.placeholder`) is reused; any other file
    /// that is not a namespace is someone else's: EEXIST, never reused.
    public static func create(name: String, prepare: (@Sendable () throws(NetlinkError) -> Void)? = nil) throws(NetlinkError) -> NetworkNamespace {
        try checkName(name)
        try prepareNamedDirectory()
        let path = "\(namedDirectory)/\(name)"
        let fd = Glibc.open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0)
        if fd >= 0 {
            close(fd)
        } else {
            let code = Glibc.errno
            guard code == EEXIST else { throw NetlinkError(errno: code, request: "create \(path)") }
            switch entry(name: name) {
            case .placeholder: break
            case .namespace: throw NetlinkError(errno: EEXIST, request: "create \(path)", detail: "a namespace of that name exists")
            case .absent: throw NetlinkError(errno: EAGAIN, request: "create \(path)", detail: "it appeared and vanished meanwhile")
            case .other(let what):
                throw NetlinkError(errno: EEXIST, request: "create \(path)", detail: "\(what) is there and is not a namespace; netform did not create it and leaves it alone")
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
    ///
    /// A name that is not there throws ENOENT (callers treat it as done). A file
    /// that is not mounted is unlinked only when it is a placeholder; anything else
    /// there is someone else's and is left alone (EEXIST).
    public static func delete(name: String) throws(NetlinkError) {
        try checkName(name)
        let path = "\(namedDirectory)/\(name)"
        let r = cnl_umount_detach(path)
        if r < 0, -r != EINVAL {
            throw NetlinkError(errno: -r, request: "umount \(path)")
        }
        if r < 0 {
            // Not a mount point: only a placeholder is ours to remove.
            switch entry(name: name) {
            case .placeholder, .namespace: break
            case .absent: throw NetlinkError(errno: ENOENT, request: "delete \(path)")
            case .other(let what):
                throw NetlinkError(errno: EEXIST, request: "delete \(path)", detail: "\(what) is there and is not a namespace; left alone")
            }
        }
        _ = try sysCall("unlink(\(path))") { unlink(path) }
    }

    /// What is at `/run/netns/NAME`, looked at without following symlinks.
    ///
    /// Why it exists: `ip netns add` and netform first create an empty mode-000
    /// file and then bind-mount the namespace on it. A process killed in between
    /// leaves that placeholder behind (`ip netns list` then prints "Peer netns
    /// reference is invalid"); it is safe to reuse or remove. Anything else that is
    /// not a namespace was put there by someone else.
    public enum NamedEntry: Sendable, Equatable {
        /// Nothing by that name.
        case absent
        /// A mounted namespace.
        case namespace
        /// An empty regular file with mode 000 that nothing is mounted on.
        case placeholder
        /// Something else (described: "a directory", "a symbolic link", "a regular
        /// file of 12 bytes, mode 0644").
        case other(String)
    }

    /// Classifies `/run/netns/NAME` (see `NamedEntry`).
    public static func entry(name: String) -> NamedEntry {
        guard (try? checkName(name)) != nil else { return .other("an invalid name") }
        let path = "\(namedDirectory)/\(name)"
        var st = stat()
        guard lstat(path, &st) == 0 else { return Glibc.errno == ENOENT ? .absent : .other("an unreadable entry") }
        let type = st.st_mode & S_IFMT
        if type == S_IFLNK { return .other("a symbolic link") }
        if cnl_is_nsfs(path) == 1 { return .namespace }
        if isMountPoint(path) { return .other("a mount point") }
        switch type {
        case S_IFREG:
            let mode = st.st_mode & 0o7777
            if st.st_size == 0 && mode == 0 { return .placeholder }
            return .other("a regular file of \(st.st_size) bytes, mode \(String(mode, radix: 8))")
        case S_IFDIR: return .other("a directory")
        default: return .other("a special file")
        }
    }

    /// Placeholders (see `NamedEntry`) under `/run/netns` whose names start with
    /// `prefix` (e.g. `lab.` for project lab's containers), sorted.
    public static func placeholders(prefix: String) throws(NetlinkError) -> [String] {
        try listNamed().filter { $0.hasPrefix(prefix) && entry(name: $0) == .placeholder }
    }

    /// Removes the placeholder `/run/netns/NAME`, checking again that it is one;
    /// false when it is not (or no longer) a placeholder.
    @discardableResult
    public static func removePlaceholder(name: String) throws(NetlinkError) -> Bool {
        guard entry(name: name) == .placeholder else { return false }
        let path = "\(namedDirectory)/\(name)"
        if unlink(path) != 0 {
            if Glibc.errno == ENOENT { return false }
            throw .lastSystemError("unlink(\(path))")
        }
        return true
    }

    /// Whether `path` is a mount point (listed in /proc/self/mountinfo).
    static func isMountPoint(_ path: String) -> Bool {
        guard let f = fopen("/proc/self/mountinfo", "re") else { return false }
        defer { fclose(f) }
        var line: UnsafeMutablePointer<CChar>?
        var cap = 0
        defer { free(line) }
        // Field 5 is the mount point, with spaces, tabs, newlines and backslashes octal-escaped.
        var escaped = ""
        for c in path {
            switch c {
            case "\\": escaped += "\\134"
            case " ": escaped += "\\040"
            case "\t": escaped += "\\011"
            case "\n": escaped += "\\012"
            default: escaped.append(c)
            }
        }
        while getline(&line, &cap, f) > 0 {
            let fields = String(cString: line!).split(separator: " ", maxSplits: 5)
            if fields.count > 4, fields[4] == escaped { return true }
        }
        return false
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
        let work: () -> Void = {
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
        let thread = try start(work)
        pthread_join(thread, nil)
        guard let result = box.result else {
            throw NetlinkError(errno: EFAULT, request: "namespace thread", detail: "thread produced no result")
        }
        return try result.get()
    }

    /// Starts `work` on a new joinable pthread in the caller's namespace and returns
    /// it; the caller joins it. The one place that creates threads: `run` above, and
    /// the reader threads of `NetlinkSubscription` (whose socket `run` opened inside
    /// its namespace, so the reader itself never enters one).
    static func start(_ work: @escaping () -> Void) throws(NetlinkError) -> pthread_t {
        let raw = Unmanaged.passRetained(Context(work)).toOpaque()
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
        return thread
    }
}

