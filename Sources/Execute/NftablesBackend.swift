import Firewall
import Model
import Netlink

/// Carries out the firewall operations of a plan through libnftables: each replace
/// is one atomic batch (a failed batch applies nothing, so a failed step created
/// nothing), each delete is `add table; delete table` (a table already gone is a
/// delete done).
///
/// One libnftables context per namespace, created inside it (libnftables binds its
/// netlink socket when the context is made).
public final class NftablesBackend {
    private var contexts: [NamespaceRef: Nftables] = [:]

    public init() {}

    func context(_ ref: NamespaceRef) throws(ExecuteError) -> Nftables {
        if let c = contexts[ref] { return c }
        do {
            let ns: NetworkNamespace? = switch ref {
            case .host: nil
            case .named(let n): try NetworkNamespace.open(name: n)
            case .path(let p): try NetworkNamespace.open(path: p)
            }
            let c = try Nftables(namespace: ns)
            contexts[ref] = c
            return c
        } catch let error as NetlinkError {
            throw ExecuteError(operation: "nft context in \(ref)", message: "\(error)", netlink: error)
        } catch {
            throw ExecuteError(operation: "nft context in \(ref)", message: "\(error)")
        }
    }

    public func perform(_ op: Operation) throws(ExecuteError) {
        switch op {
        case .replaceFirewallTable(let ref, let table):
            let c = try context(ref)
            do { try c.apply(table) } catch { throw ExecuteError(operation: DryRun.describe(op), message: error.message) }
        case .deleteFirewallTable(let ref, let family, let name):
            let c = try context(ref)
            do { try c.deleteTable(family: family, name: name) } catch { throw ExecuteError(operation: DryRun.describe(op), message: error.message) }
        default:
            throw ExecuteError(operation: DryRun.describe(op), message: "not a firewall operation")
        }
    }
}

/// The live host's driver: routes each operation to its backend (netlink for
/// namespaces, links, addresses, routes, neighbours and FDB; nftables for the
/// project's tables). Execution and rollback go through this one routing.
public final class HostDriver: OperationDriver {
    public let netlink: KernelDriver
    public let nftables: NftablesBackend
    /// The cluster store, when the host has one (etcd or the embedded store).
    public var store: StoreBackend?
    /// `/etc/netns`.
    public var files: FilesBackend

    public init(netlink: KernelDriver = KernelDriver(), nftables: NftablesBackend = NftablesBackend(), store: StoreBackend? = nil,
                files: FilesBackend = FilesBackend()) {
        self.netlink = netlink
        self.files = files
        self.nftables = nftables
        self.store = store
    }

    public func perform(_ op: Operation) throws(ExecuteError) {
        switch op.backend {
        case .netlink: try netlink.perform(op)
        case .nftables: try nftables.perform(op)
        case .sysctl: try SysctlBackend.perform(op)
        case .files: try files.perform(op)
        case .store:
            guard let store else { throw ExecuteError(operation: DryRun.describe(op), message: "no cluster store is configured") }
            try store.perform(op)
        }
    }

    public func awaitGone(_ links: [String]) throws(ExecuteError) { try netlink.awaitGone(links) }

    public func prepare(_ ops: [Operation]) { netlink.prepare(ops) }

    public func performIndependent(_ ops: [Operation]) -> [ExecuteError?] {
        if ops.allSatisfy({ $0.backend == .files }) { return files.performIndependent(ops) }
        guard ops.allSatisfy({ $0.backend == .netlink }) else {
            return ops.map { op -> ExecuteError? in
                do throws(ExecuteError) { try perform(op); return nil } catch { return error }
            }
        }
        return netlink.performIndependent(ops)
    }
}
