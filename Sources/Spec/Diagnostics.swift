import YAML

/// One problem found in a spec, pinned to the place in the file that causes it.
///
/// Users fix specs from these messages alone, so every diagnostic carries a position
/// (`file:line:col`) and is rendered with the offending source line and a caret.
public struct Diagnostic: Sendable, Equatable, CustomStringConvertible {
    /// Errors make a spec invalid (exit 1); warnings are shown and allowed.
    public enum Severity: String, Sendable, Equatable, Codable {
        case error
        case warning
    }

    public var severity: Severity
    public var mark: Mark
    public var message: String

    public init(_ severity: Severity, _ mark: Mark, _ message: String) {
        self.severity = severity
        self.mark = mark
        self.message = message
    }

    /// The one-line form, `FILE:LINE:COL: error: message`.
    public var description: String { "\(mark): \(severity.rawValue): \(message)" }
}

/// Collects diagnostics in the order they are found; decoding never stops at the
/// first problem so that one run of `netform validate` shows them all.
struct DiagnosticSink {
    private(set) var items: [Diagnostic] = []

    mutating func error(_ mark: Mark, _ message: String) {
        items.append(Diagnostic(.error, mark, message))
    }

    mutating func warning(_ mark: Mark, _ message: String) {
        items.append(Diagnostic(.warning, mark, message))
    }

    var hasErrors: Bool { items.contains { $0.severity == .error } }
}

/// The text of a spec file, kept to show source lines under diagnostics.
///
/// Lines end as the YAML reader counts them for positions (CR LF, CR, LF, NEL, LS,
/// PS), so the line shown is the one `file:line:col` names. Where each line starts is
/// found once, on the scalars (splitting by `Character` saw no line end at all in a
/// CR LF file, and took milliseconds on a spec of 5000 containers).
public struct SourceText: Sendable {
    public let path: String
    private let text: String
    /// The start of every line, the first included.
    private let lineStarts: [String.Index]

    public init(path: String, text: String) {
        self.path = path
        self.text = text
        let scalars = text.unicodeScalars
        var starts = [scalars.startIndex]
        var i = scalars.startIndex
        while i < scalars.endIndex {
            var next = scalars.index(after: i)
            switch scalars[i].value {
            case 0x0D:
                if next < scalars.endIndex, scalars[next] == "\n" { next = scalars.index(after: next) }
                starts.append(next)
            case 0x0A, 0x85, 0x2028, 0x2029:
                starts.append(next)
            default:
                break
            }
            i = next
        }
        lineStarts = starts
    }

    /// Line `n` (1-based) without its line terminator, or nil past the end.
    public func line(_ n: Int) -> Substring? {
        guard n >= 1, n <= lineStarts.count else { return nil }
        let start = lineStarts[n - 1]
        guard n < lineStarts.count else { return text[start...] }
        let scalars = text.unicodeScalars
        var end = scalars.index(before: lineStarts[n])
        if scalars[end] == "\n", end > start, scalars[scalars.index(before: end)] == "\r" { end = scalars.index(before: end) }
        return text[start..<end]
    }

    /// Renders a diagnostic the way compilers do:
    /// ```
    /// lab.yaml:3:5: error: unknown key 'subnett'; did you mean 'subnets'?
    ///     3 |     subnett: []
    ///       |     ^
    /// ```
    /// Tabs before the caret are reproduced so the caret lines up in a terminal.
    /// An empty line (a missing or empty file) shows no source line; a long one (a
    /// plan file given as a spec, minified JSON) shows the 100 characters around the
    /// column; control characters (binary input) show as U+FFFD, never raw.
    public func render(_ d: Diagnostic) -> String {
        var out = d.description
        guard let full = line(d.mark.line), !full.isEmpty else { return out }
        let window = 100
        let column = max(0, d.mark.column - 1)
        var start = full.startIndex
        var lead = ""
        if full.count > window, column > window / 2 {
            start = full.index(full.startIndex, offsetBy: min(column - window / 2, full.count - window))
            lead = "…"
        }
        var shown = full[start...].prefix(window)
        let tail = shown.endIndex < full.endIndex ? "…" : ""
        let before = full.distance(from: start, to: full.index(full.startIndex, offsetBy: min(column, full.count)))
        shown = Substring(shown.map { c -> Character in
            guard let a = c.asciiValue else { return c }
            return a == 0x09 || (a >= 0x20 && a != 0x7f) ? c : "\u{FFFD}"
        })
        let number = String(d.mark.line)
        let gutter = String(repeating: " ", count: number.count)
        out += "\n \(number) | \(lead)\(shown)\(tail)"
        let prefix = shown.prefix(before).map { $0 == "\t" ? "\t" : " " }.joined()
        out += "\n \(gutter) | \(String(repeating: " ", count: lead.count))\(prefix)^"
        return out
    }
}
