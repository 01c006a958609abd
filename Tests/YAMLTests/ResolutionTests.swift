import Testing
import YAML

/// Resolves the value of `v: <text>`.
private func resolve(_ text: String) throws -> ResolvedScalar? {
    try #require(try parse("v: \(text)\n")).value(forKey: "v")?.resolved
}

@Suite struct ResolutionTests {
    @Test(arguments: [
        // null
        ("~", ResolvedScalar.null), ("null", .null), ("Null", .null), ("NULL", .null), ("", .null),
        ("nULL", .string("nULL")), ("none", .string("none")),
        // bool: core schema only
        ("true", .bool(true)), ("True", .bool(true)), ("TRUE", .bool(true)),
        ("false", .bool(false)), ("False", .bool(false)), ("FALSE", .bool(false)),
        ("yes", .string("yes")), ("no", .string("no")), ("on", .string("on")), ("off", .string("off")),
        ("y", .string("y")), ("tRUE", .string("tRUE")),
        // int
        ("0", .int(0)), ("42", .int(42)), ("-17", .int(-17)), ("+8", .int(8)), ("007", .int(7)),
        ("0x1F", .int(31)), ("0xff", .int(255)), ("0o17", .int(15)), ("0o0", .int(0)),
        ("9223372036854775807", .int(Int.max)), ("-9223372036854775808", .int(Int.min)),
        ("0x", .string("0x")), ("0o8", .string("0o8")), ("0xG", .string("0xG")), ("-0x1F", .string("-0x1F")),
        ("0b101", .string("0b101")), ("1_000", .string("1_000")), ("0x-5", .string("0x-5")), ("0o+7", .string("0o+7")),
        ("1 2", .string("1 2")), ("--1", .string("--1")), ("+", .string("+")),
        // int beyond Int: still a number
        ("99999999999999999999", .float(99999999999999999999.0)),
        ("0x10000000000000000", .float(18446744073709551616.0)),
        // float
        ("1.5", .float(1.5)), ("-0.25", .float(-0.25)), ("+2.0", .float(2.0)), (".5", .float(0.5)),
        ("-.5", .float(-0.5)), ("1.", .float(1.0)), ("1e3", .float(1000)), ("1E-2", .float(0.01)),
        ("2.5e+2", .float(250)), (".inf", .float(.infinity)), (".Inf", .float(.infinity)), ("+.INF", .float(.infinity)),
        ("-.inf", .float(-.infinity)), ("-.Inf", .float(-.infinity)),
        (".", .string(".")), ("1e", .string("1e")), ("e3", .string("e3")), ("1.2.3", .string("1.2.3")),
        ("inf", .string("inf")), ("nan", .string("nan")), ("-.nan", .string("-.nan")), ("1.5x", .string("1.5x")),
        ("10.0.0.1", .string("10.0.0.1")), ("1:2", .string("1:2")),
        // strings
        ("hello", .string("hello")), ("eth0", .string("eth0")), ("10.0.0.0/24", .string("10.0.0.0/24")),
    ])
    func plainScalars(_ text: String, _ expected: ResolvedScalar) throws {
        #expect(try resolve(text) == expected)
    }

    @Test(arguments: [".nan", ".NaN", ".NAN"])
    func notANumber(_ text: String) throws {
        guard case .float(let d)? = try resolve(text) else {
            Issue.record("\(text) did not resolve to a float")
            return
        }
        #expect(d.isNaN)
    }

    @Test(arguments: ["'5'", "\"true\"", "'~'", "\"\"", "'null'", "\"0x1F\"", "'.inf'"])
    func quotedScalarsAreStrings(_ text: String) throws {
        let inner = String(text.dropFirst().dropLast())
        #expect(try resolve(text) == .string(inner))
    }

    @Test func blockScalarsAreStrings() throws {
        #expect(try resolve("|\n  5\n") == .string("5\n"))
        #expect(try resolve("|-\n  5\n") == .string("5"))
        #expect(try resolve(">-\n  true\n") == .string("true"))
    }

    @Test(arguments: [
        ("!!str 5", ResolvedScalar.string("5")), ("!!str true", .string("true")), ("!!str ~", .string("~")),
        ("!!str", .string("")),
        ("!!int '12'", .int(12)), ("!!int 0x10", .int(16)), ("!!int abc", .string("abc")), ("!!int 1.5", .string("1.5")),
        ("!!bool \"true\"", .bool(true)), ("!!bool yes", .string("yes")),
        ("!!null ''", .null), ("!!null ~", .null), ("!!null x", .string("x")),
        ("!!float 1", .float(1)), ("!!float '2.5'", .float(2.5)), ("!!float 0x10", .float(16)), ("!!float x", .string("x")),
        ("! 5", .string("5")), ("!local 5", .string("5")), ("!!binary aGk=", .string("aGk=")),
    ])
    func explicitTags(_ text: String, _ expected: ResolvedScalar) throws {
        #expect(try resolve(text) == expected)
    }
}
