import Foundation
import Plan

extension PlanJSON {
    /// Writes `document(plan)` as `encoder(pretty: true)` would print it, byte for
    /// byte, without ever holding the whole text: the document is encoded once with
    /// no steps, and the steps are encoded and written one at a time in its place.
    ///
    /// Why it exists: a plan of 50,000 containers is ~190 MB of JSON; encoded in one
    /// piece (a JSON tree, then the text, then a String copy of it) it took 1.5 GB.
    /// `write` receives pieces of at most about 64 KiB.
    public static func writePretty<D: Encodable>(_ plan: Plan, as document: @escaping (Plan) -> D,
                                                 to write: @escaping (String) -> Void) throws {
        let writer = StreamWriter(as: document, to: write)
        var head = plan
        head.steps = []
        writer.stream.head(head)
        writer.stream.steps(plan.steps)
        try writer.finish(head)
    }

    /// Writes a plan's JSON document while the planner makes it (`Planner.plan`'s
    /// `streaming`): the text before the steps once the plan's head is known, each
    /// step as it comes, the rest when the plan is done. The text is exactly
    /// `writePretty`'s of the finished plan; the steps are never all in memory.
    public final class StreamWriter<D: Encodable> {
        private let encoder = PlanJSON.encoder(pretty: true)
        private let document: (Plan) -> D
        private let write: (String) -> Void
        private static var marker: String { "\n  \"steps\" : " }
        /// The document's text before its steps, from the head.
        private var before: String?
        private var buffer = ""
        /// Steps written so far.
        public private(set) var stepCount = 0
        private var failure: (any Error)?

        public init(as document: @escaping (Plan) -> D, to write: @escaping (String) -> Void) {
            self.document = document
            self.write = write
        }

        /// What the planner streams into.
        public var stream: StepStream {
            StepStream(head: { [self] plan in
                do { before = try split(plan).before } catch { failure = failure ?? error }
            }, steps: { [self] steps in
                do { try take(steps) } catch { failure = failure ?? error }
            })
        }

        private func take(_ steps: [Step]) throws {
            guard failure == nil, !steps.isEmpty else { return }
            guard let before else { throw Self.invalid("steps came before the plan's head") }
            for step in steps {
                buffer += stepCount == 0 ? before + Self.marker + "[\n" : ",\n"
                let one = try PlanJSON.value(ofSteps: [step], encoder)
                // "[\n    {...}\n  ]": keep what is between the brackets.
                guard one.hasPrefix("[\n"), one.hasSuffix("\n  ]") else { throw Self.invalid("unexpected rendering of a step list") }
                buffer += one.dropFirst(2).dropLast(4)
                stepCount += 1
                if buffer.utf8.count >= 64 * 1024 {
                    write(buffer)
                    buffer = ""
                }
            }
        }

        /// Writes the rest: `plan` is the finished plan without its steps (as a
        /// streamed `Planner.plan` returns it). Throws the first error of the stream.
        public func finish(_ plan: Plan) throws {
            if let failure { throw failure }
            guard stepCount > 0 else {
                write(String(decoding: try encoder.encode(document(plan)), as: UTF8.self))
                return
            }
            let parts = try split(plan)
            // Nothing before the steps may change once they are written.
            guard parts.before == before else { throw Self.invalid("the plan's head changed after its steps were written") }
            buffer += "\n  ]" + parts.after
            write(buffer)
            buffer = ""
        }

        /// The document of `plan` (its steps left out) before and after its steps.
        private func split(_ plan: Plan) throws -> (before: String, after: Substring) {
            var empty = plan
            empty.steps = []
            let text = String(decoding: try encoder.encode(document(empty)), as: UTF8.self)
            guard let at = text.range(of: Self.marker + (try PlanJSON.value(ofSteps: [], encoder))) else {
                throw Self.invalid("no step list in the plan's document")
            }
            return (String(text[..<at.lowerBound]), text[at.upperBound...])
        }

        private static func invalid(_ why: String) -> EncodingError {
            EncodingError.invalidValue(why, .init(codingPath: [], debugDescription: why))
        }
    }

    /// The rendering of `{"steps": steps}`'s value, as it sits one level deep.
    fileprivate static func value(ofSteps steps: [Step], _ encoder: JSONEncoder) throws -> String {
        let text = String(decoding: try encoder.encode(["steps": steps]), as: UTF8.self)
        let head = "{\n  \"steps\" : "
        guard text.hasPrefix(head), text.hasSuffix("\n}") else {
            throw EncodingError.invalidValue(steps, .init(codingPath: [], debugDescription: "unexpected rendering of a step list"))
        }
        return String(text.dropFirst(head.count).dropLast(2))
    }
}

/// `plan --json`: the plan's own keys and `warnings` (what stderr says too: notes of
/// the firewall, advice about the host, an unreadable cluster store), so a CI job
/// reading only stdout sees them.
public struct PlanDocument: Encodable {
    public var plan: Plan
    public var warnings: [String]

    public init(plan: Plan, warnings: [String]) {
        self.plan = plan
        self.warnings = warnings
    }

    enum Keys: String, CodingKey { case warnings }

    public func encode(to encoder: any Encoder) throws {
        try plan.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(warnings, forKey: .warnings)
    }
}
