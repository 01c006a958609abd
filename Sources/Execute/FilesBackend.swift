#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Model
import Netlink
import Synchronization

/// Carries out the plan's file operations (`/etc/netns/NAME/hosts`, `resolv.conf`)
/// through `EtcNetns`.
///
/// Why it exists: the ownership rule for files, at the moment of writing. A file is
/// replaced or removed only while its first line carries the project's mark: one
/// that someone wrote since the plan was read (their own, or another project's) is
/// refused and left as it is, as a foreign link in the way would be.
public struct FilesBackend: Sendable {
    public var etc: EtcNetns

    public init(etc: EtcNetns = EtcNetns()) {
        self.etc = etc
    }

    public func perform(_ op: Operation) throws(ExecuteError) {
        // Described only for an error: a hosts file's description counts its lines.
        var what: String { DryRun.describe(op) }
        let target: (namespace: String, name: String, project: String, content: String?)
        switch op {
        case .writeNamespaceFile(let file):
            guard let project = file.project else { throw ExecuteError(operation: what, message: "the file carries no netform mark") }
            target = (file.namespace, file.name, project, file.content)
        case .deleteNamespaceFile(let namespace, let name, let project):
            target = (namespace, name, project, nil)
        default:
            throw ExecuteError(operation: what, message: "not a file operation")
        }
        // A file that is not the project's (any more) is left as it is.
        let path = "\(etc.root)/\(target.namespace)/\(target.name)"
        func refusal(_ current: String?) -> String? {
            guard let current else { return nil }
            let owner = NamespaceFile(namespace: target.namespace, name: target.name, content: current).project
            guard owner != target.project else { return nil }
            return "\(path) is \(owner.map { "netform project '\($0)''s" } ?? "not netform's (no netform mark)") now; left as it is"
        }
        do throws(NetlinkError) {
            if let content = target.content {
                try etc.write(namespace: target.namespace, name: target.name, content: content, refusing: refusal)
            } else {
                try etc.remove(namespace: target.namespace, name: target.name, refusing: refusal)
            }
        } catch {
            throw ExecuteError(operation: what, message: error.description, netlink: error)
        }
    }

    /// Performs file operations on distinct paths at the same time (a few worker
    /// threads: each file is a handful of system calls, and a thousand containers
    /// have two thousand files); one result per operation, in order.
    public func performIndependent(_ ops: [Operation]) -> [ExecuteError?] {
        let results = Mutex([ExecuteError?](repeating: nil, count: ops.count))
        let workers = min(4, max(1, ops.count / 8))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for k in stride(from: worker, to: ops.count, by: workers) {
                do throws(ExecuteError) { try perform(ops[k]) } catch { results.withLock { $0[k] = error } }
            }
        }
        return results.withLock { $0 }
    }
}
