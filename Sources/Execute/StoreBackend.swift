import Cluster
import Model

/// Carries out the store operations of a plan: address claims (create-if-absent, so
/// two hosts never hold one address), puts and deletes (a key already gone is a
/// delete done), and the removal of a vanished host's keys (only while its
/// registration is still gone). A host's registration (`hosts/HOST`) is written on
/// a lease and removed with it (`HostRegistration`). Keys and values come from the
/// plan; the store's own errors keep their kind (retryable or not) in the message.
public final class StoreBackend: @unchecked Sendable {
    public let store: any ClusterStore

    public init(_ store: any ClusterStore) { self.store = store }

    /// The registration a key is, if it is a host key of the layout.
    func registration(_ key: String) -> HostRegistration? {
        guard let (project, parsed) = StoreLayout.parse(key), case .host(let host) = parsed else { return nil }
        return HostRegistration(store: store, project: project, host: host)
    }

    public func perform(_ op: Operation) throws(ExecuteError) {
        do throws(StoreError) {
            switch op {
            case .claimStoreKey(let key, let value):
                guard try store.create(key, Array(value.utf8), lease: nil) else {
                    throw StoreError(.invalid, "\(key) was created meanwhile, by another host; plan again (the next plan compares the definitions)")
                }
            case .putStoreKey(let key, let value):
                if let registration = registration(key) {
                    try registration.register(record: value)
                } else {
                    try store.put(key, Array(value.utf8), lease: nil)
                }
            case .deleteStoreKey(let key):
                if let registration = registration(key) { try registration.release() } else { try store.delete(key) }
            case .storeTransaction(let txn):
                let taken = try store.commit(txn)
                guard taken.isEmpty else {
                    throw StoreError(.invalid, "\(taken.joined(separator: ", ")) \(taken.count == 1 ? "is" : "are") held by another host (claimed meanwhile); plan again")
                }
            case .collectStoreKey(let key, let guardKey):
                // false: the host registered again meanwhile; its key stays (verify
                // then finds nothing left to collect).
                _ = try store.delete(key, unlessExists: guardKey)
            default:
                throw StoreError(.invalid, "not a store operation")
            }
        } catch {
            throw ExecuteError(operation: DryRun.describe(op), message: "cluster store: \(error.message)")
        }
    }
}
