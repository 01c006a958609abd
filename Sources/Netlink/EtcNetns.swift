#if canImport(Glibc)
import Glibc
#endif

/// iproute2's per-namespace `/etc`: `ip netns exec NAME` bind-mounts each file of
/// `/etc/netns/NAME/` over `/etc/` in the command's own mount namespace.
///
/// Why it exists: it is where netform puts a container's `hosts` and `resolv.conf`,
/// and those are the one kind of state netform keeps in the file system; this is
/// the only code that touches it. Every path is walked from an opened directory
/// without following symlinks (a symlink planted at `/etc/netns/NAME` cannot
/// redirect a write), a write is a temporary file renamed over the target (a reader
/// never sees half a file), and each system call is wrapped once, its errno in a
/// `NetlinkError`. No policy here: which files are whose is the caller's business.
public struct EtcNetns: Sendable {
    public static let defaultRoot = "/etc/netns"
    public var root: String

    public init(root: String = EtcNetns.defaultRoot) {
        self.root = root
    }

    /// The text of `NAME/file`; nil when it (or its directory) does not exist.
    public func read(namespace: String, name: String) throws(NetlinkError) -> String? {
        guard let top = try openDirectory(root, at: AT_FDCWD, create: false) else { return nil }
        defer { close(top) }
        guard let dir = try openDirectory(namespace, at: top, create: false) else { return nil }
        defer { close(dir) }
        return try Self.read(name, in: dir, path: "\(root)/\(namespace)/\(name)")
    }

    /// Every file of `names` in every namespace directory, sorted by directory then name.
    public func readAll(names: [String]) throws(NetlinkError) -> [(namespace: String, name: String, content: String)] {
        guard let top = try openDirectory(root, at: AT_FDCWD, create: false) else { return [] }
        defer { close(top) }
        var out: [(namespace: String, name: String, content: String)] = []
        // Files with the same bytes share one String: every container of a network has
        // the same `hosts`, which names all of the network's containers, so distinct
        // copies grew with the square of the containers (42 MB at 5000 over 10 networks).
        var texts: [FileBytes: String] = [:]
        for namespace in try Self.entries(of: top, path: root) {
            guard let dir = try? openDirectory(namespace, at: top, create: false) else { continue }  // not a directory
            defer { close(dir) }
            for name in names {
                if let bytes = try Self.readBytes(name, in: dir, path: "\(root)/\(namespace)/\(name)") {
                    let key = FileBytes(bytes)
                    if texts[key] == nil { texts[key] = String(decoding: bytes, as: UTF8.self) }
                    out.append((namespace, name, texts[key]!))
                }
            }
        }
        return out
    }

