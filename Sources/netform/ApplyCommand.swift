import ArgumentParser
import Execute
import Explain
import Foundation
import Netlink
import Plan
import Probe
import Reconcile
import Spec

/// `netform apply SPEC|PLANFILE`: make the host match, verify, roll back on failure.
struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Make this host match a spec (or run a saved plan), verified, rolled back on failure.",
        discussion: """
        Shows the plan and asks for confirmation on a terminal (skip with --yes). After \
        the steps, the host is read again and re-planned: the plan must be empty. When a \
        step fails, the steps already done are undone, newest first.
        Only one apply runs at a time on a host (lock under /run/netform).
        NETFORM_FAILPOINT=step:N makes step N fail (for testing rollback); skip:N makes step N report success without running (for testing verification).
        Exit status: 0 applied (or nothing to do), 1 on an invalid spec, a conflict, a stale plan, \
        a busy lock, or a failed apply (the host is rolled back and the message says so).

        Examples:
          sudo netform apply lab.yaml                       (shows the plan, asks)
          sudo netform apply --yes lab.yaml                 (CI)
          sudo netform apply lab.plan                       (a plan saved with plan --out)
          sudo netform apply --dry-run lab.yaml             (the iproute2/nft commands; changes nothing)
          sudo netform apply --yes --probe lab.yaml         (then test every pair with real traffic)
        """)

    @Argument(help: "A spec file, or a plan saved with `netform plan --out`.") var file: String
    @Flag(name: [.short, .long], help: "Do not ask for confirmation.") var yes = false
    @Flag(help: "Print the kernel operations as iproute2 commands and change nothing.") var dryRun = false
    @Option(help: "Seconds to wait for another apply to finish.") var lockTimeout: Double = 30
    @Flag(help: "After applying, try every pair of containers with real traffic (ICMP) and fail when the kernel disagrees with the spec.")
    var probe = false
    @OptionGroup var host: HostOptions

    func run() throws {
        try Apply.run(source: .file(file), yes: yes, dryRun: dryRun, lockTimeout: lockTimeout, host: host, verb: "Apply",
                      probe: probe)
    }
}

/// `netform destroy SPEC | --project NAME`: remove exactly a project's objects.
struct DestroyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "destroy",
        abstract: "Remove every object a project owns on this host, and nothing else.",
        discussion: """
        Exit status: 0 removed (or nothing to remove), 1 on error (rolled back).

        Examples:
          sudo netform destroy lab.yaml
          sudo netform destroy --project lab --yes
          sudo netform destroy --dry-run lab.yaml
        """)

    @Argument(help: "The spec whose project to destroy.") var spec: String?
    @Option(help: "The project to destroy (instead of a spec).") var project: String?
    @Flag(name: [.short, .long], help: "Do not ask for confirmation.") var yes = false
    @Flag(help: "Print the kernel operations and change nothing.") var dryRun = false
    @Option(help: "Seconds to wait for another apply to finish.") var lockTimeout: Double = 30
    @OptionGroup var host: HostOptions

    func validate() throws {
        guard (spec == nil) != (project == nil) else { throw ValidationError("give either a spec or --project NAME") }
    }

    func run() throws {
        try Apply.run(source: spec.map { .destroySpec($0) } ?? .destroyProject(project!), yes: yes, dryRun: dryRun,
                      lockTimeout: lockTimeout, host: host, verb: "Destroy")
    }
}

/// The shared body of apply and destroy.
enum Apply {
    enum Source {
        case file(String)
        case destroySpec(String)
        case destroyProject(String)
    }

