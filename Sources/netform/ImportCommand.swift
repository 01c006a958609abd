import ArgumentParser
import Foundation
import Plan
import Reconcile

/// `netform import`: the spec of a project, written from what is live.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Write the spec of a project from what is live on this host.",
        discussion: """
        Reads the kernel (every namespace, the processes' ones included, the project's \
        nft table, /etc/netns files and, with --cluster-store, the store) and writes the \
        smallest spec that plans no change here: defaults are left out, and an address \
        is written only where a fresh host would not give the same one. What the kernel \
        does not record (labels no rule selects, ip_range, aux_addresses, the cluster \
        section) is listed at the top of the file and on standard error.
        Then the written spec is read back and planned, as `netform plan` would: the \
        check must show no changes.
        Exit status: 0 when the spec reproduces the host, 2 when it was written but \
        planning it shows changes or conflicts (they are printed), 1 on error (no such \
        project, several projects without --project, a kernel error).

        Examples:
          sudo netform import > lab.yaml                       (the host's only project)
          sudo netform import --project shop -o shop.yaml
          sudo netform import --project swarm --host-name node1 --cluster-store etcd://10.0.0.1:2379 --cluster-advertise eth0
        """)

    @Option(help: "The project to import (default: the only one on the host).") var project: String?
    @Option(name: .shortAndLong, help: "Write the spec to FILE instead of standard output.") var output: String?
    @OptionGroup var host: HostOptions

    func run() throws {
        try requireRoot("import")
        let reconciler = try CLIHost.reconciler(host)
        let result: ImportResult
        do {
            result = try reconciler.importProject(project, extra: LiveHost.processNamespaces())
        } catch let error as ImportError {
            printErr("error: \(error)")
            throw ExitCode(1)
        }
        if let output {
            do {
                try Data(result.yaml.utf8).write(to: URL(fileURLWithPath: output))
            } catch {
                printErr("error: cannot write \(output): \(error.localizedDescription)")
                throw ExitCode(1)
            }
        } else {
            print(result.yaml, terminator: "")
        }
        let s = result.spec
        printErr("Imported project '\(result.project)': \(s.networks.count) networks, \(s.containers.count) containers, \(s.rules.count) rules"
                 + (output.map { ", written to \($0)" } ?? "") + ".")
        for note in result.notes { printErr("note: \(note)") }
        guard let check = result.check else {
            for block in result.diagnostics { printErr(block) }
            printErr("error: the imported spec does not load (a bug in netform import; please report it with the text above)")
            throw ExitCode(2)
        }
        if result.reproducesHost {
            printErr("Check: planning the imported spec shows no changes; it reproduces this host.")
        } else {
            printErr("Check: planning the imported spec is not empty; what it would change:")
            printErr(PlanRenderer(color: false).render(check.plan))
            throw ExitCode(2)
        }
    }
}
