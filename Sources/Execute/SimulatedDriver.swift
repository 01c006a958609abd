import Model

/// Applies operations to a `HostState` value instead of the kernel: the executor's
/// rollback logic is tested with it without root, and it can preview the state a
/// plan leaves.
public final class SimulatedDriver: OperationDriver {
    public private(set) var state: HostState
    /// Operations performed, in order (rollback included).
    public private(set) var log: [Operation] = []

    public init(_ state: HostState) { self.state = state }

    public func perform(_ op: Operation) throws(ExecuteError) {
        do {
            try state.apply(op)
            log.append(op)
        } catch {
            throw ExecuteError(operation: DryRun.describe(op), message: error.message)
        }
    }

    public func awaitGone(_ links: [String]) throws(ExecuteError) {}
}
