/// A JSON value as libnftables reads and writes it, with one deterministic text form.
///
/// `rendered` is the canonical form a planner can diff byte for byte: no whitespace,
/// object keys sorted by their UTF-8 bytes, arrays in their given order, strings
/// escaped as JSON requires (`"`, `\`, control characters as `\uXXXX`, nothing else
/// escaped). Numbers are integers: nft's JSON has no fractions.
///
/// Not `indirect`: arrays and objects hold their elements in their own storage
/// already, and an indirect enum boxes every value, each string and number too, in
/// a heap allocation of its own (a 322-rule table has ~10,000 of them).
public enum JSONValue: Sendable, Hashable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The canonical text (compact, keys sorted).
    public var rendered: String {
        var out = ""
        write(to: &out)
        return out
    }

    public var description: String { rendered }

    /// Feeds the value's parts (type tags, keys in sorted order, scalars) to `digest`:
    /// two equal values feed the same sequence, without rendering text.
    public func digest(into digest: inout StreamDigest) {
        switch self {
        case .null: digest.feed(ascii: UInt8(ascii: "n"))
        case .bool(let b): digest.feed(ascii: b ? UInt8(ascii: "t") : UInt8(ascii: "f"))
        case .int(let i): digest.feed(ascii: UInt8(ascii: "i")); digest.feed(String(i))
        case .string(let s): digest.feed(ascii: UInt8(ascii: "s")); digest.feed(s)
        case .array(let items):
            digest.feed(ascii: UInt8(ascii: "["))
            for item in items { item.digest(into: &digest) }
            digest.feed(ascii: UInt8(ascii: "]"))
        case .object(let members):
            digest.feed(ascii: UInt8(ascii: "{"))
            // Keys in `<` order; nft's objects have one to three (`match`: left, op,
            // right): those are ordered without building an array of keys.
            var i = members.makeIterator()
            switch members.count {
            case 0: break
            case 1:
                let a = i.next()!
                digest.feed(a.key); a.value.digest(into: &digest)
            case 2:
                var a = i.next()!, b = i.next()!
                if b.key < a.key { swap(&a, &b) }
                digest.feed(a.key); a.value.digest(into: &digest)
                digest.feed(b.key); b.value.digest(into: &digest)
            case 3:
                var a = i.next()!, b = i.next()!, c = i.next()!
                if b.key < a.key { swap(&a, &b) }
                if c.key < b.key { swap(&b, &c) }
                if b.key < a.key { swap(&a, &b) }
                digest.feed(a.key); a.value.digest(into: &digest)
                digest.feed(b.key); b.value.digest(into: &digest)
                digest.feed(c.key); c.value.digest(into: &digest)
            default:
                for key in members.keys.sorted() { digest.feed(key); members[key]!.digest(into: &digest) }
            }
            digest.feed(ascii: UInt8(ascii: "}"))
        }
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .string(let s): JSONValue.writeString(s, to: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, key) in members.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if i > 0 { out += "," }
                JSONValue.writeString(key, to: &out)
                out += ":"
                members[key]!.write(to: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ s: String, to out: inout String) {
        JSONText.quote(s, into: &out)
    }

    /// Parses JSON text (nft's output). Fractional and exponent numbers are refused:
    /// nft never prints them.
    public static func parse(_ text: String) throws(ParseError) -> JSONValue {
        // Read in place, from the string's own UTF-8 storage (no copy of nft's listing).
        var text = text
        let result = text.withUTF8 { bytes -> Result<JSONValue, Parser.Failure> in
            var parser = Parser(bytes: bytes)
            do throws(Parser.Failure) {
                parser.skipSpace()
                let value = try parser.value()
                parser.skipSpace()
                guard parser.index == parser.bytes.count else { throw parser.fail("trailing text") }
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let value): return value
        case .failure(let error): throw ParseError(message: "\(error.what) at byte \(error.offset) of: \(text.prefix(200))")
        }
    }

    /// Why a text is not JSON netform can read: what, where, and the text's start.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { "invalid JSON: \(message)" }
    }

    /// A small recursive-descent JSON reader over UTF-8 bytes.
    private struct Parser {
        struct Failure: Error { var offset: Int; var what: String }
        /// The text, only valid while `parse` runs.
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        mutating func skipSpace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x0a, 0x0d, 0x09: index += 1
                default: return
                }
            }
        }

        func fail(_ what: String) -> Failure { Failure(offset: index, what: what) }

        mutating func expect(_ literal: String) throws(Failure) {
            for b in literal.utf8 {
                guard index < bytes.count, bytes[index] == b else { throw fail("expected \(literal)") }
                index += 1
            }
        }

        mutating func value() throws(Failure) -> JSONValue {
            guard index < bytes.count else { throw fail("unexpected end") }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                // Room for three keys at once: most of nft's objects have one to three
                // (growing from empty would reallocate and rehash at the 2nd and 4th).
                var members = [String: JSONValue](minimumCapacity: 3)
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
                while true {
                    skipSpace()
                    let key = try string()
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected :") }
                    index += 1
                    skipSpace()
                    members[key] = try value()
                    skipSpace()
                    guard index < bytes.count else { throw fail("unterminated object") }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    try expect("}")
                    return .object(members)
                }
            case UInt8(ascii: "["):
                index += 1
                var items: [JSONValue] = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
                while true {
                    skipSpace()
                    items.append(try value())
                    skipSpace()
                    guard index < bytes.count else { throw fail("unterminated array") }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    try expect("]")
                    return .array(items)
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            default:
                // An optional minus and digits, accumulated negatively (Int.min fits).
                let negative = bytes[index] == UInt8(ascii: "-")
                if negative { index += 1 }
                let digitsStart = index
                var n = 0
                var overflow = false
                while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                    let (times10, o1) = n.multipliedReportingOverflow(by: 10)
                    let (next, o2) = times10.subtractingReportingOverflow(Int(bytes[index] - UInt8(ascii: "0")))
                    overflow = overflow || o1 || o2
                    n = next
                    index += 1
                }
                guard index > digitsStart, !overflow, negative || n != .min else { throw fail("bad number") }
                return .int(negative ? n : -n)
            }
        }

        mutating func string() throws(Failure) -> String {
            try expect("\"")
            // Fast path: no escape before the closing quote (nft's names, keywords).
            var end = index
            while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\") { end += 1 }
            if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<end]), as: UTF8.self)
                index = end + 1
                return s
            }
            var out = String.UnicodeScalarView()
            var raw: [UInt8] = []
            func flush() {
                out.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
                raw.removeAll()
            }
            while true {
                guard index < bytes.count else { throw fail("unterminated string") }
                let b = bytes[index]
                index += 1
                if b == UInt8(ascii: "\"") { flush(); return String(out) }
                if b != UInt8(ascii: "\\") { raw.append(b); continue }
                guard index < bytes.count else { throw fail("unterminated escape") }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "n"): raw.append(0x0a)
                case UInt8(ascii: "r"): raw.append(0x0d)
                case UInt8(ascii: "t"): raw.append(0x09)
                case UInt8(ascii: "b"): raw.append(0x08)
                case UInt8(ascii: "f"): raw.append(0x0c)
                case UInt8(ascii: "u"):
                    guard index + 4 <= bytes.count,
                          let v = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16)
                    else { throw fail("bad \\u escape") }
                    index += 4
                    flush()
                    // nft prints ASCII; a surrogate (never expected) becomes U+FFFD.
                    out.append(Unicode.Scalar(v) ?? "\u{FFFD}")
                default: raw.append(e)
                }
            }
        }
    }

    /// The member `key` of an object (nil otherwise).
    public subscript(key: String) -> JSONValue? {
        if case .object(let m) = self { return m[key] }
        return nil
    }

    /// The elements of an array (empty otherwise).
    public var arrayValue: [JSONValue] {
        if case .array(let a) = self { return a }
        return []
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var intValue: Int? {
        if case .int(let i) = self { return i }
        return nil
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue: Codable {
    /// Encoded as its canonical text, one JSON string: exact whatever the encoder's
    /// key strategy (plan files convert keys to snake_case; nft's own keys must
    /// come through untouched).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rendered)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        do { self = try JSONValue.parse(text) } catch {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "\(error)")
        }
    }
}
