import ArgumentParser
import Foundation
import Reconcile
import Spec

/// `netform validate SPEC...`: checks spec files without root or kernel access.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check spec files and print every problem with its file:line:col.",
        discussion: """
        Needs no root and reads no kernel state. `-` reads the spec from standard input.
        Exit status: 0 when every file is valid (warnings allowed), 1 when any file has an error.

        Examples:
          netform validate Examples/*.yaml
          netform validate --format json lab.yaml            (CI annotations)
          generate-spec | netform validate -
        """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Option(help: "Output format: text (diagnostics with source lines) or json (for CI annotations).")
    var format: Format = .text

    @Argument(help: "Spec files to check.")
    var specs: [String]

    func run() throws {
        let results = specs.map { path in
            path == "-" ? SpecLoader.load(bytes: Array(FileHandle.standardInput.readDataToEndOfFile()), file: "<stdin>",
                                          clusterCheck: LiveHost.clusterSectionCheck)
                        : LiveHost.loadSpec(path: path)
        }
        switch format {
        case .text:
            for r in results {
                for block in r.rendered() { print(block) }
                if !r.hasErrors {
                    let warnings = r.diagnostics.count
                    print("\(r.source.path): valid (project '\(r.spec?.project ?? "?")'\(warnings > 0 ? ", \(warnings) warning\(warnings == 1 ? "" : "s")" : ""))")
                }
            }
            let failed = results.filter(\.hasErrors)
            if !failed.isEmpty {
                let errors = failed.reduce(0) { $0 + $1.diagnostics.filter { $0.severity == .error }.count }
                print("\(errors) error\(errors == 1 ? "" : "s") in \(failed.count) file\(failed.count == 1 ? "" : "s")")
            }
        case .json:
            let report = ValidationReport(files: results.map(ValidationReport.File.init))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        }
        if results.contains(where: \.hasErrors) { throw ExitCode(1) }
    }
}

/// The `--format json` output of `netform validate` (versioned: tools parse it).
struct ValidationReport: Encodable {
    var formatVersion = 1
    var files: [File]

    struct File: Encodable {
        var file: String
        var valid: Bool
        var project: String?
        var diagnostics: [Entry]

        /// `project` is written as null for an invalid file (as the README shows), not left out.
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(file, forKey: .file)
            try c.encode(valid, forKey: .valid)
            try c.encode(project, forKey: .project)
            try c.encode(diagnostics, forKey: .diagnostics)
        }

        enum Keys: String, CodingKey { case file, valid, project, diagnostics }

        init(_ r: LoadedSpec) {
            file = r.source.path
            valid = !r.hasErrors
            project = r.spec?.project
            diagnostics = r.diagnostics.map {
                Entry(severity: $0.severity.rawValue, file: $0.mark.file, line: $0.mark.line, column: $0.mark.column, message: $0.message)
            }
        }
    }

    struct Entry: Encodable {
        var severity: String
        var file: String
        var line: Int
        var column: Int
        var message: String
    }

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version"
        case files
    }
}
