import Foundation
import Testing
import TestSupport

/// What a Docker or Terraform user reaches for first at the command line: a
/// `version` command, shell completions, `validate -`, readable diagnostics for a
/// missing, binary or one-line file, `show PLANFILE`, and a destroy that finds
/// nothing saying so.
@Suite struct CLIEdges {
    @Test func versionIsACommandToo() throws {
        let command = try TestSupport.netform(["version"])
        let flag = try TestSupport.netform(["--version"])
        #expect(command.status == 0 && flag.status == 0)
        #expect(command.stdout == "netform \(flag.stdout)", "\(command.stdout) vs \(flag.stdout)")
    }

    @Test func completionScriptsForThreeShells() throws {
        let bash = try TestSupport.netform(["completion", "bash"])
        #expect(bash.status == 0 && bash.stdout.contains("complete -o filenames -F _netform netform"))
        // The bash script parses (bash -n), and offers the subcommands.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("netform-completion-\(getpid()).bash")
        try bash.stdout.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let syntax = try TestSupport.sh("bash -n '\(file.path)'")
        #expect(syntax.status == 0, "\(syntax.stderr)")
        for sub in ["validate", "plan", "apply", "destroy", "agent", "completion"] { #expect(bash.stdout.contains(sub)) }
        #expect(try TestSupport.netform(["completion", "zsh"]).stdout.hasPrefix("#compdef netform"))
        #expect(try TestSupport.netform(["completion", "fish"]).stdout.contains("complete -c 'netform'"))
        let bad = try TestSupport.netform(["completion", "tcsh"])
        #expect(bad.status == 64 && bad.stderr.contains("tcsh"), "a usage error exits 64: \(bad.stderr)")
    }

    @Test func validateJSONSaysProjectNullForAnInvalidFile() throws {
        let r = try TestSupport.sh("printf 'version: 2\\n' | '\(TestSupport.netformBinary.path)' validate --format json -")
        #expect(r.status == 1 && r.stdout.contains("\"project\" : null"), "\(r.stdout)")
    }

    @Test func validateReadsStandardInput() throws {
        let ok = try TestSupport.sh("printf 'version: 1\\nnetworks: {a: {subnets: [{subnet: 10.1.0.0/24}]}}\\n' | '\(TestSupport.netformBinary.path)' validate -")
        #expect(ok.status == 0 && ok.stdout == "<stdin>: valid (project 'stdin')\n", "\(ok.stdout)\(ok.stderr)")
        let bad = try TestSupport.sh("printf 'version: 1\\nnetworks:\\n\\ta: {}\\n' | '\(TestSupport.netformBinary.path)' validate -")
        #expect(bad.status == 1)
        #expect(bad.stdout.hasPrefix("<stdin>:3:1: error: a tab character: YAML does not allow tabs for indentation"), "\(bad.stdout)")
    }

    @Test func diagnosticsShowNoEmptyLineNoRawBytesAndAWindowOfALongLine() throws {
        let missing = try TestSupport.netform(["validate", "/nonexistent/lab.yaml"])
        #expect(missing.stdout == "/nonexistent/lab.yaml:1:1: error: cannot read file: No such file or directory\n1 error in 1 file\n",
                "no empty source line and caret: \(missing.stdout)")
        let binary = try TestSupport.sh("printf 'version: 1\\n\\001\\002\\033[2J: 3\\n' | '\(TestSupport.netformBinary.path)' validate -")
        #expect(binary.status == 1)
        #expect(!binary.stdout.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" }, "control characters are never echoed: \(binary.stdout.debugDescription)")
        let long = "{\"version\": 1, " + (0..<400).map { "\"k\($0)\": \($0)" }.joined(separator: ", ") + "}"
        let r = try TestSupport.sh("printf '%s\\n' '\(long)' | '\(TestSupport.netformBinary.path)' validate -")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count > 3 && lines.allSatisfy { $0.count < 200 }, "a 6 KB line is shown as a window: \(lines.map(\.count).max() ?? 0) characters")
        #expect(lines.contains { $0.contains("… ") || $0.hasSuffix("…") })
    }
}

@Suite(.enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"))
struct CLIEdgesOnAHost {
    @Test func showPrintsASavedPlanAndDestroyOfNothingSaysSo() throws {
        let r = try sandboxed("""
        netform plan --out /tmp/seed.plan Examples/seed.yaml > /tmp/plan.txt
        echo "== show"
        netform show /tmp/seed.plan > /tmp/show.txt
        grep -v "^Saved the plan to" /tmp/plan.txt | cmp - /tmp/show.txt && echo "same as plan printed"
        netform show --json /tmp/seed.plan | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["project"], len(d["steps"]) > 0)'
        ip netns list | wc -l
        echo "== plan json"
        echo "version: 2" > /tmp/v2.yaml
        rc=0; netform plan --json /tmp/v2.yaml > /tmp/v2.json 2>/tmp/v2.err || rc=$?
        python3 -c 'import json,sys; f=json.load(open("/tmp/v2.json"))["files"][0]; print(f["valid"], f["project"], f["diagnostics"][0]["line"], f["diagnostics"][0]["column"])'
        echo "exit $rc, stderr $(wc -c < /tmp/v2.err) bytes"
        netform plan --json Examples/multi-network.yaml 2>/dev/null | python3 -c 'import json,sys; print(any("not forwarded" in w for w in json.load(sys.stdin)["warnings"]))'
        echo "== destroy nothing"
        netform destroy --yes --project nope
        echo "== end"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(section(r.stdout, "show") == "same as plan printed\nseed True\n0\n", "\(r.stdout)\n\(r.stderr)")
        #expect(section(r.stdout, "plan json") == "False None 1 10\nexit 1, stderr 0 bytes\nTrue\n",
                "an invalid spec is a JSON document on stdout; warnings are in the plan's JSON: \(r.stdout)")
        #expect(section(r.stdout, "destroy nothing") == "Nothing to destroy: project 'nope' has no objects on this host.\n", "\(r.stdout)")
    }
}
