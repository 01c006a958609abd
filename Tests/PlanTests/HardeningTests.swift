import Addressing
import Execute
import Foundation
import Model
import Plan
@testable import Reconcile
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A saved plan, as `plan --out` writes it and `apply PLANFILE` reads it back.
private func roundTrip(_ p: Reconciler.PlannedChange) throws -> Reconciler.PlannedChange {
    try PlanFile.decode(try PlanJSON.encoder(pretty: false).encode(p), path: "plan.json")
}

/// A fresh private directory for file tests, removed by the caller.
private func scratchDirectory() throws -> String {
    var template = Array("/tmp/netform-hardening-XXXXXX".utf8CString)
    guard let p = mkdtemp(&template) else { throw POSIXError(.EIO) }
    return String(cString: p)
}

private func fileMode(_ path: String, follow: Bool = false) -> (type: mode_t, mode: mode_t)? {
    var st = stat()
    guard (follow ? stat(path, &st) : lstat(path, &st)) == 0 else { return nil }
    return (st.st_mode & S_IFMT, st.st_mode & 0o7777)
}

@Suite struct SavedPlanChecks {
    @Test func anUnchangedSavedPlanRunsAsPlanned() throws {
        let (r, _) = simulatedReconciler(pristineHost())
        let planned = try r.plan(try spec(seedSpec))
        let checked = try r.checkSaved(try roundTrip(planned))
        #expect(checked.plan == planned.plan)
    }

    @Test func anAppendedDeleteOfAForeignLinkIsRefusedAndNothingRuns() throws {
        let (r, driver) = simulatedReconciler(pristineHost())
        var planned = try r.plan(try spec(seedSpec))
        let last = planned.plan.steps.last!
        planned.plan.steps.append(Step(id: last.id + 1, resource: last.resource, change: .create,
                                       operation: .deleteLink(namespace: .host, name: "br-sentinel"), inverse: [],
                                       disruption: .none))
        let saved = try roundTrip(planned)
        #expect(throws: SavedPlanError.self) { try r.checkSaved(saved) }
        do {
            _ = try r.checkSaved(saved)
        } catch let e as SavedPlanError {
            #expect(e.code == .tampered)
            #expect(e.description.contains("step \(last.id + 1)"), "names the invented step: \(e)")
        }
        #expect(driver.log.isEmpty, "nothing was executed")
        #expect(driver.state[.host]?.link(named: "br-sentinel") != nil)
    }

    @Test func anEditedStepIsRefused() throws {
        let (r, _) = simulatedReconciler(pristineHost())
        var planned = try r.plan(try spec(seedSpec))
        // Same number of steps, one operation swapped for a foreign delete.
        planned.plan.steps[0].operation = .deleteLink(namespace: .host, name: "vsent0")
        #expect { try r.checkSaved(try roundTrip(planned)) } throws: { ($0 as? SavedPlanError)?.code == .tampered }
    }

    @Test func aRemovedStepIsRefused() throws {
        let (r, _) = simulatedReconciler(pristineHost())
        var planned = try r.plan(try spec(seedSpec))
        planned.plan.steps.removeLast()
        #expect { try r.checkSaved(try roundTrip(planned)) } throws: { ($0 as? SavedPlanError)?.code == .tampered }
    }

    @Test func anUnknownFormatVersionIsRefusedWithAClearError() throws {
        let (r, _) = simulatedReconciler(pristineHost())
        var planned = try r.plan(try spec(seedSpec))
        planned.plan.formatVersion = 99
        let data = try PlanJSON.encoder(pretty: false).encode(planned)
        #expect(PlanFile.isPlan(data))
        #expect {
            try PlanFile.decode(data, path: "p.json")
        } throws: { e in
            guard let e = e as? SavedPlanError else { return false }
            return e.code == .unsupportedFormat && e.description.contains("format_version 99") && e.description.contains("format 1")
        }
        #expect { try r.checkSaved(planned) } throws: { ($0 as? SavedPlanError)?.code == .unsupportedFormat }
    }

    @Test func aTruncatedPlanFileIsACorruptPlanInOneShortLine() throws {
        let (r, _) = simulatedReconciler(pristineHost())
        let data = try PlanJSON.encoder(pretty: false).encode(try r.plan(try spec(seedSpec)))
        #expect(data.count > 4000, "the plan is long enough for the message length to matter")
        for cut in [data.count / 2, data.count - 1, 20] {
            let truncated = data.prefix(cut)
            #expect(PlanFile.isPlan(truncated), "a truncated plan is still recognised as a plan file (cut \(cut))")
            #expect {
                try PlanFile.decode(truncated, path: "plan.json")
            } throws: { e in
                guard let e = e as? SavedPlanError else { return false }
                return e.code == .corrupt && !e.description.contains("\n") && e.description.count < 200
                    && e.description.hasPrefix("plan.json: corrupt plan file")
            }
        }
    }

    @Test func aSpecWrittenAsJSONOrFlowYAMLIsNotTakenForAPlan() {
        #expect(!PlanFile.isPlan(Data(#"{"version": 1, "project": "lab", "networks": {}}"#.utf8)))
        #expect(!PlanFile.isPlan(Data("{version: 1, project: lab}".utf8)))
        #expect(!PlanFile.isPlan(Data("version: 1\nproject: lab\n".utf8)))
        #expect(PlanFile.isPlan(Data(#"  {"desired":{"#.utf8)))
    }

    @Test func theDeleteAuditRefusesUnmarkedTargetsAndAcceptsGoneOnes() throws {
        let host = pristineHost()
        let plan = Plan(project: "seed", steps: [
            Step(id: 1, resource: Resource(.host, "x"), change: .delete, operation: .deleteLink(namespace: .host, name: "gone"),
                 inverse: [], disruption: .destroy),
        ], conflicts: [], fingerprint: "", scope: [])
        #expect(Reconciler.unownedDelete(in: plan, observed: host) == nil, "an object already gone is a delete done")
        var bad = plan
        bad.steps.append(Step(id: 2, resource: Resource(.host, "x"), change: .delete,
                              operation: .deleteLink(namespace: .host, name: "br-sentinel"), inverse: [], disruption: .destroy))
        #expect(Reconciler.unownedDelete(in: bad, observed: host) == "link br-sentinel in host")
        var route = plan
        route.steps = [Step(id: 1, resource: Resource(.host, "x"), change: .update,
                            operation: .deleteRoute(namespace: .host, route: host[.host]!.routes[0]), inverse: [], disruption: .inPlace)]
        #expect(Reconciler.unownedDelete(in: route, observed: host) != nil, "a foreign route is never deleted")
    }
}

