import Execute
import Model
import Plan
import Spec

/// What one run of the cycle is asked to do: reach a spec, run a saved plan, or
/// remove a project.
public enum ChangeRequest {
    /// Make the host match this spec.
    case spec(Spec)
    /// Run a plan saved by `plan --out` (checked against the host as it is now).
    case savedPlan(Reconciler.PlannedChange)
    /// Remove everything the project owns here; the spec, when given, names the
    /// namespaces it adopted (their interfaces are the project's to remove).
    case destroy(project: String, spec: Spec?)

    /// The project the request is about.
    public var project: String {
        switch self {
        case .spec(let s): s.project
        case .savedPlan(let p): p.plan.project
        case .destroy(let p, _): p
        }
    }
}

/// Whether a run takes the host's apply lock.
public enum LockPolicy: Sendable, Equatable {
    /// No lock: the run only looks (`plan`, `apply --dry-run`).
    case none
    /// Wait up to this long for another apply to finish.
    case wait(Duration)
}

/// A plan made under the host's apply lock, ready to run: the shared path of
/// `apply`, `destroy` and `netform agent`, between "the host was read" and "the host
/// was changed and verified".
///
/// Why it exists: the lock must be held from the moment the host is read until
/// verification ends (another apply in between would make the plan stale), and every
/// front end must do the same steps in the same order (lock, leftover placeholders,
/// plan or saved-plan check, apply, verify). The front end only decides whether to
/// go ahead (a confirmation prompt, a dry run) and prints.
public final class PreparedChange {
    public let planned: Reconciler.PlannedChange
    /// Placeholders under /run/netns an interrupted run had left, removed under the lock.
    public let removedPlaceholders: [String]
    private var lock: ApplyLock?
    private let reconciler: Reconciler

    init(planned: Reconciler.PlannedChange, removedPlaceholders: [String], lock: ApplyLock?, reconciler: Reconciler) {
        self.planned = planned
        self.removedPlaceholders = removedPlaceholders
        self.lock = lock
        self.reconciler = reconciler
    }

    /// Nothing to change (and no conflict).
    public var isEmpty: Bool { planned.plan.steps.isEmpty && planned.plan.conflicts.isEmpty }

    /// Runs the steps, verifies, rolls back on failure (see `Reconciler.apply`),
    /// then releases the lock. A prepared change runs at most once.
    public func apply(failpoint: Failpoint? = nil,
                      progress: (_ done: Int, _ total: Int, _ step: Step) -> Void = { _, _, _ in }) throws -> Reconciler.Outcome {
        defer { release() }
        guard planned.plan.conflicts.isEmpty else { throw Conflicts(count: planned.plan.conflicts.count) }
        precondition(lock != nil || planned.plan.steps.isEmpty, "a change prepared without the lock cannot be applied")
        return try reconciler.apply(planned, failpoint: failpoint, progress: progress)
    }

    /// Releases the lock without applying (the user said no, or it was a dry run).
    public func release() {
        lock = nil
    }

    /// The plan has conflicts: nothing may run.
    public struct Conflicts: Error, Sendable, CustomStringConvertible {
        public var count: Int
        public var description: String { "the plan has \(count) conflict\(count == 1 ? "" : "s"); nothing was changed" }
    }
}

extension Reconciler {
    /// Takes the lock (unless `.none`), removes the placeholders an interrupted run of
    /// the project left, and plans the request against the host as it is now. A
    /// saved plan is checked first (`checkSaved`: it must be exactly what a new plan
    /// would be); `SavedPlanError` and `StalePlan` say why not.
    public func prepare(_ request: ChangeRequest, lock policy: LockPolicy) throws -> PreparedChange {
        let lock: ApplyLock? = switch policy {
        case .none: nil
        case .wait(let timeout): try ApplyLock(timeout: timeout)
        }
        var removed: [String] = []
        if lock != nil { removed = try removeLeftoverPlaceholders(project: request.project) }
        let clock = ContinuousClock()
        let start = clock.now
        let planned: PlannedChange = switch request {
        // Planned to be applied now, never saved: no fingerprint.
        case .spec(let spec): try plan(spec, fingerprinted: false)
        case .savedPlan(let saved): try checkSaved(saved)
        case .destroy(let project, let spec):
            try destroyPlan(project: project, adopted: spec.map { try plan($0, fingerprinted: false).desired.adoptedNamespaces } ?? [])
        }
        profile?.phases.append(("observe+compile+plan", clock.now - start))
        return PreparedChange(planned: planned, removedPlaceholders: removed, lock: lock, reconciler: self)
    }
}
