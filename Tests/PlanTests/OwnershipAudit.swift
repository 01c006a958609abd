import Model
import Plan

/// "No operation touches an object that is not the project's", checked on the
/// operations themselves (typed identities, never their printed text).
///
/// Every object an operation (or an inverse) changes, deletes, adds to or attaches
/// to must be the project's in the state the plan was made from, or be created by
/// the plan itself. What the design allows on foreign ground is explicit: a macvlan
/// is stacked on a host device, a VXLAN uses an underlay device, links and
/// addresses are made inside an adopted namespace, `lo` of a desired namespace is
/// brought up, and the host-wide forwarding sysctls are set (never reset).
enum OwnershipAudit {
    /// An object an operation acts on.
    enum Target: Hashable, CustomStringConvertible {
        case namespace(NamespaceRef)
        case link(NamespaceRef, String)
        case table(NamespaceRef, family: String, name: String)
        case sysctl(NamespaceRef, String)
        /// A key of the cluster store.
        case storeKey(String)
        /// A file under `/etc/netns` (namespace directory, file name).
        case file(String, String)

        var description: String {
            switch self {
            case .namespace(let r): "namespace \(r)"
            case .link(let r, let n): "link \(n) in \(r)"
            case .table(let r, let f, let n): "table \(f) \(n) in \(r)"
            case .sysctl(let r, let k): "sysctl \(k) in \(r)"
            case .storeKey(let k): "store key \(k)"
            case .file(let n, let f): "file /etc/netns/\(n)/\(f)"
            }
        }
    }

    /// What an operation makes exist (nothing else may be made by it).
    static func created(by op: Model.Operation) -> [Target] {
        switch op {
        case .createNamespace(let name, _): [.namespace(.named(name))]
        case .createBridge(let ns, let name, _, _, _), .createVXLAN(let ns, let name, _, _, _, _, _),
             .createMacvlan(let ns, let name, _, _, _, _, _):
            [.link(ns, name)]
        case .createVeth(let ns, let name, _, _, _, _, let peer, _, _): [.link(ns, name), .link(peer.namespace, peer.name)]
        case .replaceFirewallTable(let ns, let t): [.table(ns, family: t.family, name: t.name)]
        case .claimStoreKey(let key, _), .putStoreKey(let key, _): [.storeKey(key)]
        case .storeTransaction(let txn): (txn.creates + txn.puts).map { .storeKey($0.key) }
        case .writeNamespaceFile(let f): [.file(f.namespace, f.name)]
        default: []
        }
    }

    /// The existing objects an operation changes, deletes or attaches something to.
    static func touched(by op: Model.Operation) -> [Target] {
        switch op {
        case .createNamespace, .createBridge, .createMacvlan: []
        case .deleteNamespace(let name): [.namespace(.named(name))]
        case .createVeth(let ns, _, _, let master, _, _, _, _, _), .createVXLAN(let ns, _, _, let master, _, _, _):
            master.map { [.link(ns, $0)] } ?? []
        case .setLink(let ns, let name, let change):
            [.link(ns, name)] + ((change.master ?? nil).map { [.link(ns, $0)] } ?? [])
        case .deleteLink(let ns, let name): [.link(ns, name)]
        case .addAddress(let ns, let a), .deleteAddress(let ns, let a): [.link(ns, a.link)]
        case .addRoute(let ns, let r), .deleteRoute(let ns, let r): r.device.map { [.link(ns, $0)] } ?? [.namespace(ns)]
        case .addNeighbour(let ns, let n), .deleteNeighbour(let ns, let n): [.link(ns, n.link)]
        case .addFDBEntry(let ns, let e), .deleteFDBEntry(let ns, let e): [.link(ns, e.link)]
        case .replaceFirewallTable(let ns, let t): [.table(ns, family: t.family, name: t.name)]
        case .deleteFirewallTable(let ns, let f, let n): [.table(ns, family: f, name: n)]
        case .setSysctl(let ns, let key, _): [.sysctl(ns, key)]
        case .claimStoreKey(let key, _), .putStoreKey(let key, _), .deleteStoreKey(let key), .collectStoreKey(let key, _): [.storeKey(key)]
        case .storeTransaction(let txn): txn.keys.map { .storeKey($0) }
        case .writeNamespaceFile(let f): [.file(f.namespace, f.name)]
        case .deleteNamespaceFile(let n, let f, _): [.file(n, f)]
        }
    }

