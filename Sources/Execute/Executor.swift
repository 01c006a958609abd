import Model
import Plan

/// A deliberate fault for tests, from `NETFORM_FAILPOINT`:
/// - `step:N` makes step N fail before it runs, so rollback can be exercised at every
///   step of a plan;
/// - `skip:N` makes step N report success without running, as a kernel that
///   acknowledged a change and did not make it would: the steps all "succeed", and
///   apply's verification (re-observe, re-plan) must catch what is missing and roll
///   the host back.
public struct Failpoint: Sendable, Equatable, CustomStringConvertible {
    /// What happens at the step.
    public enum Action: String, Sendable, Equatable {
        /// The step throws before it runs.
        case fail = "step"
        /// The step is counted as done without running.
        case skip
    }

    public var step: Int
    public var action: Action

    public init(step: Int, action: Action = .fail) {
        self.step = step
        self.action = action
    }

    /// Parses `step:N` or `skip:N` (N ≥ 1); nil for anything else.
    public init?(_ text: String?) {
        guard let text, let colon = text.firstIndex(of: ":"), let action = Action(rawValue: String(text[..<colon])),
              let n = Int(text[text.index(after: colon)...]), n > 0 else { return nil }
        step = n
        self.action = action
    }

    /// How it is written in `NETFORM_FAILPOINT`.
    public var description: String { "\(action.rawValue):\(step)" }

    func fails(_ step: Step) -> Bool { action == .fail && self.step == step.id }
    func skips(_ step: Step) -> Bool { action == .skip && self.step == step.id }
}

/// What happened when a plan was executed.
public struct ExecutionReport: Sendable {
    public var completedSteps: Int
    public var failure: Failure?
    public var duration: Duration

    /// The step that failed, why, and whether rollback restored the host.
    public struct Failure: Sendable {
        public var step: Step
        public var error: ExecuteError
        /// True when every inverse ran: the host is as it was before the apply.
        public var rolledBack: Bool
        /// Inverse operations that failed (the host may need a look).
        public var rollbackErrors: [ExecuteError]
        /// Completed steps that rollback could not undo (a deleted half of a veth
        /// pair has nothing to be recreated from); each is also in `rollbackErrors`.
        public var notUndone: [Step] = []
    }

    public var succeeded: Bool { failure == nil }
}

/// Runs a plan's steps in order; on the first failure, runs the inverses of the
/// steps already done, newest first, so the host ends as it was.
///
/// A step that failed created nothing: the kernel driver removes what a create
/// that failed half-way made before it throws, so the failed step's own inverse is
/// not run — it would delete an object someone else made meanwhile (a create that
/// failed with EEXIST). The one exception is an in-place change of one of the
/// project's links (`setLink`), which may have half happened and whose inverse only
/// sets that same link's attributes back.
public enum Executor {
    /// Time spent per kind of operation, when profiling is asked for.
    public final class Profile {
        public private(set) var byKind: [String: (count: Int, time: Duration)] = [:]
        /// Named phases of an apply (plan, execute, verify) and their durations.
        public var phases: [(name: String, time: Duration)] = []
        public init() {}
        func add(_ op: Operation, _ d: Duration) {
            // The case's name, without printing its payload (a hosts file whole).
            let kind = Mirror(reflecting: op).children.first?.label ?? String(String(describing: op).prefix { $0 != "(" })
            let old = byKind[kind] ?? (0, .zero)
            byKind[kind] = (old.count + 1, old.time + d)
        }
    }

