// YAML 1.2 core-schema resolution of scalar text to null/bool/int/float/string.
// Hand-written matchers instead of regular expressions keep this free of Foundation.

enum ScalarResolver {
    static let strTag = "tag:yaml.org,2002:str"
    static let intTag = "tag:yaml.org,2002:int"
    static let floatTag = "tag:yaml.org,2002:float"
    static let boolTag = "tag:yaml.org,2002:bool"
    static let nullTag = "tag:yaml.org,2002:null"
    static let mergeTag = "tag:yaml.org,2002:merge"

    static func resolve(_ text: String, style: ScalarStyle, tag: String?) -> ResolvedScalar {
        switch tag {
        case nil:
            guard style == .plain else { return .string(text) }
            return null(text) ?? bool(text) ?? int(text) ?? float(text) ?? .string(text)
        case strTag?: return .string(text)
        case intTag?: return int(text) ?? .string(text)
        case boolTag?: return bool(text) ?? .string(text)
        case nullTag?: return null(text) ?? .string(text)
        case floatTag?:
            if let f = float(text) { return f }
            switch int(text) {
            case .int(let i)?: return .float(Double(i))
            case .float(let f)?: return .float(f)
            default: return .string(text)
            }
        default:
            // `!` (non-specific), `!!binary`, local `!foo` …: nothing the core schema
            // can resolve, so the honest value is the text.
            return .string(text)
        }
    }

    static func null(_ s: String) -> ResolvedScalar? {
        switch s {
        case "", "~", "null", "Null", "NULL": return .null
        default: return nil
        }
    }

    static func bool(_ s: String) -> ResolvedScalar? {
        switch s {
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: return nil
        }
    }

    /// `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`. Values beyond `Int` become the
    /// nearest `Double` so that a huge number is still reported as a number.
    static func int(_ s: String) -> ResolvedScalar? {
        let u = Array(s.utf8)
        guard !u.isEmpty else { return nil }
        if u.count > 2 && u[0] == UInt8(ascii: "0") && (u[1] == UInt8(ascii: "x") || u[1] == UInt8(ascii: "o")) {
            let radix = u[1] == UInt8(ascii: "x") ? 16 : 8
            var exact: Int? = 0
            var approx: Double = 0
            for c in u[2...] {
                guard let d = digitValue(c), d < radix else { return nil }
                approx = approx * Double(radix) + Double(d)
                if let e = exact {
                    let (m, o1) = e.multipliedReportingOverflow(by: radix)
                    let (a, o2) = m.addingReportingOverflow(d)
                    exact = (o1 || o2) ? nil : a
                }
            }
            if let e = exact { return .int(e) }
            return .float(approx)
        }
        var digits = u[...]
        if u[0] == UInt8(ascii: "-") || u[0] == UInt8(ascii: "+") { digits = u[1...] }
        guard !digits.isEmpty, digits.allSatisfy(isDecimalDigit) else { return nil }
        if let i = Int(s) { return .int(i) }
        if let d = Double(s) { return .float(d) }
        return nil
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, `[-+]?.inf` (any of the
    /// three spellings), `.nan` (likewise).
    static func float(_ s: String) -> ResolvedScalar? {
        switch s {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .float(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .float(-.infinity)
        case ".nan", ".NaN", ".NAN": return .float(.nan)
        default: break
        }
        let u = Array(s.utf8)
        var i = 0
        if i < u.count && (u[i] == UInt8(ascii: "-") || u[i] == UInt8(ascii: "+")) { i += 1 }
        var intDigits = 0
        while i < u.count && isDecimalDigit(u[i]) { i += 1; intDigits += 1 }
        var fracDigits = 0
        var hasDot = false
        if i < u.count && u[i] == UInt8(ascii: ".") {
            hasDot = true
            i += 1
            while i < u.count && isDecimalDigit(u[i]) { i += 1; fracDigits += 1 }
        }
        // Either digits before the point, or a point followed by digits.
        guard intDigits > 0 || (hasDot && fracDigits > 0) else { return nil }
        if i < u.count && (u[i] == UInt8(ascii: "e") || u[i] == UInt8(ascii: "E")) {
            i += 1
            if i < u.count && (u[i] == UInt8(ascii: "-") || u[i] == UInt8(ascii: "+")) { i += 1 }
            var expDigits = 0
            while i < u.count && isDecimalDigit(u[i]) { i += 1; expDigits += 1 }
            guard expDigits > 0 else { return nil }
        }
        guard i == u.count else { return nil }
        guard let d = parseDouble(u) else { return nil }
        return .float(d)
    }

    /// Converts already-validated decimal float text. Swift's `Double(_:)` does not
    /// take every spelling the core schema allows (`1.`, `.5`), so normalise first.
    private static func parseDouble(_ u: [UInt8]) -> Double? {
        var out: [UInt8] = []
        out.reserveCapacity(u.count + 2)
        var i = 0
        if i < u.count && (u[i] == UInt8(ascii: "-") || u[i] == UInt8(ascii: "+")) {
            out.append(u[i]); i += 1
        }
        if i < u.count && u[i] == UInt8(ascii: ".") { out.append(UInt8(ascii: "0")) }
        while i < u.count {
            out.append(u[i])
            if u[i] == UInt8(ascii: "."), !(i + 1 < u.count && isDecimalDigit(u[i + 1])) {
                out.append(UInt8(ascii: "0"))
            }
            i += 1
        }
        return Double(String(decoding: out, as: UTF8.self))
    }

    private static func isDecimalDigit(_ c: UInt8) -> Bool {
        c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")
    }

    private static func digitValue(_ c: UInt8) -> Int? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(c - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(c - UInt8(ascii: "A")) + 10
        default: return nil
        }
    }
}
