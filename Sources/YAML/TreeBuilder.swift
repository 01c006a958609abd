// Drives libyaml's event parser and builds the `Node` tree with an explicit stack
// (no recursion), applying netform's rules as events arrive so that the first
// problem in document order is the one reported.

import CYAML

struct TreeBuilder {
    private let file: String
    private let input: UnsafeBufferPointer<UInt8>

    /// An anchored node that aliases may copy, with what copying it costs.
    private struct Anchored {
        var node: Node
        /// Nodes it expands to, counting through its own aliases.
        var count: Int
        /// Levels of collections in it (0 for a scalar).
        var height: Int
    }

    /// One mapping entry while the mapping is open: an explicit pair, or the sources of
    /// a merge key, expanded when the mapping closes.
    private enum Entry {
        case pair(Node.Pair)
        case merge([[Node.Pair]])
    }

    /// A sequence or mapping that has started but not ended.
    private struct Frame {
        enum Kind { case sequence, mapping }
        var kind: Kind
        var mark: Mark
        var tag: String?
        var anchor: String?
        var items: [Node] = []
        var entries: [Entry] = []
        /// Mapping only: the key waiting for its value.
        var pendingKey: Node?
        var pendingKeyIsMerge = false
        /// Mapping only: explicit key text → where it was first written.
        var keyMarks: [String: Mark] = [:]
        /// Nodes this collection expands to, itself included.
        var count = 1
        /// 1 + the height of the tallest child.
        var height = 1
    }

    private var stack: [Frame] = []
    private var anchors: [String: Anchored] = [:]
    /// Anchors on collections that are still open (an alias to one would be recursive).
    private var openAnchors: Set<String> = []
    private var root: Node?
    private var documents = 0
    private var total = 0
    private var lastMark: Mark

    init(file: String, input: UnsafeBufferPointer<UInt8>) {
        self.file = file
        self.input = input
        self.lastMark = Mark(file: file, line: 1, column: 1)
    }

    // MARK: - Event loop

    mutating func run() throws(YAMLError) -> Node? {
        guard let base = input.baseAddress, input.count > 0 else { return nil }

        // libyaml's string reader keeps a pointer to the parser struct itself, so the
        // struct must not move: give it a fixed heap address.
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) != 0 else {
            throw YAMLError(mark: lastMark, message: "out of memory initialising the YAML parser")
        }
        defer { yaml_parser_delete(parser) }
        yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
        yaml_parser_set_input_string(parser, base, input.count)

        let event = UnsafeMutablePointer<yaml_event_t>.allocate(capacity: 1)
        defer { event.deallocate() }