    public static func run(_ plan: Plan, driver: some OperationDriver, failpoint: Failpoint? = nil, profile: Profile? = nil,
                           progress: (_ done: Int, _ total: Int, _ step: Step) -> Void = { _, _, _ in }) -> ExecutionReport {
        let clock = ContinuousClock()
        let start = clock.now
        var done: [Step] = []
        // Links that vanish asynchronously (veths of deleted namespaces): waited
        // for only when a later step reuses one of their names, and at the end.
        var pendingGone = Set<String>()
        func rollback(after step: Step, _ error: ExecuteError, undoFailed: Bool) -> ExecutionReport {
            if undoFailed, case .setLink = step.operation {
                for op in step.inverse { try? driver.perform(op) }
            }
            if !pendingGone.isEmpty { try? driver.awaitGone(pendingGone.sorted()) }
            let (rollbackErrors, notUndone) = undo(done, driver: driver)
            return ExecutionReport(completedSteps: done.count,
                                   failure: .init(step: step, error: error, rolledBack: rollbackErrors.isEmpty, rollbackErrors: rollbackErrors,
                                                  notUndone: notUndone),
                                   duration: clock.now - start)
        }
        driver.prepare(plan.steps.flatMap { [$0.operation] + $0.inverse })
        var i = 0
        while i < plan.steps.count {
            // A run of namespace creations, of address and route additions, of
            // /etc/netns file writes and removals, or of link deletions in one
            // namespace is given to the driver at once: it may create namespaces and
            // write files at the same time, send additions without waiting on each,
            // and delete links in one request (not across a failpoint, which must
            // stay exact).
            var run = i
            let group = batchGroup(plan.steps[i].operation)
            while run < plan.steps.count, let group, run - i < group.window, batchGroup(plan.steps[run].operation) == group,
                  failpoint?.step != plan.steps[run].id { run += 1 }
            if let group, run - i >= group.minimum {
                let batch = Array(plan.steps[i..<run])
                let batchStart = clock.now
                let errors = driver.performIndependent(batch.map(\.operation))
                let each = (clock.now - batchStart) / batch.count
                var firstFailure: (Step, ExecuteError)?
                for (step, error) in zip(batch, errors) {
                    progress(done.count, plan.steps.count, step)
                    profile?.add(step.operation, each)
                    if let error { firstFailure = firstFailure ?? (step, error) } else { done.append(step) }
                }
                if let (step, error) = firstFailure { return rollback(after: step, error, undoFailed: false) }
                i = run
                continue
            }
            let step = plan.steps[i]
            progress(done.count, plan.steps.count, step)
            let stepStart = clock.now
            defer { profile?.add(step.operation, clock.now - stepStart) }
            do throws(ExecuteError) {
                if failpoint?.fails(step) == true {
                    throw ExecuteError(operation: DryRun.describe(step.operation),
                                       message: "failpoint NETFORM_FAILPOINT=step:\(step.id)")
                }
                if failpoint?.skips(step) == true {
                    // Reported done, not run: only verification can tell.
                    done.append(step)
                    i += 1
                    continue
                }
                if let name = hostLinkCreated(by: step.operation), pendingGone.contains(name) {
                    try driver.awaitGone(pendingGone.sorted())
                    pendingGone.removeAll()
                }
                try driver.perform(step.operation)
                pendingGone.formUnion(step.awaitGone)
                done.append(step)
            } catch {
                return rollback(after: step, error, undoFailed: failpoint?.fails(step) != true)
            }
            i += 1
        }
        if !pendingGone.isEmpty {
            do { try driver.awaitGone(pendingGone.sorted()) } catch {
                pendingGone.removeAll()
                return rollback(after: plan.steps[plan.steps.count - 1], error, undoFailed: false)
            }
        }
        return ExecutionReport(completedSteps: done.count, failure: nil, duration: clock.now - start)
    }


    /// Undoes completed steps, newest first: runs each one's inverse. A step without
    /// an inverse is undone only when it changed a link that another of these steps
    /// created (the isolation of a new veth goes with the veth); otherwise (a deleted
    /// half of a veth pair, which cannot be recreated) it is reported, in
    /// `notUndone` and as an error, never counted as rolled back.
    public static func undo(_ completed: [Step], driver: some OperationDriver) -> (errors: [ExecuteError], notUndone: [Step]) {
        var errors: [ExecuteError] = []
        var notUndone: [Step] = []
        var created = Set<String>()
        for s in completed {
            for case .deleteLink(let ns, let name) in s.inverse { created.insert("\(ns)/\(name)") }
        }
        for s in completed.reversed() {
            guard s.inverse.isEmpty else {
                for op in s.inverse {
                    do { try driver.perform(op) } catch { errors.append(error) }
                }
                continue
            }
            if case .setLink(let ns, let name, _) = s.operation, created.contains("\(ns)/\(name)") { continue }
            notUndone.append(s)
            let why = s.change == .delete || s.change == .replace
                ? "what it deleted cannot be recreated (it has no inverse); the host keeps that change"
                : "it has no inverse; the host keeps that change"
            errors.append(ExecuteError(operation: "step \(s.id) (\(DryRun.describe(s.operation)))", message: "cannot be undone: \(why)"))
        }
        return (errors, notUndone)
    }

    /// Kinds of steps the executor hands to the driver in runs, with how many at
    /// most. Each run's steps never depend on each other: namespace creations (a
    /// name each), address and route additions (sent in plan order), file writes and
    /// removals under `/etc/netns` (a path each), link deletions in one namespace.
    enum BatchGroup: Equatable {
        case createNamespaces, addAddressesAndRoutes, namespaceFiles
        /// Link deletions in one namespace (a destroy's bridges): the driver may
        /// delete them in one request.
        case deleteLinks(NamespaceRef)
        var window: Int {
            switch self {
            case .createNamespaces: 64
            case .addAddressesAndRoutes: 4096
            case .namespaceFiles, .deleteLinks: 256
            }
        }
        /// The shortest run worth handing over at once.
        var minimum: Int {
            switch self {
            case .deleteLinks: 2
            default: 4
            }
        }
    }

    static func batchGroup(_ op: Operation) -> BatchGroup? {
        switch op {
        case .createNamespace: .createNamespaces
        case .addAddress, .addRoute: .addAddressesAndRoutes
        case .writeNamespaceFile, .deleteNamespaceFile: .namespaceFiles
        case .deleteLink(let ns, _): .deleteLinks(ns)
        default: nil
        }
    }

    /// The host-namespace link name an operation creates, if any.
    static func hostLinkCreated(by op: Operation) -> String? {
        switch op {
        case .createBridge(.host, let name, _, _, _), .createVeth(.host, let name, _, _, _, _, _, _, _),
             .createVXLAN(.host, let name, _, _, _, _, _), .createMacvlan(.host, let name, _, _, _, _, _):
            name
        default:
            nil
        }
    }
}
