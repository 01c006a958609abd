/// JSON string literals, written the same way everywhere netform writes JSON by
/// hand (the network inventory, the firewall ruleset, YAML's double-quoted scalars).
public enum JSONText {
    /// Appends `s` as a JSON string literal: `"` and `\` escaped, control characters
    /// and DEL as `\n`, `\t`, … or `\u00XX`; everything else (including `/` and
    /// non-ASCII) as is. Such a literal is also a valid YAML double-quoted scalar.
    public static func quote(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20 || u.value == 0x7f:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }
}