@Suite struct IdempotentDeletes {
    @Test func deletingWhatIsNotThereSucceedsAndChangesNothing() throws {
        let start = pristineHost()
        let a = AddressState(link: "eth0", address: IPAddress("10.9.9.9")!, prefixLength: 24)
        let ops: [Model.Operation] = [
            .deleteNamespace(name: "seed.gone"),
            .deleteLink(namespace: .host, name: "gone0"),
            .deleteLink(namespace: .named("seed.gone"), name: "eth0"),
            .deleteAddress(namespace: .host, address: a),
            .deleteAddress(namespace: .host, address: AddressState(link: "gone0", address: a.address, prefixLength: 24)),
            .deleteRoute(namespace: .host, route: RouteState(destination: IPNetwork("10.9.0.0/16"), family: .v4, device: "eth0")),
            .deleteNeighbour(namespace: .host, neighbour: NeighbourState(link: "eth0", address: a.address, mac: MACAddress("02:42:0a:09:09:09")!)),
            .deleteFDBEntry(namespace: .host, entry: FDBEntryState(link: "eth0", mac: MACAddress("02:42:0a:09:09:09")!)),
        ]
        for op in ops {
            var s = start
            #expect(throws: Never.self, "\(op)") { try s.apply(op) }
            #expect(s.normalized() == start.normalized(), "\(op) changed nothing")
        }
    }

    @Test func aDestroyWhoseObjectsVanishedMeanwhileCompletes() throws {
        let (r, driver) = simulatedReconciler(pristineHost())
        _ = try r.apply(try r.plan(try spec(seedSpec)))
        let destroy = try r.destroyPlan(project: "seed")
        // A killed destroy (or the kernel's asynchronous veth teardown) removed some
        // of the plan's objects after it was made.
        for step in destroy.plan.steps.prefix(3) { try driver.perform(step.operation) }
        let outcome = try r.apply(destroy)
        #expect(outcome.report.failure == nil, "\(String(describing: outcome.report.failure?.error))")
        #expect(outcome.succeeded)
        #expect(driver.state.namespaces.keys.allSatisfy { !$0.description.hasPrefix("seed.") })
        #expect(driver.state[.host]!.links.allSatisfy { $0.owner?.project != "seed" })
    }
}

@Suite struct NamespaceFileConflicts {
    @Test func aForeignFileWhereANamespaceGoesIsAConflictNotReused() throws {
        var (r, driver) = simulatedReconciler(pristineHost())
        r.namespaceFiles = NamespaceFiles(blocker: { $0 == "seed.container2" ? "a regular file of 3 bytes, mode 644" : nil },
                                          placeholders: { _ in [] }, removePlaceholder: { _ in false })
        let planned = try r.plan(try spec(seedSpec))
        #expect(planned.plan.conflicts.contains {
            $0.resource == Resource(.container, "container2") && $0.message.contains("/run/netns/seed.container2")
                && $0.message.contains("not a namespace")
        }, "\(planned.plan.conflicts)")
        #expect(driver.log.isEmpty)
    }

    @Test func onlyTheProjectsPlaceholdersAreRemoved() throws {
        final class Files: @unchecked Sendable {
            var names: Set<String> = ["seed.c1", "seed.c2", "other.c1"]
        }
        let files = Files()
        var (r, _) = simulatedReconciler(pristineHost())
        r.namespaceFiles = NamespaceFiles(blocker: { _ in nil },
                                          placeholders: { p in files.names.filter { $0.hasPrefix(p + ".") }.sorted() },
                                          removePlaceholder: { files.names.remove($0) != nil })
        #expect(try r.removeLeftoverPlaceholders(project: "seed") == ["seed.c1", "seed.c2"])
        #expect(files.names == ["other.c1"])
    }
}

