#if canImport(Glibc)
import Glibc
#endif

/// One apply at a time per host: an exclusive `flock` on `/run/netform/apply.lock`,
/// with the holder's PID written inside so a waiting apply can name it.
///
/// The kernel drops the lock when the holder exits, even by `kill -9`, so a crashed
/// apply never leaves a stale lock behind.
public final class ApplyLock {
    public static let defaultPath = "/run/netform/apply.lock"

    private let fd: Int32

    /// Why the lock could not be taken.
    public struct Busy: Error, Sendable, CustomStringConvertible {
        public var holderPID: Int32?
        public var path: String
        public var waited: Duration
        public var description: String {
            "another netform apply holds \(path)\(holderPID.map { " (PID \($0))" } ?? ""); gave up after \(waited)"
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
        if !dir.isEmpty { mkdir(dir, 0o755) }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(message: "cannot open \(path): \(String(cString: strerror(errno)))") }
        let clock = ContinuousClock()
        let start = clock.now
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                let text = String(cString: strerror(errno))
                close(fd)
                throw Failure(message: "cannot lock \(path): \(text)")
            }
            if clock.now - start >= timeout {
                var buffer = [UInt8](repeating: 0, count: 32)
                let n = pread(fd, &buffer, buffer.count, 0)
                let text = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
                close(fd)
                throw Busy(holderPID: Int32(text.trimmingCharacters()), path: path, waited: clock.now - start)
            }
            usleep(50_000)
        }
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
}

private extension String {
    func trimmingCharacters() -> String {
        String(self.filter { $0.isNumber })
    }
}
