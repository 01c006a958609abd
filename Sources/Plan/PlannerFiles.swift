import Model

/// The files under `/etc/netns` (`NamespaceFile`): written when missing or different,
/// removed when the project no longer wants them; only ever those whose first line
/// carries the project's mark. A file at a wanted path without it is a conflict.
extension PlanBuilder {
    func fileResource(_ namespace: String) -> Resource {
        let prefix = "\(project)."
        return namespace.hasPrefix(prefix) ? Resource(.container, String(namespace.dropFirst(prefix.count))) : Resource(.host, namespace)
    }

    func fileKey(_ f: NamespaceFile) -> String { "file:\(f.key)" }

    var observedFiles: [String: NamespaceFile] {
        Dictionary((observed[.host]?.netnsFiles ?? []).map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Files at the paths the spec wants that netform did not write for this project.
    mutating func findFileConflicts() {
        let have = observedFiles
        for f in desired.state[.host]?.netnsFiles ?? [] {
            guard let old = have[f.key], old.project != project else { continue }
            let whose = old.project.map { "belongs to netform project '\($0)'" }
                ?? "is not netform's (its first line has no netform mark); remove it, or adopt the namespace"
            conflicts.append(Conflict(fileResource(f.namespace), "file \(f.path) exists and \(whose)"))
        }
    }

    /// The project's files the spec no longer wants (its containers' that went, all of
    /// them on destroy): removed before their namespaces, so an interrupted destroy
    /// leaves a namespace that still names them.
    mutating func deleteUnwantedFiles() {
        let wanted = Set((desired.state[.host]?.netnsFiles ?? []).map(\.key))
        for f in observed[.host]?.netnsFiles ?? [] where f.project == project && !wanted.contains(f.key) {
            emit(fileResource(f.namespace), .delete, .deleteNamespaceFile(namespace: f.namespace, name: f.name, project: project),
                 inverse: [.writeNamespaceFile(f)], removes: [fileKey(f)], disruption: .destroy,
                 details: [AttributeChange("file", old: "\(f.path) (\(f.lineCount) lines)", new: nil)])
        }
    }

    /// Writes the files that are missing or differ, after their namespace exists.
    /// A write provides nothing: no step comes after a file (the 100,000 keys of
    /// 50,000 containers' files were 20 MB of a plan's peak).
    mutating func writeFiles() {
        let have = observedFiles
        for f in desired.state[.host]?.netnsFiles ?? [] {
            let old = have[f.key]
            if let old, old.project != project || old.content == f.content { continue }
            let inverse: [Operation] = old.map { [.writeNamespaceFile($0)] }
                ?? [.deleteNamespaceFile(namespace: f.namespace, name: f.name, project: project)]
            emit(fileResource(f.namespace), old == nil ? .create : .update, .writeNamespaceFile(f), inverse: inverse,
                 requires: [nsKey(.named(f.namespace))], disruption: old == nil ? .none : .inPlace,
                 details: old.map { Self.lineChanges(f, from: $0) } ?? [AttributeChange("file", old: nil, new: "\(f.path) (\(f.lineCount) lines)")])
        }
    }

    /// The lines a rewrite removes and adds (at most 20 shown, then a count).
    static func lineChanges(_ new: NamespaceFile, from old: NamespaceFile) -> [AttributeChange] {
        let before = old.content.split(separator: "\n").map(String.init)
        let after = new.content.split(separator: "\n").map(String.init)
        let kept = Set(before).intersection(after)
        var out = before.filter { !kept.contains($0) }.map { AttributeChange(new.name, old: $0, new: nil) }
            + after.filter { !kept.contains($0) }.map { AttributeChange(new.name, old: nil, new: $0) }
        if out.count > 20 {
            let more = out.count - 20
            out = Array(out.prefix(20)) + [AttributeChange(new.name, old: nil, new: "… \(more) more changed lines")]
        }
        return out.isEmpty ? [AttributeChange(new.name, old: "\(old.lineCount) lines", new: "\(new.lineCount) lines (reordered)")] : out
    }
}