@Suite(.serialized) struct PrivateFiles {
    @Test func planFilesAreWrittenAtomicallyAndPrivatelyNeverThroughASymlink() throws {
        let dir = try scratchDirectory()
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        let (r, _) = simulatedReconciler(pristineHost())
        let planned = try r.plan(try spec(seedSpec))
        let target = "\(dir)/precious"
        try Data("precious\n".utf8).write(to: URL(fileURLWithPath: target))
        symlink(target, "\(dir)/plan.json")
        try PlanFile.write(planned, to: "\(dir)/plan.json")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "precious\n", "the symlink's target is untouched")
        #expect(fileMode("\(dir)/plan.json")?.type == S_IFREG)
        #expect(fileMode("\(dir)/plan.json")?.mode == 0o600)
        #expect(try PlanFile.read(path: "\(dir)/plan.json")?.plan == planned.plan)
        // Over an existing world-readable file: replaced, and 0600.
        try Data("old".utf8).write(to: URL(fileURLWithPath: "\(dir)/b.json"))
        chmod("\(dir)/b.json", 0o644)
        try PlanFile.write(planned, to: "\(dir)/b.json")
        #expect(fileMode("\(dir)/b.json")?.mode == 0o600)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
    }

    /// A plan to apply at once or to show as text skips hashing the host; it is the
    /// same plan otherwise, and it cannot be saved (it would always be stale).
    @Test func onlyAPlanToSaveIsFingerprinted() throws {
        let dir = try scratchDirectory()
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        let (r, _) = simulatedReconciler(pristineHost())
        let full = try r.plan(try spec(seedSpec))
        let quick = try r.plan(try spec(seedSpec), fingerprinted: false)
        #expect(!full.plan.fingerprint.isEmpty)
        #expect(quick.plan.fingerprint == "")
        var same = quick.plan
        same.fingerprint = full.plan.fingerprint
        #expect(same == full.plan)
        #expect { try PlanFile.write(quick, to: "\(dir)/quick.plan") } throws: {
            ($0 as? SavedPlanError)?.code == .unwritable
        }
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/quick.plan"))
        try PlanFile.write(full, to: "\(dir)/full.plan")
        #expect(try r.checkSaved(try #require(try PlanFile.read(path: "\(dir)/full.plan"))).plan == full.plan)
    }

    @Test func theLockRefusesASymlinkAndLeavesItsTargetAlone() throws {
        let dir = try scratchDirectory()
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        let target = "\(dir)/victim"
        try Data("keep me\n".utf8).write(to: URL(fileURLWithPath: target))
        symlink(target, "\(dir)/apply.lock")
        #expect { try ApplyLock(path: "\(dir)/apply.lock", timeout: .zero) } throws: {
            ($0 as? ApplyLock.Failure)?.message.contains("symbolic link") == true
        }
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "keep me\n")
    }

    @Test func theLockRefusesAFileItDoesNotOwn() throws {
        guard geteuid() == 0 else { return }
        let dir = try scratchDirectory()
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/apply.lock"
        try Data("someone's\n".utf8).write(to: URL(fileURLWithPath: path))
        chown(path, 65534, 65534)
        #expect(throws: ApplyLock.Failure.self) { try ApplyLock(path: path, timeout: .zero) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "someone's\n", "not truncated")
    }

    @Test func theLockDirectoryIs0700AndTheFile0600() throws {
        let dir = try scratchDirectory()
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        let lock = try ApplyLock(path: "\(dir)/netform/apply.lock", timeout: .zero)
        #expect(fileMode("\(dir)/netform")?.mode == 0o700)
        #expect(fileMode("\(dir)/netform/apply.lock")?.mode == 0o600)
        withExtendedLifetime(lock) {}
    }

    @Test func aDeadPIDInTheLockFileIsNotNamedAsHolder() throws {
        let dir = try scratchDirectory()
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/apply.lock"
        let held = try ApplyLock(path: path, timeout: .zero)
        // What a killed apply leaves: its PID, which no process has now.
        let dead: Int32 = 99_999_999
        try Data("\(dead)\n".utf8).write(to: URL(fileURLWithPath: path))
        do {
            _ = try ApplyLock(path: path, timeout: .milliseconds(60))
            Issue.record("the lock is held; a second one must not be taken")
        } catch let busy as ApplyLock.Busy {
            #expect(busy.holderPID != dead)
            #expect(!busy.description.contains("\(dead)"))
            #expect(busy.holderPID == getpid(), "the kernel's lock table names the real holder: \(busy)")
        }
        withExtendedLifetime(held) {}
    }
}
