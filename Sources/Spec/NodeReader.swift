import YAML

/// Reads one YAML mapping against the set of keys a spec object allows, reporting
/// unknown keys (with a suggestion) and type errors into the shared sink.
///
/// Every typed accessor returns nil after reporting when the value has the wrong
/// shape, so decoding continues and all problems of a file are shown at once.
struct MappingReader {
    let node: Node
    let what: String
    let pairs: [Node.Pair]

    /// Reports keys not in `allowed` and returns nil (after reporting) when the node is
    /// not a mapping. `what` names the object in messages ("network 'aislada'").
    init?(_ node: Node, what: String, allowed: [String], sink: inout DiagnosticSink) {
        guard let pairs = node.mapping else {
            sink.error(node.mark, "\(what) must be a mapping, got \(node.kindName)")
            return nil
        }
        self.node = node
        self.what = what
        self.pairs = pairs
        for pair in pairs {
            let key = pair.key.scalar ?? ""
            if !allowed.contains(key) {
                var message = "unknown key '\(key)' in \(what)"
                if let suggestion = closestMatch(key, in: allowed) {
                    message += "; did you mean '\(suggestion)'?"
                } else {
                    message += " (allowed: \(allowed.joined(separator: ", ")))"
                }
                sink.error(pair.key.mark, message)
            }
        }
    }

    func pair(_ key: String) -> Node.Pair? { pairs.first { $0.key.scalar == key } }

    func value(_ key: String) -> Node? { pair(key)?.value }

    /// A present value that is not YAML null (null means "use the default").
    func present(_ key: String) -> Node? {
        guard let v = value(key) else { return nil }
        if v.resolved == .null { return nil }
        return v
    }

    func string(_ key: String, sink: inout DiagnosticSink) -> (String, Mark)? {
        guard let v = present(key) else { return nil }
        guard let s = stringValue(v) else {
            sink.error(v.mark, "'\(key)' in \(what) must be a string, got \(v.kindName)")
            return nil
        }
        return (s, v.mark)
    }

    func bool(_ key: String, sink: inout DiagnosticSink) -> Bool? {
        guard let v = present(key) else { return nil }
        guard case .bool(let b)? = v.resolved else {
            var message = "'\(key)' in \(what) must be true or false, got \(v.kindName)"
            // YAML 1.1's booleans are strings in YAML 1.2, which netform reads.
            if let text = stringValue(v), let meant = ["yes": true, "no": false, "on": true, "off": false, "y": true, "n": false][text.lowercased()] {
                message += " ('\(text)' is a string in YAML 1.2; write \(meant))"
            }
            sink.error(v.mark, message)
            return nil
        }
        return b
    }

    func int(_ key: String, range: ClosedRange<Int>, sink: inout DiagnosticSink) -> Int? {
        guard let v = present(key) else { return nil }
        guard case .int(let i)? = v.resolved else {
            sink.error(v.mark, "'\(key)' in \(what) must be an integer, got \(v.kindName)")
            return nil
        }
        guard range.contains(i) else {
            sink.error(v.mark, "'\(key)' in \(what) must be from \(range.lowerBound) to \(range.upperBound), got \(i)")
            return nil
        }
        return i
    }

    /// A map of string → string (labels, aux addresses' raw text).
    func stringMap(_ key: String, sink: inout DiagnosticSink) -> [(key: String, value: String, mark: Mark)]? {
        guard let v = present(key) else { return nil }
        guard let pairs = v.mapping else {
            sink.error(v.mark, "'\(key)' in \(what) must be a mapping of names to strings, got \(v.kindName)")
            return nil
        }
        var out: [(key: String, value: String, mark: Mark)] = []
        for p in pairs {
            guard let s = stringValue(p.value) else {
                sink.error(p.value.mark, "value of '\(p.key.scalar ?? "")' in '\(key)' must be a string, got \(p.value.kindName); quote it")
                continue
            }
            out.append((p.key.scalar ?? "", s, p.value.mark))
        }
        return out
    }
}

/// The text of a scalar that YAML resolves to a string (plain or quoted), nil otherwise.
func stringValue(_ node: Node) -> String? {
    guard case .string(let s)? = node.resolved else { return nil }
    return s
}

/// The allowed word closest to `word` by edit distance, if it is close enough to be a
/// plausible typo (at most 2 edits, or a third of the word).
func closestMatch(_ word: String, in candidates: [String]) -> String? {
    guard word.count >= 3 else { return nil }
    let limit = min(2, max(1, word.count / 3))
    var best: (String, Int)?
    for c in candidates {
        let d = editDistance(word.lowercased(), c)
        if d <= limit, d < (best?.1 ?? Int.max) { best = (c, d) }
    }
    return best?.0
}

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.unicodeScalars)
    let b = Array(b.unicodeScalars)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = Array(repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
