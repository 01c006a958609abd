import Foundation
import Testing

/// The JSON Schema (Schemas/netform-spec-v1.schema.json) against the example specs and
/// the invalid-spec corpus, through `Scripts/check-schema` (Debian's python3-jsonschema):
///
/// - every file in Examples/ passes the schema;
/// - every file in Tests/Fixtures/invalid/schema/ fails it;
/// - every file in Tests/Fixtures/invalid/semantic/ passes it: those specs are wrong in
///   ways only netform's own validator can see (arithmetic, cross-references), which is
///   the boundary of what a schema can express.
///
/// Fixtures must also carry `# expect-error: LINE:COL: SUBSTRING` annotations that
/// point at the first character of a key or value node (netform's decoder tests check
/// the messages themselves).
@Suite("SchemaTests")
struct SchemaTests {
    // MARK: - Files

    /// The repository root: this file is Tests/EndToEndTests/SchemaTests.swift.
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()

    static let python = "/usr/bin/python3"
    static let script = "Scripts/check-schema"
    static let modeline = "# yaml-language-server: $schema=../Schemas/netform-spec-v1.schema.json"

    /// The YAML files of a folder, as paths relative to the repository root, sorted.
    static func yamlFiles(in folder: String) -> [String] {
        let directory = root.appendingPathComponent(folder).path
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
            .sorted()
            .map { "\(folder)/\($0)" }
    }

    static let examples = yamlFiles(in: "Examples")
    static let schemaInvalid = yamlFiles(in: "Tests/Fixtures/invalid/schema")
    static let semanticInvalid = yamlFiles(in: "Tests/Fixtures/invalid/semantic")

    // MARK: - Running the checker

    struct Run: Sendable {
        var status: Int32
        var output: String
    }

    /// Runs a command from the repository root, stdout and stderr together.
    static func run(_ executable: String, _ arguments: [String]) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = root
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    /// nil when /usr/bin/python3 can import what check-schema needs; otherwise why not.
    static let missingDependencies: String? = {
        let probe = "import yaml, jsonschema; jsonschema.Draft202012Validator"
        let hint = "install them with: apt-get install -y python3-jsonschema python3-yaml"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            return "\(python) not found; the schema tests need python3, python3-jsonschema and python3-yaml (\(hint))"
        }
        do {
            let result = try run(python, ["-c", probe])
            if result.status == 0 { return nil }
            return "\(python) lacks python3-jsonschema (with Draft 2020-12) or python3-yaml; \(hint)\n\(result.output)"
        } catch {
            return "cannot run \(python): \(error); \(hint)"
        }
    }()

    /// Runs check-schema on one file; records an issue unless it exits 0.
    func check(_ file: String, _ options: [String], expectation: String) throws {
        if let missing = Self.missingDependencies {
            Issue.record(Comment(rawValue: missing))
            return
        }
        let result = try Self.run(Self.python, [Self.script] + options + [file])
        #expect(result.status == 0, "\(file): \(expectation)\n\(result.output)")
    }

    // MARK: - One test per file

    @Test("Examples pass the schema", arguments: examples)
    func examplePassesSchema(_ file: String) throws {
        try check(file, [], expectation: "an example must pass the schema")
    }

    @Test("Examples start with the yaml-language-server modeline", arguments: examples)
    func exampleHasModeline(_ file: String) throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent(file), encoding: .utf8)
        let first = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        #expect(first == Self.modeline[...], "\(file): the first line must be `\(Self.modeline)`")
    }

    @Test("invalid/schema fixtures fail the schema", arguments: schemaInvalid)
    func schemaFixtureFailsSchema(_ file: String) throws {
        try check(file, ["--expect-invalid", "--check-annotations"],
                  expectation: "must be well-formed YAML that FAILS the schema, with expect-error annotations")
    }

    @Test("invalid/semantic fixtures pass the schema", arguments: semanticInvalid)
    func semanticFixturePassesSchema(_ file: String) throws {
        try check(file, ["--check-annotations"],
                  expectation: "must PASS the schema (only netform itself can refuse it), with expect-error annotations")
    }

    // MARK: - The corpus itself

    @Test("the example and fixture folders are populated")
    func foldersArePopulated() {
        #expect(Self.examples.count >= 5, "Examples/ has \(Self.examples.count) files")
        #expect(Self.schemaInvalid.count >= 25, "invalid/schema has \(Self.schemaInvalid.count) files")
        #expect(Self.semanticInvalid.count >= 15, "invalid/semantic has \(Self.semanticInvalid.count) files")
    }

    @Test("the generated bridge-port-limit fixture is up to date")
    func generatedFixtureIsFresh() throws {
        if let missing = Self.missingDependencies {
            Issue.record(Comment(rawValue: missing))
            return
        }
        let result = try Self.run(Self.python, ["Tests/Fixtures/make-bridge-port-limit.py", "--check"])
        #expect(result.status == 0, "regenerate it with Tests/Fixtures/make-bridge-port-limit.py\n\(result.output)")
    }
}