    static func run(source: Source, yes: Bool, dryRun: Bool, lockTimeout: Double, host: HostOptions, verb: String,
                    probe: Bool = false) throws {
        try requireRoot(verb.lowercased())
        // Validate before taking the lock: bad input changes nothing.
        let request: ChangeRequest
        var spec: Spec?
        switch source {
        case .file(let path):
            let saved: Reconciler.PlannedChange?
            do { saved = try PlanFile.read(path: path) } catch {
                printErr("error: \(error)")
                throw ExitCode(1)
            }
            if let saved {
                request = .savedPlan(saved)
            } else {
                spec = try CLIHost.loadSpec(path)
                request = .spec(spec!)
            }
        case .destroySpec(let path):
            spec = try CLIHost.loadSpec(path)
            request = .destroy(project: spec!.project, spec: spec)
        case .destroyProject(let project):
            request = .destroy(project: project, spec: nil)
        }
        // The store comes from the command line over the spec's `cluster:` section
        // (a saved plan keeps the section of the spec it was made from).
        let cluster: ClusterSpec? = if case .savedPlan(let saved) = request { saved.cluster } else { spec?.cluster }
        let live = try CLIHost.connect(host, cluster: cluster)
        var reconciler = live.reconciler
        if ProcessInfo.processInfo.environment["NETFORM_PROFILE"] == "1" { reconciler.profile = Executor.Profile() }

        let prepared: PreparedChange
        do {
            prepared = try reconciler.prepare(request, lock: dryRun ? .none : .wait(.milliseconds(Int(lockTimeout * 1000))))
        } catch let error as SavedPlanError {
            printErr("error: \(file(source)): \(error)")
            throw ExitCode(1)
        } catch let error as Reconciler.StalePlan {
            printErr("error: \(file(source)): \(error)")
            throw ExitCode(1)
        } catch let error as ApplyLock.Busy {
            printErr("error: \(error)")
            throw ExitCode(1)
        } catch let error as ApplyLock.Failure {
            printErr("error: \(error)")
            throw ExitCode(1)
        }
        defer { prepared.release() }
        for name in prepared.removedPlaceholders {
            printErr("netform: removed /run/netns/\(name), an empty placeholder left by an interrupted run")
        }
        let planned = prepared.planned
        warnUnenforced(planned.unenforced, notes: planned.notes)
        var rendered = PlanRenderer(color: useColor()).render(planned.plan)
        if verb == "Destroy", planned.plan.steps.isEmpty, planned.plan.conflicts.isEmpty {
            // Not "the host matches the spec": there may be no spec, and nothing was found.
            let p = planned.plan.project
            rendered = rendered.replacingOccurrences(of: "No changes. The host matches the spec (project '\(p)').",
                                                     with: "Nothing to destroy: project '\(p)' has no objects on this host.")
        }
        print(rendered, terminator: "")
        if !planned.plan.conflicts.isEmpty { throw ExitCode(1) }
        if planned.plan.steps.isEmpty {
            if verb == "Apply" && !dryRun { CLIHost.renewRegistration(live, project: planned.plan.project) }
            if probe && !dryRun { try checkReachability(spec, reconciler) }
            return
        }

        if dryRun {
            print("\nDry run: these kernel operations would run (nothing was changed):")
            for step in planned.plan.steps {
                for line in DryRun.commands(for: step.operation) { print("  \(line)") }
            }
            return
        }
        if !yes {
            guard isatty(STDIN_FILENO) == 1 else {
                printErr("error: \(verb.lowercased()) needs confirmation; stdin is not a terminal, so pass --yes")
                throw ExitCode(1)
            }
            print("\nDo you want to perform these actions? Only 'yes' will be accepted: ", terminator: "")
            guard readLine() == "yes" else {
                print("\(verb) cancelled; nothing was changed.")
                throw ExitCode(1)
            }
        }

        let failpoint = Failpoint(ProcessInfo.processInfo.environment["NETFORM_FAILPOINT"])
        let total = planned.plan.steps.count
        let clock = ContinuousClock()
        var lastProgress = clock.now
        let outcome = try prepared.apply(failpoint: failpoint) { done, total, step in
            // Progress for long applies, at most twice a second.
            if total >= 20, clock.now - lastProgress > .milliseconds(500) {
                printErr("netform: \(done)/\(total) steps (\(step.resource))")
                lastProgress = clock.now
            }
        }
        if let failure = outcome.report.failure {
            printErr("error: step \(failure.step.id) of \(total) (\(failure.step.change.rawValue) \(failure.step.resource)) failed: \(failure.error)")
            if failure.rolledBack {
                printErr("The host was rolled back to its state before this \(verb.lowercased()) (\(outcome.report.completedSteps) completed step\(outcome.report.completedSteps == 1 ? "" : "s") undone).")
            } else {
                printErr("Rollback was incomplete; these inverse operations failed:")
                for e in failure.rollbackErrors { printErr("  \(e)") }
            }
            throw ExitCode(1)
        }
        if let remaining = outcome.remaining {
            printErr("error: verification failed: after the steps ran, the host still differs from the spec:")
            printErr(PlanRenderer(color: false).render(remaining))
            printErr(outcome.verificationRolledBack ? "The host was rolled back." : "Rollback was incomplete.")
            throw ExitCode(1)
        }
        if let profile = reconciler.profile {
            for (name, time) in profile.phases { printErr("profile: phase \(name): \(formatDuration(time))") }
            for (kind, v) in profile.byKind.sorted(by: { $0.value.time > $1.value.time }) {
                printErr("profile: \(kind): \(v.count) × \(formatDuration(v.time / v.count)) = \(formatDuration(v.time))")
            }
        }
        if verb == "Apply" { CLIHost.renewRegistration(live, project: planned.plan.project) }
        let s = planned.plan.summary
        print("\(verb) complete: \(s.add) added, \(s.change) changed, \(s.destroy) destroyed in \(formatDuration(outcome.report.duration)).")
        if probe { try checkReachability(spec, reconciler) }
    }
}

extension Apply {
    static func file(_ source: Source) -> String {
        switch source {
        case .file(let p), .destroySpec(let p): p
        case .destroyProject(let p): p
        }
    }
}

extension Apply {
    /// `apply --probe`: every ordered pair of containers tried with real traffic.
    static func checkReachability(_ spec: Spec?, _ reconciler: Reconciler) throws {
        guard let spec else {
            printErr("error: --probe needs the spec (a saved plan carries no reachability to check)")
            throw ExitCode(1)
        }
        let (compiled, observed) = try reconciler.observeAndCompile(spec)
        let results = try ReachabilityProbe(endpoints: compiled.endpoints).verify(Explainer(spec: spec, compiled: compiled, observed: observed, foreignTables: false))
        let wrong = results.filter { !$0.agrees }
        print("Probe: \(results.count - wrong.count) of \(results.count) container pairs behave as the spec says.")
        guard !wrong.isEmpty else { return }
        for r in wrong {
            printErr("error: \(r.answer.question.from) → \(r.answer.question.to): the spec says \(r.answer.reachable ? "reachable" : "not reachable"), "
                     + "the kernel \(r.probed == true ? "delivers it" : "does not") (\(r.answer.reason))")
        }
        printErr("The changes stay applied; something outside netform's table decides these pairs (`netform explain` names what).")
        throw ExitCode(1)
    }
}