    /// Writes `NAME/file` whole (mode 0644), making the directories (0755) as needed.
    /// `refusing` sees the file's current text (nil: none) in the same opened
    /// directory, just before: a reason it returns stops the write (errno EEXIST).
    public func write(namespace: String, name: String, content: String,
                      refusing: (String?) -> String? = { _ in nil }) throws(NetlinkError) {
        guard let top = try openDirectory(root, at: AT_FDCWD, create: true) else { throw NetlinkError(errno: ENOENT, request: "mkdir \(root)") }
        defer { close(top) }
        guard let dir = try openDirectory(namespace, at: top, create: true, shownAs: "\(root)/\(namespace)") else {
            throw NetlinkError(errno: ENOENT, request: "mkdir \(root)/\(namespace)")
        }
        defer { close(dir) }
        let path = "\(root)/\(namespace)/\(name)"
        if let why = refusing(try Self.read(name, in: dir, path: path)) { throw NetlinkError(errno: EEXIST, request: "write \(path)", detail: why) }
        let temporary = ".\(name).netform-\(getpid())"
        let fd = openat(dir, temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .lastSystemError("open \(root)/\(namespace)/\(temporary)") }
        var bytes = Array(content.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                let error = NetlinkError.lastSystemError("write \(path)")
                close(fd)
                unlinkat(dir, temporary, 0)
                throw error
            }
            bytes = bytes.dropFirst(n)
        }
        fchmod(fd, 0o644)  // whatever the umask
        close(fd)
        guard renameat(dir, temporary, dir, name) == 0 else {
            let error = NetlinkError.lastSystemError("rename \(path)")
            unlinkat(dir, temporary, 0)
            throw error
        }
    }

    /// Removes `NAME/file`, then the directory when it is left empty. A file already
    /// gone is a delete done. `refusing` sees the file's text first, as for `write`.
    public func remove(namespace: String, name: String, refusing: (String) -> String? = { _ in nil }) throws(NetlinkError) {
        guard let top = try openDirectory(root, at: AT_FDCWD, create: false) else { return }
        defer { close(top) }
        guard let dir = try openDirectory(namespace, at: top, create: false) else { return }
        defer { close(dir) }
        let path = "\(root)/\(namespace)/\(name)"
        guard let current = try Self.read(name, in: dir, path: path) else {
            _ = unlinkat(top, namespace, AT_REMOVEDIR)  // gone already; the directory too when empty
            return
        }
        if let why = refusing(current) { throw NetlinkError(errno: EEXIST, request: "rm \(path)", detail: why) }
        guard unlinkat(dir, name, 0) == 0 || errno == ENOENT else { throw .lastSystemError("unlink \(root)/\(namespace)/\(name)") }
        _ = unlinkat(top, namespace, AT_REMOVEDIR)  // ENOTEMPTY: someone's own files stay, and so does it
    }

    /// Opens (with `create`, first makes) a directory, never through a symlink; nil
    /// when it does not exist and is not to be made.
    func openDirectory(_ name: String, at parent: Int32, create: Bool, shownAs: String? = nil) throws(NetlinkError) -> Int32? {
        if create, mkdirat(parent, name, 0o755) != 0, errno != EEXIST { throw .lastSystemError("mkdir \(shownAs ?? name)") }
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT, !create { return nil }
            throw .lastSystemError("open \(shownAs ?? name)")
        }
        return fd
    }

    static func entries(of dir: Int32, path: String) throws(NetlinkError) -> [String] {
        let copy = dup(dir)
        guard copy >= 0, let stream = fdopendir(copy) else { throw .lastSystemError("opendir \(path)") }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != ".", name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// A file's text, following symlinks (the host's `/etc/resolv.conf` often is
    /// one); nil when it does not exist.
    public static func readText(path: String) throws(NetlinkError) -> String? {
        try read(path, in: AT_FDCWD, path: path, follow: true)
    }

    /// A file's text (at most 1 MiB: netform's are far smaller), never through a
    /// symlink; nil when it does not exist.
    static func read(_ name: String, in dir: Int32, path: String, follow: Bool = false) throws(NetlinkError) -> String? {
        try readBytes(name, in: dir, path: path, follow: follow).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A file's bytes, as `read` reads them.
    static func readBytes(_ name: String, in dir: Int32, path: String, follow: Bool = false) throws(NetlinkError) -> [UInt8]? {
        let fd = openat(dir, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | (follow ? 0 : O_NOFOLLOW))
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw .lastSystemError("open \(path)")
        }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while out.count < 1 << 20 {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { throw .lastSystemError("read \(path)") }
            if n == 0 { break }
            out += buffer[..<n]
        }
        return out
    }
}

/// A file's bytes as a dictionary key, hashed and compared as one block of memory
/// (`[UInt8]`'s own hashing feeds the hasher a byte at a time: a third of the time to
/// read 10,000 files).
private struct FileBytes: Hashable {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    static func == (a: FileBytes, b: FileBytes) -> Bool {
        guard a.bytes.count == b.bytes.count else { return false }
        guard !a.bytes.isEmpty else { return true }
        return a.bytes.withUnsafeBytes { x in b.bytes.withUnsafeBytes { y in memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 } }
    }
}
