import ArgumentParser
import Foundation
import Model
import Plan
import Reconcile
import Spec

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
        section) is listed at the top of the file and on standard error. Namespaces \
        the project adopted are found under /run/netns and among running processes; \
        give any other with --netns PATH.
        Then the written spec is read back and planned, as `netform plan` would: the \
        check must show no changes.
        Exit status: 0 when the spec reproduces the host (--bridge: when the plan after \
        the teardown has no conflicts), 2 when it was written but the check failed \
        (what it found is printed), 1 on error (no such project, several projects \
        without --project, a bridge that cannot be imported, a kernel error).

        Examples:
          sudo netform import > lab.yaml                       (the host's only project)
          sudo netform import --project shop -o shop.yaml
          sudo netform import --project lab --netns /run/elsewhere/ns1     (an adopted bind mount)
          sudo netform import --project lab --bridge br-lab -o lab.yaml --teardown teardown.sh
            (a lab built by hand: review teardown.sh, run it, then netform apply lab.yaml)
          sudo netform import --project swarm --host-name node1 --cluster-store etcd://10.0.0.1:2379 --cluster-advertise eth0
        """)

    @Option(help: "The project to import (default: the only one on the host).") var project: String?
    @Option(name: .shortAndLong, help: "Write the spec to FILE instead of standard output.") var output: String?
    @Option(name: .customLong("netns"), help: ArgumentHelp("Also look in the namespace at PATH (repeatable): one the project adopted by a path that no process is in, e.g. a bind mount outside /run/netns.", valueName: "PATH"))
    var namespacePaths: [String] = []
    @Option(name: .customLong("bridge"), help: ArgumentHelp("Import this hand-made bridge (repeatable) into the new project --project, with the namespaces its veths lead to.", valueName: "NAME"))
    var bridges: [String] = []
    @Option(help: ArgumentHelp("With --bridge: write the teardown script to FILE (default: standard error).", valueName: "FILE"))
    var teardown: String?
    @OptionGroup var host: HostOptions

    func validate() throws {
        if !bridges.isEmpty && project == nil { throw ValidationError("--bridge needs --project: the name of the new project") }
        if teardown != nil && bridges.isEmpty { throw ValidationError("--teardown goes with --bridge") }
    }

    /// The command line's store settings, as a spec's `cluster:` section.
    var clusterSection: ClusterSpec? {
        guard let store = host.clusterStore else { return nil }
        var options: [String: String] = [:]
        for o in host.clusterStoreOpt {
            guard let eq = o.firstIndex(of: "=") else { continue }
            options[String(o[..<eq])] = String(o[o.index(after: eq)...])
        }
        return ClusterSpec(store: store, advertise: host.clusterAdvertise, options: options)
    }

    func run() throws {
        try requireRoot("import")
        if !bridges.isEmpty { return try runForeign() }
        let reconciler = try CLIHost.reconciler(host)
        let result: ImportResult
        do {
            let options = host
            result = try reconciler.importProject(project, extra: namespacePaths.map { .path($0) } + LiveHost.processNamespaces(holdingLinksOf: project),
                                                  cluster: clusterSection, check: { spec in
                                                      try CLIHost.reconciler(options, cluster: spec.cluster).plan(spec, fingerprinted: false)
                                                  })
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
        func count(_ n: Int, _ what: String) -> String { "\(n) \(what)\(n == 1 ? "" : "s")" }
        printErr("Imported project '\(result.project)': \(count(s.networks.count, "network")), \(count(s.containers.count, "container")), \(count(s.rules.count, "rule"))"
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

    /// `--bridge`: a hand-made topology into a new project.
    func runForeign() throws {
        let reconciler = try CLIHost.reconciler(host)
        let project = self.project ?? ""
        let result: ForeignImportResult
        do {
            // Namespaces of processes that hold a veth (a container the bridge may lead to).
            let extra = namespacePaths.map { NamespaceRef.path($0) }
                + LiveHost.processNamespaces { ns in ns.links.contains { if case .veth = $0.kind { true } else { false } } }
            result = try reconciler.importForeign(project: project, bridges: bridges, extra: extra)
        } catch let error as ImportError {
            printErr("error: \(error)")
            throw ExitCode(1)
        }
        do {
            if let output { try Data(result.yaml.utf8).write(to: URL(fileURLWithPath: output)) } else { print(result.yaml, terminator: "") }
            if let teardown {
                try Data(result.teardown.utf8).write(to: URL(fileURLWithPath: teardown))
                chmod(teardown, 0o755)
            }
        } catch {
            printErr("error: \(error.localizedDescription)")
            throw ExitCode(1)
        }
        printErr("Imported \(bridges.joined(separator: ", ")) into project '\(project)': \(result.spec.networks.count) network(s), \(result.spec.containers.count) adopted namespace(s).")
        for note in result.notes { printErr("note: \(note)") }
        if teardown == nil {
            printErr("Teardown (run it before `netform apply`):")
            printErr(result.teardown.trimmingCharacters(in: .newlines))
        }
        guard let plan = result.plan else {
            for block in result.diagnostics { printErr(block) }
            printErr("error: the imported spec does not load (a bug in netform import; please report it with the text above)")
            throw ExitCode(2)
        }
        if plan.conflicts.isEmpty {
            printErr("Check: after the teardown, `netform apply` builds \(plan.steps.count) steps with no conflict.")
        } else {
            printErr("Check: after the teardown, the plan still has conflicts:")
            printErr(PlanRenderer(color: false).render(plan))
            throw ExitCode(2)
        }
    }
}
