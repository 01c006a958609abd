import Model

/// A JSON value whose objects keep their keys in the order they were written.
///
/// Why it exists: `netform network inspect` must print Docker's key order (Name, Id,
/// Scope, Driver, …), which Foundation's `JSONEncoder` either sorts or scrambles.
/// Rendering follows Go's `json.MarshalIndent(v, "", "    ")`, which Docker uses:
/// four-space indents, `"key": value`, empty objects and arrays as `{}` and `[]`.
public indirect enum OrderedJSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case string(String)
    case array([OrderedJSON])
    case object([Member])

    /// One key of an object, in place.
    public struct Member: Sendable, Equatable {
        public var key: String
        public var value: OrderedJSON

        public init(_ key: String, _ value: OrderedJSON) {
            self.key = key
            self.value = value
        }
    }

    /// An object whose keys are sorted, as Go prints a map.
    public static func sortedObject(_ map: [String: String]) -> OrderedJSON {
        .object(map.keys.sorted().map { Member($0, .string(map[$0]!)) })
    }

    /// Indented, four spaces per level, no trailing newline.
    public func pretty(indent: String = "    ") -> String {
        var out = ""
        write(into: &out, indent: indent, level: 0)
        return out
    }

    /// On one line, no spaces (`{"a":"b","c":[1]}`).
    public var compact: String {
        var out = ""
        write(into: &out, indent: nil, level: 0)
        return out
    }

    private func write(into out: inout String, indent: String?, level: Int) {
        func newline(_ level: Int) {
            guard let indent else { return }
            out += "\n"
            for _ in 0..<level { out += indent }
        }
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .string(let s): Self.quote(s, into: &out)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                newline(level + 1)
                item.write(into: &out, indent: indent, level: level + 1)
            }
            newline(level)
            out += "]"
        case .object(let members):
            if members.isEmpty { out += "{}"; return }
            out += "{"
            for (i, m) in members.enumerated() {
                if i > 0 { out += "," }
                newline(level + 1)
                Self.quote(m.key, into: &out)
                out += indent == nil ? ":" : ": "
                m.value.write(into: &out, indent: indent, level: level + 1)
            }
            newline(level)
            out += "}"
        }
    }

    /// A JSON string literal (see `JSONText.quote`).
    public static func quote(_ s: String, into out: inout String) {
        JSONText.quote(s, into: &out)
    }
}
