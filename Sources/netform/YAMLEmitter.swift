import Observe
/// A tiny deterministic YAML writer for command output: any `Encodable` value, keys
/// in the order the value encodes them (not sorted), two-space indentation, block
/// style, `null` for nil. Strings are written plain only when they cannot be read
/// back as anything else (starts with a letter, `_` or `/`; only letters, digits
/// and `_./+-`; not a YAML 1.1 boolean or null word); everything else is
/// double-quoted with JSON-style escapes, so `10.0.0.1`, `02:42:ac:11:00:02` and
/// `netform:lab/net/a` stay strings for every YAML reader.
enum YAMLEmitter {
    static func render(_ value: some Encodable) throws -> String {
        let root = YNode()
        try value.encode(to: YEncoder(root, codingPath: []))
        var out = ""
        write(root, indent: 0, into: &out)
        return out
    }

    // MARK: - Rendering

    private static func write(_ node: YNode, indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        switch node.value {
        case .map(let pairs) where !pairs.isEmpty:
            for (key, child) in pairs {
                out += pad + scalar(key) + ":"
                writeChild(child, indent: indent, into: &out)
            }
        case .list(let items) where !items.isEmpty:
            for item in items {
                out += pad + "-"
                writeListItem(item, indent: indent, into: &out)
            }
        default:
            out += pad + inline(node) + "\n"
        }
    }

    /// After `key:` — a scalar or an empty collection on the same line, else a block.
    private static func writeChild(_ child: YNode, indent: Int, into out: inout String) {
        switch child.value {
        case .map(let p) where !p.isEmpty:
            out += "\n"
            write(child, indent: indent + 2, into: &out)
        case .list(let l) where !l.isEmpty:
            out += "\n"
            write(child, indent: indent, into: &out)  // "- " items at the key's indentation
        default:
            out += " " + inline(child) + "\n"
        }
    }

    /// After `-` — a map item starts on the same line.
    private static func writeListItem(_ item: YNode, indent: Int, into out: inout String) {
        switch item.value {
        case .map(let pairs) where !pairs.isEmpty:
            var first = true
            for (key, child) in pairs {
                out += (first ? " " : String(repeating: " ", count: indent + 2)) + scalar(key) + ":"
                first = false
                writeChild(child, indent: indent + 2, into: &out)
            }
        case .list(let l) where !l.isEmpty:
            out += "\n"
            write(item, indent: indent + 2, into: &out)
        default:
            out += " " + inline(item) + "\n"
        }
    }

    private static func inline(_ node: YNode) -> String {
        switch node.value {
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .number(let n): n
        case .string(let s): scalar(s)
        case .map: "{}"
        case .list: "[]"
        }
    }

    private static let reserved: Set<String> = ["true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"]

    static func scalar(_ s: String) -> String {
        if isPlain(s) { return s }
        // A JSON string literal is a YAML double-quoted scalar.
        var out = ""
        OrderedJSON.quote(s, into: &out)
        return out
    }

    private static func isPlain(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, !reserved.contains(s.lowercased()) else { return false }
        func letter(_ u: Unicode.Scalar) -> Bool { (u >= "a" && u <= "z") || (u >= "A" && u <= "Z") }
        guard letter(first) || first == "_" || first == "/" else { return false }
        return s.unicodeScalars.allSatisfy { u in
            letter(u) || (u >= "0" && u <= "9") || u == "_" || u == "." || u == "/" || u == "+" || u == "-"
        }
    }
}

// MARK: - Encoder building an ordered tree

final class YNode {
    enum Value {
        case null, bool(Bool), number(String), string(String)
        case map([(String, YNode)])
        case list([YNode])
    }

    var value: Value = .null

    func child(forKey key: String) -> YNode {
        let node = YNode()
        var pairs: [(String, YNode)] = []
        if case .map(let p) = value { pairs = p }
        if let i = pairs.firstIndex(where: { $0.0 == key }) { pairs[i].1 = node } else { pairs.append((key, node)) }
        value = .map(pairs)
        return node
    }

    func appendItem() -> YNode {
        let node = YNode()
        var items: [YNode] = []
        if case .list(let l) = value { items = l }
        items.append(node)
        value = .list(items)
        return node
    }
}

private struct YKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) { stringValue = "\(intValue)"; self.intValue = intValue }
}

private struct YEncoder: Encoder, SingleValueEncodingContainer {
    let node: YNode
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ node: YNode, codingPath: [any CodingKey]) {
        self.node = node
        self.codingPath = codingPath
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .map = node.value {} else { node.value = .map([]) }
        return KeyedEncodingContainer(YKeyed<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .list = node.value {} else { node.value = .list([]) }
        return YUnkeyed(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { self }

    mutating func encodeNil() throws { node.value = .null }
    mutating func encode(_ value: Bool) throws { node.value = .bool(value) }
    mutating func encode(_ value: String) throws { node.value = .string(value) }
    mutating func encode(_ value: Double) throws { node.value = .number("\(value)") }
    mutating func encode(_ value: Float) throws { node.value = .number("\(value)") }
    mutating func encode(_ value: Int) throws { node.value = .number("\(value)") }
    mutating func encode(_ value: Int8) throws { node.value = .number("\(value)") }
    mutating func encode(_ value: Int16) throws { node.value = .number("\(value)") }
    mutating func encode(_ value: Int32) throws { node.value = .number("\(value)") }
    mutating func encode(_ value: Int64) throws { node.value = .number("\(value)") }
    mutating func encode(_ value: UInt) throws { node.value = .number("\(value)") }
    mutating func encode(_ value: UInt8) throws { node.value = .number("\(value)") }
    mutating func encode(_ value: UInt16) throws { node.value = .number("\(value)") }
    mutating func encode(_ value: UInt32) throws { node.value = .number("\(value)") }
    mutating func encode(_ value: UInt64) throws { node.value = .number("\(value)") }
    mutating func encode<T: Encodable>(_ value: T) throws { try value.encode(to: self) }
}

private struct YKeyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: YNode
    var codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws { _ = node.child(forKey: key.stringValue) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try value.encode(to: YEncoder(node.child(forKey: key.stringValue), codingPath: codingPath + [key]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        YEncoder(node.child(forKey: key.stringValue), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        YEncoder(node.child(forKey: key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { YEncoder(node.child(forKey: "super"), codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        YEncoder(node.child(forKey: key.stringValue), codingPath: codingPath + [key])
    }
}

private struct YUnkeyed: UnkeyedEncodingContainer {
    let node: YNode
    var codingPath: [any CodingKey]
    var count: Int {
        if case .list(let l) = node.value { return l.count }
        return 0
    }

    private var nextPath: [any CodingKey] { codingPath + [YKey(intValue: count)] }

    mutating func encodeNil() throws { _ = node.appendItem() }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let path = nextPath
        try value.encode(to: YEncoder(node.appendItem(), codingPath: path))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let path = nextPath
        return YEncoder(node.appendItem(), codingPath: path).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let path = nextPath
        return YEncoder(node.appendItem(), codingPath: path).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let path = nextPath
        return YEncoder(node.appendItem(), codingPath: path)
    }
}
