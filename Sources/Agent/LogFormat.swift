import Foundation
import Logging
import Model

/// How the agent's log lines look: logfmt for people and journald, JSON for log
/// shippers (`--log-format`).
public enum LogFormat: String, Sendable, CaseIterable {
    case logfmt
    case json
}

/// A swift-log handler writing one line per event to standard error, as logfmt
/// (`ts=… level=info msg="reconciled" trigger=netlink steps=2`) or as a JSON object
/// with the same keys.
///
/// Why it exists: swift-log's `StreamLogHandler` prints a human format that log
/// pipelines cannot parse; an agent's logs are read by machines first.
public struct LineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public let format: LogFormat
    let label: String
    let write: @Sendable (String) -> Void

    public init(label: String, format: LogFormat, write: @escaping @Sendable (String) -> Void = LineLogHandler.standardError) {
        self.label = label
        self.format = format
        self.write = write
    }

    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [(String, String)] = [
            ("ts", Self.timestamp()), ("level", event.level.rawValue), ("msg", event.message.description),
        ]
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        for key in merged.keys.sorted() { fields.append((key, Self.text(merged[key]!))) }
        if let error = event.error { fields.append(("error", "\(error)")) }
        write(Self.render(fields, format))
    }

    /// One line of `fields` in `format`.
    public static func render(_ fields: [(String, String)], _ format: LogFormat) -> String {
        switch format {
        case .logfmt:
            return fields.map { "\($0.0)=\(logfmtValue($0.1))" }.joined(separator: " ")
        case .json:
            return "{" + fields.map { "\(jsonString($0.0)):\(jsonString($0.1))" }.joined(separator: ",") + "}"
        }
    }

    static func text(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): s
        case .stringConvertible(let c): c.description
        case .array(let a): a.map(text).joined(separator: ",")
        case .dictionary(let d): d.keys.sorted().map { "\($0):\(text(d[$0]!))" }.joined(separator: ",")
        }
    }

    /// A logfmt value: bare when it has no space, quote, `=` or control character.
    static func logfmtValue(_ s: String) -> String {
        let needsQuotes = s.isEmpty || s.unicodeScalars.contains { $0 == " " || $0 == "\"" || $0 == "=" || $0.value < 0x20 || $0 == "\\" }
        return needsQuotes ? jsonString(s) : s
    }

    static func jsonString(_ s: String) -> String {
        var out = ""
        JSONText.quote(s, into: &out)
        return out
    }

    static func timestamp() -> String {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var t = time_t(tv.tv_sec)
        var tm = tm()
        gmtime_r(&t, &tm)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                      tm.tm_hour, tm.tm_min, tm.tm_sec, Int(tv.tv_usec / 1000))
    }
}
