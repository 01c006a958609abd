import Addressing
import Foundation
import Model
import Plan
import Reconcile
import Testing

/// `plan --json` is written a step at a time (`PlanJSON.writePretty`): the text must
/// be exactly what encoding the whole document at once prints.
@Suite struct PlanJSONStream {
    func streamed(_ plan: Plan, _ warnings: [String]) throws -> (pieces: [String], whole: String) {
        var pieces: [String] = []
        try PlanJSON.writePretty(plan, as: { PlanDocument(plan: $0, warnings: warnings) }) { pieces.append($0) }
        let whole = String(decoding: try PlanJSON.encoder(pretty: true).encode(PlanDocument(plan: plan, warnings: warnings)), as: UTF8.self)
        return (pieces, whole)
    }

    @Test func aStreamedPlanIsByteForByteTheEncodedOne() throws {
        let (r, _) = simulatedReconciler(pristineHost())
        let planned = try r.plan(try spec(seedSpec))
        #expect(planned.plan.steps.count > 3)
        for warnings in [[], ["a note", "another"]] {
            let (pieces, whole) = try streamed(planned.plan, warnings)
            #expect(pieces.joined() == whole)
        }
    }

    /// The text plan is written in pieces of about 64 KiB (a group of a resource's
    /// lines is never split), which join into the whole plan: every container's
    /// header, and the summary counted from the steps.
    @Test func aTextPlanIsWrittenInPieces() throws {
        let (_, plan) = try planFor(manyContainersSpec(900), pristineHost())
        var pieces: [String] = []
        PlanRenderer(color: false).render(plan) { pieces.append($0) }
        #expect(pieces.count > 1)
        #expect(pieces.dropLast().allSatisfy { $0.utf8.count >= 64 * 1024 && $0.utf8.count < 64 * 1024 + 8192 })
        let lines = pieces.joined().split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("+   container.c") }.count == 900)
        // Everything is new but the host's sysctls, which change.
        let resources = Set(plan.steps.map(\.resource)).count
        #expect(lines.last == "Plan: \(resources - 1) to add, 1 to change, 0 to destroy.")
        #expect(PlanRenderer(color: false).render(plan) == pieces.joined())
    }

    /// `plan --json` streams from the planner: the text is the same as the finished
    /// plan's, written while the steps are made (more than one chunk of them here),
    /// with the conflicts, which come before the steps, all in it; the plan the
    /// planner returns holds no step.
    @Test func aPlanStreamedWhileItIsMadeIsTheFinishedOnesText() throws {
        // A host with some of the containers already: `existing`, in the head, is
        // not empty.
        var (_, start, _) = try converge(manyContainersSpec(100), from: pristineHost())
        // And an address someone else put on one of its bridges: unmanaged.
        let bridge = try #require(start[.host]!.links.first { $0.alias == "netform:many/net/n0" }).name
        start[.host]!.addresses.append(AddressState(link: bridge, address: IPAddress("10.60.250.1")!, prefixLength: 16, proto: 0))
        for blockedName in [nil, "many.c500"] {
            var (r, _) = simulatedReconciler(start)
            // A file where a namespace goes: a conflict, found by the planner.
            r.namespaceFiles = NamespaceFiles(blocker: { $0 == blockedName ? "a regular file" : nil }, placeholders: { _ in [] },
                                              removePlaceholder: { _ in false })
            let text = try spec(manyContainersSpec(900))
            let finished = try r.plan(text)
            var pieces: [String] = []
            let writer = PlanJSON.StreamWriter(as: { PlanDocument(plan: $0, warnings: ["w"]) }) { pieces.append($0) }
            let streamed = try r.plan(text, streaming: writer.stream)
            #expect(streamed.plan.steps.isEmpty)
            #expect(writer.stepCount == finished.plan.steps.count && finished.plan.steps.count > 4096)
            #expect(!pieces.isEmpty, "written before the plan is done")
            try writer.finish(streamed.plan)
            let (expected, whole) = try self.streamed(finished.plan, ["w"])
            #expect(pieces.joined() == expected.joined() && expected.joined() == whole)
            #expect(pieces.count > 1)
            #expect(streamed.plan.conflicts == finished.plan.conflicts)
            #expect(finished.plan.conflicts.map(\.message)
                == (blockedName == nil ? [] : ["a regular file is at /run/netns/many.c500 and is not a namespace; netform did not create it: remove or rename it"]))
            #expect(finished.plan.existing.count > 100)
            // Foreign objects on the project's objects are listed, conflict or not.
            #expect(!finished.plan.unmanaged.isEmpty && finished.plan.unmanaged == streamed.plan.unmanaged)
        }
    }

    @Test func anEmptyPlanAndABigOneToo() throws {
        let (r, _) = simulatedReconciler(pristineHost())
        var plan = try r.plan(try spec(seedSpec)).plan
        let steps = plan.steps
        plan.steps = []
        let (emptyPieces, emptyWhole) = try streamed(plan, [])
        #expect(emptyPieces.joined() == emptyWhole)
        plan.steps = Array(repeating: steps, count: 200).flatMap { $0 }
        let (pieces, whole) = try streamed(plan, ["w"])
        #expect(pieces.count > 1, "written in pieces")
        #expect(pieces.allSatisfy { $0.utf8.count < 200 * 1024 })
        #expect(pieces.joined() == whole)
    }
}
