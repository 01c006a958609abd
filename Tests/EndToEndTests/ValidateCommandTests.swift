import Foundation
import Testing
import TestSupport

/// Spec files under a folder of the repository, sorted, as paths relative to the root.
func specFiles(_ folder: String) -> [String] {
    let dir = TestSupport.repoRoot.appendingPathComponent(folder)
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
    return names.filter { $0.hasSuffix(".yaml") }.sorted().map { "\(folder)/\($0)" }
}

/// `# expect-error: LINE:COL: TEXT` annotations at the top of an invalid spec.
func expectedErrors(_ path: String) throws -> [(line: Int, column: Int, text: String)] {
    let text = try String(contentsOf: TestSupport.repoRoot.appendingPathComponent(path), encoding: .utf8)
    return text.split(separator: "\n").compactMap { line in
        guard line.hasPrefix("# expect-error:") else { return nil }
        let body = line.dropFirst("# expect-error:".count).trimmingCharacters(in: .whitespaces)
        let parts = body.split(separator: ":", maxSplits: 2)
        guard parts.count == 3, let l = Int(parts[0]), let c = Int(parts[1]) else { return nil }
        return (l, c, parts[2].trimmingCharacters(in: .whitespaces))
    }
}

struct JSONReport: Decodable {
    struct File: Decodable {
        var file: String
        var valid: Bool
        var project: String?
        var diagnostics: [Entry]
    }
    struct Entry: Decodable {
        var severity: String
        var file: String
        var line: Int
        var column: Int
        var message: String
    }
    var format_version: Int
    var files: [File]
}

@Suite struct ValidateCommand {
    @Test(arguments: specFiles("Examples"))
    func exampleIsValid(_ path: String) throws {
        let r = try TestSupport.netform(["validate", path])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("\(path): valid"))
    }

    @Test(arguments: specFiles("Tests/Fixtures/invalid/schema") + specFiles("Tests/Fixtures/invalid/semantic"))
    func invalidSpecIsRefusedAtTheRightPlace(_ path: String) throws {
        let expected = try expectedErrors(path)
        #expect(!expected.isEmpty, "\(path) has no '# expect-error: LINE:COL: TEXT' annotation")
        let r = try TestSupport.netform(["validate", "--format", "json", path])
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        let report = try JSONDecoder().decode(JSONReport.self, from: Data(r.stdout.utf8))
        let errors = report.files.flatMap(\.diagnostics).filter { $0.severity == "error" }
        for e in expected {
            #expect(errors.contains { $0.line == e.line && $0.column == e.column && $0.message.contains(e.text) },
                    "\(path): expected \(e.line):\(e.column): …\(e.text)…; got:\n\(errors.map { "\($0.line):\($0.column): \($0.message)" }.joined(separator: "\n"))")
        }
    }

    @Test func textOutputShowsSourceLineAndCaretAndExitsOne() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("netform-validate-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("lab.yaml")
        try "version: 1\nnetworks:\n  aislada: {subnett: [{subnet: 172.18.0.0/16}]}\n".write(to: bad, atomically: true, encoding: .utf8)
        let good = dir.appendingPathComponent("ok.yaml")
        try "version: 1\n".write(to: good, atomically: true, encoding: .utf8)

        let r = try TestSupport.netform(["validate", good.path, bad.path])
        #expect(r.status == 1)
        #expect(r.stdout.contains("\(good.path): valid (project 'ok')"))
        #expect(r.stdout.contains("""
        \(bad.path):3:13: error: unknown key 'subnett' in network 'aislada'; did you mean 'subnets'?
         3 |   aislada: {subnett: [{subnet: 172.18.0.0/16}]}
           |             ^
        """))
        #expect(r.stdout.contains("2 errors in 1 file"))

        let ok = try TestSupport.netform(["validate", good.path])
        #expect(ok.status == 0)
    }

    @Test func jsonOutputIsVersionedAndComplete() throws {
        let r = try TestSupport.netform(["validate", "--format", "json", "Examples/seed.yaml", "does/not/exist.yaml"])
        #expect(r.status == 1)
        let report = try JSONDecoder().decode(JSONReport.self, from: Data(r.stdout.utf8))
        #expect(report.format_version == 1)
        #expect(report.files.map(\.valid) == [true, false])
        #expect(report.files[0].project == "seed")
        #expect(report.files[1].diagnostics.first?.message.hasPrefix("cannot read file") == true)
    }
}

/// The fuzzer's corpus (Tests/Fixtures/fuzz-corpus, minimised by `Scripts/fuzz`),
/// the examples and the invalid specs, replayed through the loader's fuzz entry
/// point: none may crash it.
@Suite struct FuzzCorpusReplay {
    @Test func corpusReplaysWithoutACrash() throws {
        let fm = FileManager.default
        var inputs: [String] = []
        for dir in ["Examples", "Tests/Fixtures/invalid/schema", "Tests/Fixtures/invalid/semantic", "Tests/Fixtures/fuzz-corpus"] {
            let url = TestSupport.repoRoot.appendingPathComponent(dir)
            for name in (try? fm.contentsOfDirectory(atPath: url.path)) ?? [] {
                inputs.append(url.appendingPathComponent(name).path)
            }
        }
        #expect(inputs.count > 100, "the committed fuzz corpus is missing")
        let r = try TestSupport.run(TestSupport.productsDir.appendingPathComponent("netform-fuzz"), inputs)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("replayed \(inputs.count) inputs without a crash"))
    }
}

/// Commands that enter namespaces say plainly that they need root; validate does not.
@Suite(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/su"), "needs root to switch to an unprivileged user"))
struct NonRoot {
    @Test func kernelCommandsAskForRootAndValidateDoesNot() throws {
        let bin = TestSupport.netformBinary.path
        let spec = TestSupport.repoRoot.appendingPathComponent("Examples/seed.yaml").path
        let r = try TestSupport.run(URL(fileURLWithPath: "/bin/su"), ["nobody", "-s", "/bin/sh", "-c",
            "\(bin) validate \(spec) >/dev/null; echo validate=$?; \(bin) plan \(spec); echo plan=$?; \(bin) apply --yes \(spec); echo apply=$?"])
        guard !r.stdout.contains("validate=126"), !r.stderr.contains("Permission denied") else {
            return  // the build folder is not readable by nobody here; nothing to check
        }
        #expect(r.stdout.contains("validate=0"))
        #expect(r.stdout.contains("plan=1") && r.stdout.contains("apply=1"))
        #expect(r.stderr.contains("error: netform plan needs root: it enters every network namespace"))
        #expect(r.stderr.contains("error: netform apply needs root"))
    }
}
