import Testing
import YAML

let testFile = "t.yaml"

func parse(_ text: String) throws(YAMLError) -> Node? {
    try YAMLParser.parse(text, file: testFile)
}

/// The error parsing `text` throws, or nil when it parses.
func failure(_ text: String) -> YAMLError? {
    failure(bytes: Array(text.utf8))
}

func failure(bytes: [UInt8]) -> YAMLError? {
    do {
        _ = try YAMLParser.parse(bytes, file: testFile)
        return nil
    } catch {
        return error
    }
}

func mark(_ line: Int, _ column: Int) -> Mark {
    Mark(file: testFile, line: line, column: column)
}

/// A compact rendering of a tree for exact structural assertions:
/// plain scalars bare, quoted ones in the quotes they were written with,
/// `|`/`>` block scalars prefixed, lists `[a, b]`, mappings `{k: v}`.
func render(_ node: Node?) -> String {
    guard let node else { return "<nil>" }
    switch node.content {
    case .scalar(let text, let style):
        switch style {
        case .plain: return text
        case .singleQuoted: return "'\(text)'"
        case .doubleQuoted: return "\"\(text)\""
        case .literal: return "|\(text)"
        case .folded: return ">\(text)"
        }
    case .sequence(let items):
        return "[" + items.map(render).joined(separator: ", ") + "]"
    case .mapping(let pairs):
        return "{" + pairs.map { "\(render($0.key)): \(render($0.value))" }.joined(separator: ", ") + "}"
    }
}
