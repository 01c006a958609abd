import Cluster
import Model

/// Carries out the store operations of a plan: address claims (create-if-absent, so
/// two hosts never hold one address), puts and deletes (a key already gone is a
/// delete done). Keys and values come from the plan; the store's own errors keep
/// their kind (retryable or not) in the message.
public final class StoreBackend: @unchecked Sendable {
    public let store: any ClusterStore

    public init(_ store: any ClusterStore) { self.store = store }

    public func perform(_ op: Operation) throws(ExecuteError) {
        do throws(StoreError) {
            switch op {
            case .claimStoreKey(let key, let value):
                guard try store.create(key, Array(value.utf8), lease: nil) else {
                    throw StoreError(.invalid, "\(key) is held by another host (claimed meanwhile); plan again")
                }
            case .putStoreKey(let key, let value):
                try store.put(key, Array(value.utf8), lease: nil)
            case .deleteStoreKey(let key):
                try store.delete(key)
            default:
                throw StoreError(.invalid, "not a store operation")
            }
        } catch {
            throw ExecuteError(operation: DryRun.describe(op), message: "cluster store: \(error.message)")
        }
    }
}
