// The public node tree that the YAML module hands to the rest of netform.
//
// Everything here is plain Swift values (no libyaml types leak out), so the spec
// decoder can walk a document without caring how it was parsed, and every node
// carries the place it was written so diagnostics can point at it.

/// A position in a source file, 1-based, so that every diagnostic netform prints can
/// point at the exact line and column the user wrote.
///
/// `column` counts Unicode scalars (not bytes), which is what an editor shows for
/// text without combining characters.
public struct Mark: Hashable, Sendable, CustomStringConvertible {
    /// The file name as given to the parser (used only for printing).
    public var file: String
    /// 1-based line number.
    public var line: Int
    /// 1-based column, counted in Unicode scalars.
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:col`, the form editors and compilers use.
    public var description: String { "\(file):\(line):\(column)" }
}

/// How a scalar was written. It exists because quoting changes meaning: only plain
/// scalars are resolved to null/bool/number, quoted and block scalars are always strings.
public enum ScalarStyle: Sendable, Hashable {
    case plain, singleQuoted, doubleQuoted, literal, folded
}

/// One node of a parsed YAML document, with aliases and merge keys already expanded.
///
/// It exists so the spec decoder works on a small, immutable, `Sendable` tree in which
/// every node knows where it came from (`mark`) and how it was written (scalar style,
/// explicit tag), instead of on libyaml's event stream.
public struct Node: Sendable {
    /// What a node holds. A mapping keeps its pairs in document order; after merge
    /// keys (`<<`) are expanded their pairs stand where the `<<` entry stood.
    public enum Content: Sendable {
        case scalar(String, ScalarStyle)
        case sequence([Node])
        case mapping([Pair])
    }

    /// One key/value entry of a mapping. Keys are always scalars (the parser rejects
    /// anything else), and keep their own marks so errors can point at a key.
    public struct Pair: Sendable {
        public var key: Node
        public var value: Node

        public init(key: Node, value: Node) {
            self.key = key
            self.value = value
        }
    }

    public var content: Content
    /// Where the node starts. For a node reached through an alias this is the mark of
    /// the alias (`*ref`), so errors point where the user wrote the reference; the
    /// children of an aliased collection keep the marks of the anchored original.
    public var mark: Mark
    /// The explicit tag as libyaml resolved it (`!!str` → `tag:yaml.org,2002:str`,
    /// `!foo` → `!foo`), or nil when the node has none.
    public var tag: String?

    public init(content: Content, mark: Mark, tag: String? = nil) {
        self.content = content
        self.mark = mark
        self.tag = tag
    }

    /// The text of a scalar node (whatever it resolves to), nil otherwise.
    public var scalar: String? {
        if case .scalar(let text, _) = content { return text }
        return nil
    }

    /// The items of a sequence node, nil otherwise.
    public var sequence: [Node]? {
        if case .sequence(let items) = content { return items }
        return nil
    }

    /// The pairs of a mapping node, nil otherwise.
    public var mapping: [Pair]? {
        if case .mapping(let pairs) = content { return pairs }
        return nil
    }

    /// A short phrase for "expected X, got Y" messages: "a string", "a number",
    /// "true/false", "null", "a list" or "a mapping".
    public var kindName: String {
        switch content {
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        case .scalar:
            switch resolved {
            case .null: return "null"
            case .bool: return "true/false"
            case .int, .float: return "a number"
            case .string, nil: return "a string"
            }
        }
    }

    /// The value stored under the scalar key `key` in a mapping node (keys are unique,
    /// so there is at most one); nil for a missing key or a node that isn't a mapping.
    public func value(forKey key: String) -> Node? {
        guard case .mapping(let pairs) = content else { return nil }
        for pair in pairs where pair.key.scalar == key {
            return pair.value
        }
        return nil
    }

    /// The scalar's typed value under the YAML 1.2 core schema (see `ResolvedScalar`);
    /// nil for sequences and mappings.
    public var resolved: ResolvedScalar? {
        guard case .scalar(let text, let style) = content else { return nil }
        return ScalarResolver.resolve(text, style: style, tag: tag)
    }
}

/// The typed value of a scalar. It exists so that decoding a spec never re-implements
/// YAML's rules for what `~`, `true`, `0x1F` or `"5"` mean.
///
/// Rules (YAML 1.2 core schema): untagged plain scalars resolve to null (`~`, `null`,
/// `Null`, `NULL`, empty), bool (`true`/`True`/`TRUE`/`false`/`False`/`FALSE` only),
/// int (decimal with optional sign, `0x…`, `0o…`), float (decimal or exponent form,
/// `.inf`, `-.inf`, `.nan`), else string. Quoted and block scalars are strings.
/// `!!str` forces a string; `!!int`/`!!float`/`!!bool`/`!!null` force that type when
/// the text parses as it, and give a string otherwise. Any other explicit tag gives a
/// string. An integer too large for `Int` resolves to the nearest `float`.
public enum ResolvedScalar: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
}

/// A problem with a YAML file: bad encoding, bad syntax, or a rule netform adds
/// (duplicate keys, several documents, non-scalar keys, limits). It exists so every
/// failure carries the mark of the offending place and prints as `file:line:col: message`.
public struct YAMLError: Error, Sendable, CustomStringConvertible {
    public var mark: Mark
    public var message: String

    public init(mark: Mark, message: String) {
        self.mark = mark
        self.message = message
    }

    public var description: String { "\(mark): \(message)" }
}

/// Entry point: turns the bytes of one YAML file into a `Node` tree.
///
/// It exists to wrap libyaml's event parser with netform's rules: UTF-8 only, one
/// document per file, unique scalar keys, resolved anchors/aliases/merge keys, and
/// hard limits (nesting depth, alias expansion) so hostile input fails cleanly.
public enum YAMLParser {
    /// Deepest allowed nesting of sequences and mappings (counting through aliases).
    public static let maxDepth = 200
    /// Most nodes a document may produce, counting every node an alias expands to.
    public static let maxNodes = 1_000_000

    /// Parses one YAML document. Returns nil for an empty stream (nothing, or only
    /// comments) and for an empty document (`---` with no content).
    public static func parse(_ bytes: [UInt8], file: String) throws(YAMLError) -> Node? {
        let start = try InputCheck.validate(bytes, file: file)
        if start >= bytes.count { return nil }
        let result: Result<Node?, YAMLError> = bytes.withUnsafeBufferPointer { all in
            let text = UnsafeBufferPointer(rebasing: all[start...])
            return Result { () throws(YAMLError) -> Node? in
                var builder = TreeBuilder(file: file, input: text)
                return try builder.run()
            }
        }
        return try result.get()
    }

    /// Parses one YAML document from text (see `parse(_:file:)` for bytes).
    public static func parse(_ text: String, file: String) throws(YAMLError) -> Node? {
        try parse(Array(text.utf8), file: file)
    }
}
