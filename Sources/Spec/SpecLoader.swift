import YAML

/// The outcome of reading one spec file: the spec when it is valid, and every
/// diagnostic found, in file order.
public struct LoadedSpec: Sendable {
    /// nil when any error was found: nothing downstream may act on an invalid spec.
    public var spec: Spec?
    public var diagnostics: [Diagnostic]
    public var source: SourceText

    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    /// Every diagnostic rendered with its source line and caret, one block each.
    public func rendered() -> [String] { diagnostics.map(source.render) }
}

/// Reads spec files: bytes → YAML nodes → `Spec`, collecting all diagnostics.
///
/// The single entry point every front end (CLI, tests, a future agent) uses, so they
/// all accept and refuse exactly the same files.
public enum SpecLoader {
    /// Reads and checks the file at `path`. The default project is the file's stem.
    /// `clusterCheck` checks what a `cluster:` section means (the cluster module's
    /// parser: `Reconcile.LiveHost.clusterSectionCheck`); its problems are errors at
    /// the value they are about.
    public static func load(path: String, clusterCheck: ClusterSectionCheck? = nil) -> LoadedSpec {
        guard let bytes = readFile(path) else {
            let mark = Mark(file: path, line: 1, column: 1)
            return LoadedSpec(spec: nil, diagnostics: [Diagnostic(.error, mark, "cannot read file: \(lastErrorText())")],
                              source: SourceText(path: path, text: ""))
        }
        return load(bytes: bytes, file: path, clusterCheck: clusterCheck)
    }

    /// Checks spec text already in memory; `file` names it in diagnostics.
    public static func load(bytes: [UInt8], file: String, clusterCheck: ClusterSectionCheck? = nil) -> LoadedSpec {
        let text = String(decoding: bytes, as: UTF8.self)
        let source = SourceText(path: file, text: text)
        let root: Node?
        do {
            root = try YAMLParser.parse(bytes, file: file)
        } catch {
            return LoadedSpec(spec: nil, diagnostics: [Diagnostic(.error, error.mark, error.message)], source: source)
        }
        var decoder = SpecDecoder(root: Mark(file: file, line: 1, column: 1), defaultProject: fileStem(file))
        let decoded = decoder.decode(root)
        var diagnostics = decoder.sink
        if let decoded {
            var validator = SpecValidator(spec: decoded, marks: decoder.marks, sink: diagnostics)
            validator.run()
            diagnostics = validator.sink
            if let cluster = decoded.cluster, let clusterCheck {
                for p in clusterCheck(cluster) { diagnostics.error(decoder.marks["cluster.\(p.path)"], p.message) }
            }
        }
        let sorted = diagnostics.items.enumerated().sorted { a, b in
            (a.element.mark.line, a.element.mark.column, a.offset) < (b.element.mark.line, b.element.mark.column, b.offset)
        }.map(\.element)
        return LoadedSpec(spec: diagnostics.hasErrors ? nil : decoded, diagnostics: sorted, source: source)
    }

    static func fileStem(_ path: String) -> String {
        if path == "<stdin>" { return "stdin" }
        let base = path.split(separator: "/").last.map(String.init) ?? path
        for ext in [".yaml", ".yml", ".json"] where base.hasSuffix(ext) {
            return String(base.dropLast(ext.count))
        }
        return base
    }
}

#if canImport(Glibc)
import Glibc
#endif

private func readFile(_ path: String) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buffer, 1, buffer.count, f)
        if n > 0 { out.append(contentsOf: buffer[0..<n]) }
        if n < buffer.count {
            if ferror(f) != 0 { return nil }
            break
        }
    }
    return out
}

private func lastErrorText() -> String { String(cString: strerror(errno)) }
