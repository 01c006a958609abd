import Compile
import Import
import Model
import Plan
import Spec

/// What `netform import` gives: the spec text, what it could not recover, and the
/// proof that it reproduces the host — the plan of the text, read back as any spec is.
public struct ImportResult: Sendable {
    public var project: String
    /// The spec as YAML, with its notes as a comment header.
    public var yaml: String
    public var spec: Spec
    public var notes: [String]
    /// The plan of `yaml` against the host (nil when the text did not load: a bug,
    /// reported in `diagnostics`).
    public var check: Reconciler.PlannedChange?
    /// The loader's messages for `yaml`; empty when it loaded.
    public var diagnostics: [String]

    /// Whether planning the imported spec changes nothing and conflicts with nothing.
    public var reproducesHost: Bool { check.map { $0.plan.steps.isEmpty && $0.plan.conflicts.isEmpty } ?? false }
}

/// Why nothing could be imported.
public struct ImportError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

extension Reconciler {
    /// Reads the host (and `extra` namespaces, e.g. every process's), writes the spec
    /// of `project` (the only project on the host when nil) and plans it.
    /// - Parameters:
    ///   - cluster: the store settings this host was read with, for the spec's `cluster:`.
    ///   - check: plans the imported spec (default: this reconciler; the CLI builds one
    ///     from the spec's `cluster:` section, as `netform plan FILE` will).
    public func importProject(_ project: String?, extra: [NamespaceRef] = [], cluster: ClusterSpec? = nil,
                              check: ((Spec) throws -> PlannedChange)? = nil) throws -> ImportResult {
        let observed = try observe(extra, .read)
        let projects = SpecImporter.projects(in: observed)
        let name: String
        if let project {
            guard projects.contains(project) else {
                throw ImportError(message: projects.isEmpty ? "no objects of project '\(project)' on this host (it has no netform project)"
                                  : "no objects of project '\(project)' on this host; its projects: \(projects.joined(separator: ", "))")
            }
            name = project
        } else {
            guard let only = projects.first else { throw ImportError(message: "this host has no netform project; nothing to import") }
            guard projects.count == 1 else {
                throw ImportError(message: "this host has several netform projects (\(projects.joined(separator: ", "))); choose one with --project")
            }
            name = only
        }
        let imported = SpecImporter.importProject(name, from: observed, localHost: self.cluster == nil ? nil : localHost,
                                                  cluster: cluster)
        var header = ["Imported by `netform import` from the live host" + (localHost.map { " \($0)" } ?? "") + ": project \(name)."]
        header.append("Check it with `netform plan FILE` (this import did: see its output).")
        if !imported.notes.isEmpty {
            header.append("")
            header.append("What the import could not recover:")
            header += imported.notes.map { "- " + $0 }
        }
        let yaml = SpecWriter.yaml(imported.spec, header: header)
        let loaded = SpecLoader.load(bytes: Array(yaml.utf8), file: "(imported)", clusterCheck: LiveHost.clusterSectionCheck)
        var result = ImportResult(project: name, yaml: yaml, spec: imported.spec, notes: imported.notes, check: nil,
                                  diagnostics: loaded.rendered())
        if let spec = loaded.spec { result.check = try check.map { try $0(spec) } ?? plan(spec, fingerprinted: false) }
        return result
    }
}

/// What `netform import --bridge` gives: the spec, the teardown script, and the plan
/// `apply` will run once the teardown is done (computed on the host as it will then be).
public struct ForeignImportResult: Sendable {
    public var project: String
    public var yaml: String
    public var spec: Spec
    public var notes: [String]
    /// The script's text (ends with a newline).
    public var teardown: String
    /// nil when `yaml` did not load (a bug, in `diagnostics`).
    public var plan: Plan?
    public var diagnostics: [String]
}

extension Reconciler {
    /// Reads the host (and `extra`), writes a spec of project `project` for the
    /// hand-made `bridges` and what hangs off them, and plans it against the host as it
    /// will be after the teardown. Nothing is changed.
    public func importForeign(project: String, bridges: [String], extra: [NamespaceRef] = []) throws -> ForeignImportResult {
        let observed = try observe(extra, .read)
        if SpecImporter.projects(in: observed).contains(project) {
            throw ImportError(message: "project '\(project)' already has objects on this host; import hand-made bridges into a new project")
        }
        let imported: ForeignImport
        do { imported = try SpecImporter.importForeign(project: project, bridges: bridges, from: observed) } catch {
            throw ImportError(message: error.message)
        }
        var header = ["Imported by `netform import --bridge` from the hand-made \(bridges.joined(separator: ", ")): project \(project).",
                      "Run the teardown script first (it removes the hand-made links), then `netform apply` this file."]
        header.append("")
        header.append("Notes:")
        header += imported.notes.map { "- " + $0 }
        let yaml = SpecWriter.yaml(imported.spec, header: header)
        let loaded = SpecLoader.load(bytes: Array(yaml.utf8), file: "(imported)")
        var result = ForeignImportResult(project: project, yaml: yaml, spec: imported.spec, notes: imported.notes,
                                         teardown: imported.teardown.joined(separator: "\n") + "\n", plan: nil, diagnostics: loaded.rendered())
        if let spec = loaded.spec {
            let compiled = try Compiler.compile(spec, observed: imported.afterTeardown, localHost: localHost)
            result.plan = Planner.plan(compiled.desired, observed: imported.afterTeardown, fingerprinted: false)
        }
        return result
    }
}