        while true {
            guard yaml_parser_parse(parser, event) != 0 else {
                throw parserError(parser.pointee)
            }
            defer { yaml_event_delete(event) }
            let finished = try handle(event.pointee)
            if finished { break }
        }
        guard let node = root else { return nil }
        if case .scalar("", .plain) = node.content, node.tag == nil { return nil }   // `---` and nothing else
        return node
    }

    /// Handles one event; true at the end of the stream.
    private mutating func handle(_ e: yaml_event_t) throws(YAMLError) -> Bool {
        let mark = self.mark(e.start_mark)
        lastMark = mark
        switch e.type {
        case YAML_STREAM_START_EVENT, YAML_DOCUMENT_END_EVENT, YAML_NO_EVENT:
            return false
        case YAML_STREAM_END_EVENT:
            return true
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 {
                throw YAMLError(mark: mark, message: "several YAML documents in one file; netform reads one spec per file")
            }
            return false

        case YAML_ALIAS_EVENT:
            let name = string(e.data.alias.anchor) ?? ""
            if openAnchors.contains(name) {
                throw YAMLError(mark: mark, message: "alias '*\(name)' refers to a node that contains it (recursive alias)")
            }
            guard let target = anchors[name] else {
                throw YAMLError(mark: mark, message: "alias '*\(name)' refers to an undefined anchor (define it first with '&\(name)')")
            }
            if stack.count + target.height > YAMLParser.maxDepth {
                throw YAMLError(mark: mark, message: "nesting deeper than \(YAMLParser.maxDepth) levels")
            }
            try produce(target.count, at: mark)
            var node = target.node
            node.mark = mark
            try add(node, count: target.count, height: target.height)
            return false

        case YAML_SCALAR_EVENT:
            let s = e.data.scalar
            try produce(1, at: mark)
            let text: String
            if let value = s.value, s.length > 0 {
                text = String(decoding: UnsafeBufferPointer(start: value, count: Int(clamping: s.length)), as: UTF8.self)
            } else {
                text = ""
            }
            let node = Node(content: .scalar(text, style(s.style)), mark: mark, tag: string(s.tag))
            if let anchor = string(s.anchor) {
                openAnchors.remove(anchor)
                anchors[anchor] = Anchored(node: node, count: 1, height: 0)
            }
            try add(node, count: 1, height: 0)
            return false

        case YAML_SEQUENCE_START_EVENT:
            let s = e.data.sequence_start
            try open(.sequence, at: mark, tag: string(s.tag), anchor: string(s.anchor))
            return false
        case YAML_MAPPING_START_EVENT:
            let s = e.data.mapping_start
            try open(.mapping, at: mark, tag: string(s.tag), anchor: string(s.anchor))
            return false

        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            try close()
            return false

        default:
            return false
        }
    }

    // MARK: - Building

    /// Counts `n` more produced nodes against the expansion limit.
    private mutating func produce(_ n: Int, at mark: Mark) throws(YAMLError) {
        total += n
        if total > YAMLParser.maxNodes {
            throw YAMLError(mark: mark, message: "document expands too much (alias bomb?): more than \(YAMLParser.maxNodes) nodes")
        }
    }

    private mutating func open(_ kind: Frame.Kind, at mark: Mark, tag: String?, anchor: String?) throws(YAMLError) {
        if let top = stack.last, top.kind == .mapping, top.pendingKey == nil {
            throw YAMLError(mark: mark, message: "mapping keys must be plain strings, not \(kind == .sequence ? "a list" : "a mapping")")
        }
        if stack.count >= YAMLParser.maxDepth {
            throw YAMLError(mark: mark, message: "nesting deeper than \(YAMLParser.maxDepth) levels")
        }
        try produce(1, at: mark)
        if let anchor {
            anchors[anchor] = nil
            openAnchors.insert(anchor)
        }
        stack.append(Frame(kind: kind, mark: mark, tag: tag, anchor: anchor))
    }

    private mutating func close() throws(YAMLError) {
        guard let frame = stack.popLast() else { return }
        let node: Node
        switch frame.kind {
        case .sequence:
            node = Node(content: .sequence(frame.items), mark: frame.mark, tag: frame.tag)
        case .mapping:
            node = Node(content: .mapping(Self.flatten(frame.entries)), mark: frame.mark, tag: frame.tag)
        }
        if let anchor = frame.anchor {
            openAnchors.remove(anchor)
            anchors[anchor] = Anchored(node: node, count: frame.count, height: frame.height)
        }
        try add(node, count: frame.count, height: frame.height)
    }

    /// Adds a finished node to the open collection on top of the stack (or makes it the root).
    private mutating func add(_ node: Node, count: Int, height: Int) throws(YAMLError) {
        guard !stack.isEmpty else {
            root = node
            return
        }
        let top = stack.count - 1
        stack[top].count += count
        stack[top].height = max(stack[top].height, height + 1)
        switch stack[top].kind {
        case .sequence:
            stack[top].items.append(node)
        case .mapping:
            if let key = stack[top].pendingKey {
                if stack[top].pendingKeyIsMerge {
                    let sources = try mergeSources(node)
                    stack[top].entries.append(.merge(sources))
                } else {
                    stack[top].entries.append(.pair(Node.Pair(key: key, value: node)))
                }
                stack[top].pendingKey = nil
                stack[top].pendingKeyIsMerge = false
            } else {
                guard case .scalar(let text, let style) = node.content else {
                    throw YAMLError(mark: node.mark, message: "mapping keys must be plain strings, not \(node.kindName)")
                }
                if let first = stack[top].keyMarks[text] {
                    throw YAMLError(mark: node.mark, message: "duplicate key '\(text)' (first defined at line \(first.line))")
                }
                stack[top].keyMarks[text] = node.mark
                stack[top].pendingKey = node
                stack[top].pendingKeyIsMerge =
                    (text == "<<" && style == .plain && node.tag == nil) || node.tag == ScalarResolver.mergeTag
            }
        }
    }

    /// The pair lists a merge key's value brings in, in priority order.
    private func mergeSources(_ value: Node) throws(YAMLError) -> [[Node.Pair]] {
        switch value.content {
        case .mapping(let pairs):
            return [pairs]
        case .sequence(let items):
            var sources: [[Node.Pair]] = []
            for item in items {
                guard case .mapping(let pairs) = item.content else {
                    throw YAMLError(mark: item.mark, message: "merge key '<<' expects a mapping or a list of mappings, but this list holds \(item.kindName)")
                }
                sources.append(pairs)
            }
            return sources
        case .scalar:
            throw YAMLError(mark: value.mark, message: "merge key '<<' expects a mapping or a list of mappings, got \(value.kindName)")
        }
    }

    /// Expands merge entries in place: explicit keys win over merged ones, and an
    /// earlier merge source wins over a later one.
    private static func flatten(_ entries: [Entry]) -> [Node.Pair] {
        var hasMerge = false
        var seen: Set<String> = []
        var out: [Node.Pair] = []
        out.reserveCapacity(entries.count)
        for entry in entries {
            switch entry {
            case .pair(let p):
                seen.insert(p.key.scalar ?? "")
                out.append(p)
            case .merge:
                hasMerge = true
            }
        }
        guard hasMerge else { return out }
        out.removeAll(keepingCapacity: true)
        for entry in entries {
            switch entry {
            case .pair(let p):
                out.append(p)
            case .merge(let sources):
                for source in sources {
                    for p in source where seen.insert(p.key.scalar ?? "").inserted {
                        out.append(p)
                    }
                }
            }
        }
        return out
    }

    // MARK: - C helpers

    private func mark(_ m: yaml_mark_t) -> Mark {
        Mark(file: file, line: Self.oneBased(m.line), column: Self.oneBased(m.column))
    }

    private static func oneBased(_ v: Int) -> Int {
        v < Int.max ? v + 1 : v
    }

    private func string(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let p else { return nil }
        return String(cString: p)
    }

    private func style(_ s: yaml_scalar_style_t) -> ScalarStyle {
        switch s {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: return .singleQuoted
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: return .doubleQuoted
        case YAML_LITERAL_SCALAR_STYLE: return .literal
        case YAML_FOLDED_SCALAR_STYLE: return .folded
        default: return .plain
        }
    }

    private func cString(_ p: UnsafePointer<CChar>?) -> String? {
        guard let p else { return nil }
        return String(cString: p)
    }

    /// libyaml's own error, at its problem mark, as "problem context".
    private func parserError(_ p: yaml_parser_t) -> YAMLError {
        let problem = cString(p.problem) ?? "invalid YAML"
        switch p.error {
        case YAML_MEMORY_ERROR:
            return YAMLError(mark: lastMark, message: "out of memory while parsing YAML")
        case YAML_READER_ERROR:
            let pos = InputCheck.position(ofOffset: Int(clamping: p.problem_offset), in: input)
            return YAMLError(mark: Mark(file: file, line: pos.line, column: pos.column), message: problem)
        default:
            let at = mark(p.problem_mark)
            var message = problem
            // libyaml says "found character that cannot start any token" for a tab: say why.
            let offset = Int(p.problem_mark.index)
            if offset >= 0, offset < input.count, input[offset] == 0x09 {
                return YAMLError(mark: at, message: "a tab character: YAML does not allow tabs for indentation or before a value; use spaces")
            }
            if let context = cString(p.context) {
                message += " " + context
                let started = mark(p.context_mark)
                if started != at {
                    message += " (started at line \(started.line), column \(started.column))"
                }
            }
            return YAMLError(mark: at, message: message)
        }
    }
}