    /// Whether `target` is the project's in `state` (by its marks, as the design
    /// defines them).
    static func isProjects(_ target: Target, in state: HostState, project: String, desired: DesiredState) -> Bool {
        let group = OwnerMark.linkGroup(project: project)
        switch target {
        case .namespace(let ref):
            if ref == .host { return false }
            // A route without a device in an adopted namespace is the project's to add.
            return state[ref]?.owner?.project == project || desired.adoptedNamespaces.contains(ref)
        case .link(let ref, let name):
            guard let ns = state[ref], let link = ns.link(named: name) else { return false }
            if link.owner?.project == project { return true }
            if link.owner != nil { return false }  // another project's, or a mark of its own
            if link.kind == .loopback { return false }
            return ns.owner?.project == project || link.group == group
        case .table(_, let family, let name):
            return FirewallTable(family: family, name: name, chains: []).belongs(to: project)
        case .sysctl(let ref, let key):
            if let bridge = HostSysctl.bridge(of: key) {
                return isProjects(.link(ref, bridge), in: state, project: project, desired: desired)
            }
            return HostSysctl.managed.contains(key)
        case .storeKey(let key):
            // Only keys under the project's own prefix (`/netform/PROJECT/`).
            return key.hasPrefix(StoreLayout.prefix(project: project))
        case .file(let n, let f):
            // By the mark on its first line, only.
            return state[.host]?.netnsFiles.first { $0.namespace == n && $0.name == f }?.project == project
        }
    }

    /// The violations of the rule in `plan` (steps and inverses), made against
    /// `observed` for `desired`: one line each, empty when there are none.
    static func violations(_ plan: Plan, observed: HostState, desired: DesiredState) -> [String] {
        let project = plan.project
        var made = Set<Target>()
        for step in plan.steps {
            for t in created(by: step.operation) { made.insert(t) }
        }
        var out: [String] = []
        for step in plan.steps {
            for (op, role) in [(step.operation, "operation")] + step.inverse.map({ ($0, "inverse") }) {
                // Creating something that exists and is not ours would be a takeover.
                for t in created(by: op) where role == "operation" {
                    if exists(t, in: observed), !isProjects(t, in: observed, project: project, desired: desired) {
                        out.append("step \(step.id) \(role) \(op) creates over foreign \(t)")
                    }
                }
                for t in touched(by: op) {
                    if made.contains(t) || isProjects(t, in: observed, project: project, desired: desired) { continue }
                    if allowedOnForeignGround(op, t, desired: desired) { continue }
                    out.append("step \(step.id) \(role) touches foreign \(t): \(op)")
                }
            }
        }
        return out
    }

    static func exists(_ t: Target, in state: HostState) -> Bool {
        switch t {
        case .namespace(let r): state[r] != nil
        case .link(let r, let n): state[r]?.link(named: n) != nil
        case .table(let r, let f, let n): state[r]?.firewallTable(family: f, name: n) != nil
        case .sysctl(let r, let k): state[r]?.sysctls[k] != nil
        case .storeKey(let k): state[.host]?.clusterStore?[k] != nil
        case .file(let n, let f): state[.host]?.netnsFiles.contains { $0.namespace == n && $0.name == f } == true
        }
    }

    /// The design's explicit exceptions: bringing up `lo` in a namespace the spec
    /// wires (adopted ones included), and nothing else.
    static func allowedOnForeignGround(_ op: Model.Operation, _ t: Target, desired: DesiredState) -> Bool {
        if case .setLink(let ns, "lo", let change) = op, case .link(ns, "lo") = t,
           desired.state[ns] != nil, change == LinkChangeSet(isUp: true) || change == LinkChangeSet(isUp: false) {
            return true
        }
        return false
    }
}
