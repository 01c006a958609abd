import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// A system call that failed, with its errno: what the agent's own I/O (inotify)
/// throws.
public struct AgentSystemError: Error, Sendable, CustomStringConvertible {
    public var call: String
    public var errno: Int32
    public var description: String { "\(call): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// Calls `body`, retrying on EINTR; a negative result throws `AgentSystemError`.
func agentSysCall(_ what: @autoclosure () -> String, _ body: () -> Int32) throws(AgentSystemError) -> Int32 {
    while true {
        let r = body()
        if r >= 0 { return r }
        if errno == EINTR { continue }
        throw AgentSystemError(call: what(), errno: errno)
    }
}

/// Entries appearing, disappearing or being rewritten in directories (inotify): a
/// namespace added or deleted under /run/netns, the spec file saved by an editor
/// (which often writes a new file and renames it over the old one, so the directory
/// is watched, not the file).
///
/// Why it exists: the agent must notice these at once, not on its next resync.
/// Events are delivered on a dispatch queue; `cancel()` closes the descriptor.
public final class DirectoryWatch: Sendable {
    /// Dispatch sources are thread-safe (cancel may be called from any thread).
    nonisolated(unsafe) private let source: any DispatchSourceRead

    /// Watches `directory`; `onChange` gets the name of each entry that changed.
    public init(directory: String, onChange: @escaping @Sendable (_ name: String) -> Void) throws(AgentSystemError) {
        let fd = try agentSysCall("inotify_init1") { inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC)) }
        let mask = UInt32(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB)
        do {
            _ = try agentSysCall("inotify_add_watch \(directory)") { inotify_add_watch(fd, directory, mask) }
        } catch {
            close(fd)
            throw error
        }
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: DispatchQueue(label: "netform.watch.\(directory)"))
        source.setEventHandler {
            var buffer = [UInt8](repeating: 0, count: 8192)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                guard n > 0 else { return }
                for name in Self.names(in: buffer[..<n]) { onChange(name) }
            }
        }
        source.setCancelHandler { close(fd) }
        source.resume()
        self.source = source
    }

    /// The entry names of the `struct inotify_event`s in `bytes` (an event without a
    /// name, such as an overflow, reports "").
    static func names(in bytes: ArraySlice<UInt8>) -> [String] {
        var out: [String] = []
        var i = bytes.startIndex
        let header = 16  // wd, mask, cookie, len
        while i + header <= bytes.endIndex {
            let len = Int(bytes[i + 12]) | Int(bytes[i + 13]) << 8 | Int(bytes[i + 14]) << 16 | Int(bytes[i + 15]) << 24
            let start = i + header
            let end = min(start + len, bytes.endIndex)
            let raw = bytes[start..<end].prefix { $0 != 0 }
            out.append(String(decoding: raw, as: UTF8.self))
            i = start + len
        }
        return out
    }

    public func cancel() { source.cancel() }
    deinit { source.cancel() }
}
