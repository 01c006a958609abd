import ArgumentParser
import Execute
import Foundation
import Plan
import Reconcile
import Spec

/// `netform plan SPEC`: what apply would change, without changing anything.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show the changes that would make this host match a spec.",
        discussion: """
        Reads the live state of every namespace netform can see, compiles the spec \
        against it and prints the ordered steps. Nothing is changed.
        Exit status: 0 (and 2 with --detailed-exitcode when there are changes), 1 on \
        error or conflict.

        Examples:
          sudo netform plan lab.yaml
          sudo netform plan --detailed-exitcode lab.yaml     (CI: 2 means drift)
          sudo netform plan --out lab.plan lab.yaml          (then: netform apply lab.plan)
          sudo netform plan --json lab.yaml | jq '.steps | length'
          sudo netform plan --host-name node1 --cluster-store etcd://10.0.0.1:2379 --cluster-advertise eth0 overlay.yaml
        """)

    @Argument(help: "The spec file.") var spec: String
    @Flag(help: "Print the plan as versioned JSON.") var json = false
    @Option(help: "Save the plan (with a fingerprint of the current state) to FILE for `netform apply FILE`.") var out: String?
    @Flag(help: "Exit 2 when the plan has changes, 0 when it has none.") var detailedExitcode = false
    @OptionGroup var host: HostOptions

    func run() throws {
        try requireRoot("plan")
        let spec: Spec
        if json {
            // Machine-readable all the way: an invalid spec is a JSON document too.
            let loaded = LiveHost.loadSpec(path: self.spec)
            guard let valid = loaded.spec else {
                print(String(decoding: try PlanJSON.encoder(pretty: true).encode(ValidationReport(files: [.init(loaded)])), as: UTF8.self))
                throw ExitCode(1)
            }
            spec = valid
        } else {
            spec = try CLIHost.loadSpec(self.spec)
        }
        var reconciler = try CLIHost.reconciler(host, cluster: spec.cluster)
        if ProcessInfo.processInfo.environment["NETFORM_PROFILE"] == "1" { reconciler.profile = Executor.Profile() }
        // Without `--out`, the JSON is streamed from the planner: each step is written
        // as it is made, and a plan of 50,000 containers is never in memory whole.
        var warnings: [String] = []
        let streamed = json && out == nil ? PlanJSON.StreamWriter(as: { PlanDocument(plan: $0, warnings: warnings) }) { piece in
            FileHandle.standardOutput.write(Data(piece.utf8))
        } : nil
        if streamed != nil { fflush(nil) }
        // The fingerprint is for a saved plan, and part of the JSON.
        let planned = try reconciler.plan(spec, fingerprinted: json || out != nil, streaming: streamed?.stream)
        for (name, time) in reconciler.profile?.phases ?? [] { printErr("profile: phase \(name): \(formatDuration(time))") }
        warnUnenforced(planned.unenforced, notes: planned.notes)
        warnings = planned.notes + planned.unenforced
        if let streamed {
            try streamed.finish(planned.plan)
            FileHandle.standardOutput.write(Data("\n".utf8))
        } else if json {
            fflush(nil)
            // Written in pieces: the text of a large plan is never held whole (see writePretty).
            try PlanJSON.writePretty(planned.plan, as: { PlanDocument(plan: $0, warnings: warnings) }) { piece in
                FileHandle.standardOutput.write(Data(piece.utf8))
            }
            FileHandle.standardOutput.write(Data("\n".utf8))
        } else {
            // Streamed, like the JSON: the text of a large plan is never held whole.
            PlanRenderer(color: useColor()).render(planned.plan) { print($0, terminator: "") }
        }
        if let out {
            do {
                try PlanFile.write(planned, to: out)
            } catch {
                printErr("error: \(error)")
                throw ExitCode(1)
            }
            if !json { print("Saved the plan to \(out); apply it with: netform apply \(out)") }
        }
        if !planned.plan.conflicts.isEmpty { throw ExitCode(1) }
        if detailedExitcode && (streamed?.stepCount ?? planned.plan.steps.count) > 0 { throw ExitCode(2) }
    }
}
