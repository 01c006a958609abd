#if canImport(Glibc)
import Glibc
#endif
import Model

/// Writes the global sysctls a plan sets (`/proc/sys/...`), in the host namespace
/// (the one netform runs in: `/proc/sys/net` is the writer's network namespace).
public enum SysctlBackend {
    public static func perform(_ op: Operation) throws(ExecuteError) {
        guard case .setSysctl(let ref, let key, let value) = op else {
            throw ExecuteError(operation: DryRun.describe(op), message: "not a sysctl operation")
        }
        guard ref == .host else {
            throw ExecuteError(operation: DryRun.describe(op), message: "sysctls are set in the host namespace only")
        }
        try write(key: key, value: value, operation: DryRun.describe(op))
    }

    static func write(key: String, value: String, operation: String) throws(ExecuteError) {
        let path = HostSysctl.path(key)
        if let (step, code) = write(value, to: path) {
            throw ExecuteError(operation: operation, message: "\(step) \(path): \(String(cString: strerror(code)))")
        }
    }

    /// Writes `value` and a newline to the file at `path` (a `/proc/sys` entry of the
    /// writer's namespace); nil when done, else the call that failed and its errno.
    static func write(_ value: String, to path: String) -> (call: String, errno: Int32)? {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return ("open", errno) }
        defer { close(fd) }
        let bytes = Array((value + "\n").utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { return ("write", n < 0 ? errno : EIO) }
        return nil
    }
}
