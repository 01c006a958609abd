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
    public static func writePretty<D: Encodable>(_ plan: Plan, as document: (Plan) -> D,
                                                 to write: (String) -> Void) throws {
        let encoder = encoder(pretty: true)
        var empty = plan
        empty.steps = []
        let text = String(decoding: try encoder.encode(document(empty)), as: UTF8.self)
        // How an empty step list and one step look at their depth in the document.
        let emptySteps = try value(ofSteps: [], encoder)
        let marker = "\n  \"steps\" : "
        guard !plan.steps.isEmpty, let at = text.range(of: marker + emptySteps) else {
            write(String(decoding: try encoder.encode(document(plan)), as: UTF8.self))
            return
        }
        var buffer = String(text[..<at.lowerBound]) + marker + "[\n"
        for (i, step) in plan.steps.enumerated() {
            let one = try value(ofSteps: [step], encoder)
            // "[\n    {...}\n  ]": keep what is between the brackets.
            guard one.hasPrefix("[\n"), one.hasSuffix("\n  ]") else {
                throw EncodingError.invalidValue(step, .init(codingPath: [], debugDescription: "unexpected rendering of a step list"))
            }
            buffer += one.dropFirst(2).dropLast(4)
            buffer += i + 1 < plan.steps.count ? ",\n" : "\n  ]"
            if buffer.utf8.count >= 64 * 1024 {
                write(buffer)
                buffer = ""
            }
        }
        buffer += text[at.upperBound...]
        write(buffer)
    }

    /// The rendering of `{"steps": steps}`'s value, as it sits one level deep.
    private static func value(ofSteps steps: [Step], _ encoder: JSONEncoder) throws -> String {
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
