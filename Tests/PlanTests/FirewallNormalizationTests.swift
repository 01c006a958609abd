import Model
import Testing

/// `FirewallTable.normalized()` orders set elements by their canonical text and, for
/// speed, compares plain strings without building that text and rebuilds only what
/// is out of order. These tests hold it to the straightforward definition on
/// random sets: strings that sort differently once quoted or escaped (a space, `!`,
/// `"`, `\`, control characters, DEL, non-ASCII), prefixes, ranges, numbers, nested sets.
@Suite struct FirewallNormalization {
    /// The definition: every set's elements, normalized themselves, sorted by `rendered`.
    static func reference(_ v: JSONValue) -> JSONValue {
        switch v {
        case .object(let m):
            var out: [String: JSONValue] = [:]
            for (k, x) in m {
                if k == "set", case .array(let items) = x {
                    out[k] = .array(items.map(reference).map { ($0.rendered, $0) }.sorted { $0.0 < $1.0 }.map(\.1))
                } else {
                    out[k] = reference(x)
                }
            }
            return .object(out)
        case .array(let a): return .array(a.map(reference))
        default: return v
        }
    }

    static let pieces = ["a", "ab", "b", "10.0.0.2", "10.0.0.10", "10.0.0.1", "nf-1", "nf-12", "eth0", "Z", " ", "!", "\"", "#", "\\",
                         "\n", "\u{7f}", "é", "e\u{301}", "~", "9", ":", "fd00::2", "fd00::10"]

    static func element(_ rng: inout SeededRandom, depth: Int) -> JSONValue {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0..<5:
            let n = Int.random(in: 1...3, using: &rng)
            return .string((0..<n).map { _ in pieces.randomElement(using: &rng)! }.joined())
        case 5: return .int(Int.random(in: -5...9000, using: &rng))
        case 6: return ["prefix": ["addr": .string(pieces.randomElement(using: &rng)!), "len": .int(Int.random(in: 8...32, using: &rng))]]
        case 7: return ["range": [.int(Int.random(in: 0...99, using: &rng)), .int(Int.random(in: 100...999, using: &rng))]]
        case 8 where depth < 2: return ["set": .array((0..<Int.random(in: 0...4, using: &rng)).map { _ in element(&rng, depth: depth + 1) })]
        default: return .string(pieces.randomElement(using: &rng)!)
        }
    }

    static func table(_ exprs: [JSONValue]) -> FirewallTable {
        FirewallTable(family: "inet", name: "netform_t", chains: [
            .init(name: "c", base: nil, rules: exprs.map { .init(expr: [$0, ["accept": nil]], comment: "r") }),
        ])
    }

    @Test func normalizedIsTheCanonicalTextOrder() {
        var rng = SeededRandom(seed: 7)
        for round in 0..<400 {
            // Plain-string sets (the fast path), mixed sets, and sets inside matches.
            let plainOnly = round % 2 == 0
            let items: [JSONValue] = (0..<Int.random(in: 0...12, using: &rng)).map { _ in
                plainOnly ? .string(Self.pieces.randomElement(using: &rng)! + Self.pieces.randomElement(using: &rng)!)
                    : Self.element(&rng, depth: 0)
            }
            let expr: JSONValue = ["match": ["op": "==", "left": ["meta": ["key": "iifname"]], "right": ["set": .array(items)]]]
            let got = Self.table([expr]).normalized()
            let want = Self.table([Self.reference(expr)])
            #expect(got == want, "round \(round): \(expr.rendered)\n got \(got.chains[0].rules[0].expr[0].rendered)\nwant \(want.chains[0].rules[0].expr[0].rendered)")
            #expect(got.normalized() == got, "normalizing twice changes nothing")
        }
    }

    @Test func aNormalizedTableIsReturnedAsIs() {
        let sorted: JSONValue = ["match": ["op": "==", "left": ["payload": ["protocol": "ip", "field": "saddr"]],
                                           "right": ["set": ["10.0.0.1", "10.0.0.10", "10.0.0.2"]]]]
        let t = Self.table([sorted])
        #expect(t.normalized() == t)
        let shuffled: JSONValue = ["match": ["op": "==", "left": ["payload": ["protocol": "ip", "field": "saddr"]],
                                             "right": ["set": ["10.0.0.2", "10.0.0.1", "10.0.0.10"]]]]
        #expect(Self.table([shuffled]).normalized() == t)
    }

    /// Plain strings longer than the 16 bytes the sort key packs: equal first 16
    /// bytes, prefixes of each other, and differences right after byte 16.
    @Test func longPlainStringsSortAsTheirText() {
        var rng = SeededRandom(seed: 11)
        let stems = ["nf-0123456789abcd", "nf-0123456789abcde", "nf-0123456789abcdef", "fd00:0:0:0:0:0:0:1", "fd00:0:0:0:0:0:0:10", "a", "ab"]
        for round in 0..<200 {
            let items: [JSONValue] = (0..<Int.random(in: 0...10, using: &rng)).map { _ in
                .string(stems.randomElement(using: &rng)! + (Bool.random(using: &rng) ? "" : stems.randomElement(using: &rng)!))
            }
            let expr: JSONValue = ["match": ["op": "==", "left": ["meta": ["key": "iifname"]], "right": ["set": .array(items)]]]
            #expect(Self.table([expr]).normalized() == Self.table([Self.reference(expr)]), "round \(round): \(expr.rendered)")
        }
    }

    /// A normalized table remembers it; changing its chains afterwards forgets it.
    @Test func changingANormalizedTableNormalizesItAgain() {
        var t = Self.table([["match": ["op": "==", "left": ["meta": ["key": "iifname"]], "right": ["set": ["b", "a"]]]]]).normalized()
        t.chains[0].rules.append(.init(expr: [["match": ["op": "==", "left": ["meta": ["key": "oifname"]], "right": ["set": ["d", "c"]]]]],
                                       comment: "r2"))
        let again = t.normalized()
        #expect(again.chains[0].rules[1].expr[0] == ["match": ["op": "==", "left": ["meta": ["key": "oifname"]], "right": ["set": ["c", "d"]]]])
        #expect(again.chains[0].rules[0].expr[0] == ["match": ["op": "==", "left": ["meta": ["key": "iifname"]], "right": ["set": ["a", "b"]]]])
    }

    @Test func numbersParseAsBefore() throws {
        let v = try JSONValue.parse(" [0, -0, 7, -7, 007, 9223372036854775807, -9223372036854775808]\n")
        #expect(v == [0, 0, 7, -7, 7, .int(Int.max), .int(Int.min)])
        #expect(try JSONValue.parse(#"{"a" : 1, "b":{"c": [ ]}}"#) == ["a": 1, "b": ["c": []]])
        for bad in ["9223372036854775808", "-9223372036854775809", "-", "-x", "1.5", "[1e3]", "{\"a\" 1}", "x"] {
            #expect(throws: JSONValue.ParseError.self, "\(bad)") { try JSONValue.parse(bad) }
        }
        func failure(_ text: String) -> String? {
            do { _ = try JSONValue.parse(text); return nil } catch { return error.message }
        }
        #expect(failure("{\"a\" 1}") == "expected : at byte 5 of: {\"a\" 1}")
        #expect(failure("-x") == "bad number at byte 1 of: -x")
        #expect(failure("[12, 99999999999999999999]") == "bad number at byte 25 of: [12, 99999999999999999999]")
    }
}

/// The property tests' generator, for the standard library's `random(in:using:)`.
extension SeededRandom: RandomNumberGenerator {}
