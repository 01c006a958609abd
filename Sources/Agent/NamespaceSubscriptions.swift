import Model
import Netlink
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One netlink subscription per namespace the project owns (and the host's), kept
/// in step with the spec: opened for a namespace that appeared, closed for one that
/// went — at once, since an open socket keeps a deleted namespace (and its veth
/// peers) alive in the kernel.
///
/// Why it exists: drift is noticed when the kernel reports it, not at the next
/// resync; every event only asks for a reconcile (which compares everything), so a
/// lost or coalesced event never hides drift for longer than one reconcile.
final class NamespaceSubscriptions: Sendable {
    private struct Entry {
        var id: NamespaceID?
        var subscription: NetlinkSubscription
        var task: Task<Void, Never>
    }

    private let entries = Mutex<[NamespaceRef: Entry]>([:])
    private let onEvent: @Sendable (NamespaceRef, NetlinkEvent) -> Void
    private let onError: @Sendable (NamespaceRef, NetlinkError) -> Void

    init(onEvent: @escaping @Sendable (NamespaceRef, NetlinkEvent) -> Void, onError: @escaping @Sendable (NamespaceRef, NetlinkError) -> Void) {
        self.onEvent = onEvent
        self.onError = onError
    }

    /// Subscribes in every namespace of `refs` that exists now and is not yet
    /// subscribed (or was replaced by another namespace of the same name), and closes
    /// the subscriptions of every other namespace.
    func sync(_ refs: Set<NamespaceRef>) {
        var closing: [Entry] = []
        var opened: [(NamespaceRef, Entry)] = []
        let current = entries.withLock { $0 }
        for (ref, entry) in current where !refs.contains(ref) || Self.identity(ref) != entry.id {
            closing.append(entry)
            _ = entries.withLock { $0.removeValue(forKey: ref) }
        }
        for ref in refs.sorted() where entries.withLock({ $0[ref] == nil }) {
            do {
                let namespace: NetworkNamespace? = switch ref {
                case .host: nil
                case .named(let name): try NetworkNamespace.open(name: name)
                case .path(let path): try NetworkNamespace.open(path: path)
                }
                let subscription = try NetlinkSubscription.open(in: namespace)
                let onEvent = self.onEvent
                let task = Task { for await event in subscription { onEvent(ref, event) } }
                opened.append((ref, Entry(id: namespace?.id, subscription: subscription, task: task)))
            } catch {
                // Gone already (deleted between the plan and now): the next
                // reconcile's plan says what to do about it.
                if error.errno != ENOENT { onError(ref, error) }
            }
        }
        entries.withLock { for (ref, e) in opened { $0[ref] = e } }
        for e in closing {
            e.subscription.cancel()
            e.task.cancel()
        }
    }

    /// The namespaces subscribed to now.
    var subscribed: Set<NamespaceRef> { Set(entries.withLock { $0.keys }) }

    func cancelAll() { sync([]) }

    /// The namespace a ref names now (nil for the host's, and when it is gone).
    static func identity(_ ref: NamespaceRef) -> NamespaceID? {
        switch ref {
        case .host: nil
        case .named(let name): try? NamespaceID(path: "\(NetworkNamespace.namedDirectory)/\(name)")
        case .path(let path): try? NamespaceID(path: path)
        }
    }
}
