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
