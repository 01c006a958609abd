#if canImport(Glibc)
import Glibc
#endif

/// One apply at a time per host: an exclusive `flock` on `/run/netform/apply.lock`,
/// with the holder's PID written inside so a waiting apply can name it.
///
/// The kernel drops the lock when the holder exits, even by `kill -9`, so a crashed
/// apply never leaves a stale lock behind; the PID it wrote may stay in the file, so
/// a waiting apply names the holder the kernel reports (`/proc/locks`), and the PID
/// in the file only while that process is alive.
///
/// The lock file is root's business: its directory is created 0700, the file 0600,
/// opened with `O_NOFOLLOW` (a symlink planted there is refused, its target never
/// truncated), and an existing file is used only when it is a regular file owned by
/// this user.
public final class ApplyLock {
    public static let defaultPath = "/run/netform/apply.lock"

    private let fd: Int32

    /// Why the lock could not be taken.
    public struct Busy: Error, Sendable, CustomStringConvertible {
        public var holderPID: Int32?
        public var path: String
        public var waited: Duration
        public var description: String {
            "another netform apply holds \(path)\(holderPID.map { " (PID \($0))" } ?? " (holder unknown)"); gave up after \(Self.seconds(waited))"
        }

        /// `1.0 s`, `0.5 s`: a wait as a person reads it (not `1.0040745 seconds`).
        static func seconds(_ d: Duration) -> String {
            let s = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
            return String(format: "%.1f s", s)
        }
    }

    /// The lock file could not be opened or locked at all (not a busy lock).
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Takes the lock, waiting up to `timeout`.
    public init(path: String = ApplyLock.defaultPath, timeout: Duration) throws {
        let dir = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
        if !dir.isEmpty { try Self.prepareDirectory(dir) }
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let code = errno
            if code == ELOOP { throw Failure(message: "cannot open \(path): it is a symbolic link; refusing to follow it (remove it)") }
            throw Failure(message: "cannot open \(path): \(String(cString: strerror(code)))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_uid == geteuid() else {
            close(fd)
            throw Failure(message: "cannot use \(path): not a regular file owned by uid \(geteuid()); refusing to write to it (remove it)")
        }
        let clock = ContinuousClock()
        let start = clock.now
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                let text = String(cString: strerror(errno))
                close(fd)
                throw Failure(message: "cannot lock \(path): \(text)")
            }
            if clock.now - start >= timeout {
                let holder = Self.holder(fd: fd, device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
                close(fd)
                throw Busy(holderPID: holder, path: path, waited: clock.now - start)
            }
            usleep(50_000)
        }
        fchmod(fd, 0o600)
        ftruncate(fd, 0)
        let pid = "\(getpid())\n"
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        self.fd = fd
    }

    deinit {
        ftruncate(fd, 0)
        flock(fd, LOCK_UN)
        close(fd)
    }

    /// Creates the lock directory 0700, or checks an existing one is a real
    /// directory (not a symlink); one this user owns is tightened to 0700.
    static func prepareDirectory(_ dir: String) throws {
        if mkdir(dir, 0o700) != 0, errno != EEXIST {
            throw Failure(message: "cannot create \(dir): \(String(cString: strerror(errno)))")
        }
        var st = stat()
        guard lstat(dir, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            throw Failure(message: "cannot use \(dir) for the apply lock: not a directory (a symbolic link?); remove it")
        }
        if st.st_uid == geteuid(), st.st_mode & 0o777 != 0o700 { chmod(dir, 0o700) }
    }

    /// The PID holding the lock: the one the kernel lists in `/proc/locks` for this
    /// file, else the PID written in the file while that process is alive; nil when
    /// neither is known (never a dead PID left by a killed apply).
    static func holder(fd: Int32, device: UInt64, inode: UInt64) -> Int32? {
        if let pid = lockHolder(device: device, inode: inode) { return pid }
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0, let pid = Int32(String(decoding: buffer[0..<n], as: UTF8.self).filter(\.isNumber)), pid > 0 else { return nil }
        return isAlive(pid) ? pid : nil
    }

    static func isAlive(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// Reads `/proc/locks` ("1: FLOCK  ADVISORY  WRITE 1234 00:1f:5678 0 EOF") for
    /// the live process holding a lock on the file with this device and inode.
    static func lockHolder(device: UInt64, inode: UInt64) -> Int32? {
        guard let f = fopen("/proc/locks", "re") else { return nil }
        defer { fclose(f) }
        let major = (device >> 8) & 0xfff | (device >> 32) & ~UInt64(0xfff)
        let minor = device & 0xff | (device >> 12) & ~UInt64(0xff)
        var line: UnsafeMutablePointer<CChar>?
        var cap = 0
        defer { free(line) }
        while getline(&line, &cap, f) > 0 {
            let fields = String(cString: line!).split(separator: " ")
            // Blocked waiters are listed as "1: -> FLOCK ..."; skip them.
            guard fields.count >= 6, fields[1] == "FLOCK", let pid = Int32(fields[4]) else { continue }
            let id = fields[5].split(separator: ":")
            guard id.count == 3, UInt64(id[0], radix: 16) == major, UInt64(id[1], radix: 16) == minor,
                  UInt64(id[2]) == inode else { continue }
            if pid > 0, isAlive(pid) { return pid }
        }
        return nil
    }
}
