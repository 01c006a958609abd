import ArgumentParser
import Foundation
import Model
import Netlink
import Observe
import Plan
import Reconcile
import Spec

/// `netform show`: prints what is live in the kernel, for one project or for
/// everything. Reading only; the selection rules live in `Observe`
/// (`HostState.owned(by:)`), the document shape in `ObservationReport`.
struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print the live links, addresses and routes of a project (or of everything) as YAML or JSON.",
        discussion: """
            netform show SPEC            the objects of SPEC's project (adopted namespaces included)
            netform show --project NAME  the objects marked netform:NAME/... and their proto-78 routes
            netform show --all           everything visible, owned or not, with an owner per namespace and link
            netform show PLANFILE        a plan saved with `plan --out`, as plan prints it (--json: its JSON); reads no kernel state

            Reads every namespace under /run/netns (needs root for setns). Exit status: 0 on success,
            1 when the spec is invalid or the kernel state cannot be read.
            """)

    @Option(help: "Show the objects of this project.")
    var project: String?

    @Flag(help: "Show everything netform can see, owned or not.")
    var all = false

    @Flag(help: "Print JSON (versioned, sorted keys) instead of YAML.")
    var json = false

    @Argument(help: "A spec file: show its project.")
    var spec: String?

    func validate() throws {
        let chosen = [project != nil, all, spec != nil].filter { $0 }.count
        if chosen != 1 {
            throw ValidationError("give exactly one of SPEC, --project NAME or --all")
        }
    }

    func run() throws {
        // A saved plan (Terraform's `show PLANFILE`): printed, nothing read from the host.
        if let spec {
            let saved: Reconciler.PlannedChange?
            do { saved = try PlanFile.read(path: spec) } catch {
                printErr("error: \(error)")
                throw ExitCode(1)
            }
            if let saved {
                if json {
                    print(String(decoding: try PlanJSON.encoder(pretty: true).encode(saved.plan), as: UTF8.self))
                } else {
                    print(PlanRenderer(color: useColor()).render(saved.plan), terminator: "")
                }
                return
            }
        }
        try requireRoot("show")
        var selected = project
        var extra: [NamespaceRef] = []
        if let spec {
            let loaded = LiveHost.loadSpec(path: spec)
            for block in loaded.rendered() { FileHandle.standardError.write(Data((block + "\n").utf8)) }
            guard let s = loaded.spec, !loaded.hasErrors else { throw ExitCode(1) }
            selected = s.project
            extra = s.containers.compactMap { c -> NamespaceRef? in
                switch c.netns {
                case .path(let p)?: .path(p)
                case .pid(let pid)?: .path("/proc/\(pid)/ns/net")
                case .name, nil: nil
                }
            }
            // A path to the host's or a named namespace (read anyway) would show it twice.
            let known = Set(([NamespaceRef.host] + ((try? NetworkNamespace.listNamed()) ?? []).map { .named($0) })
                .compactMap(LiveHost.namespaceIdentity))
            extra.removeAll { LiveHost.namespaceIdentity($0).map(known.contains) ?? false }
        }

        let state: HostState
        do {
            state = try Observer.observe(extra: extra)
        } catch {
            FileHandle.standardError.write(Data("netform show: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let report = ObservationReport(selected.map { state.owned(by: $0) } ?? state, project: selected)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            var data = try encoder.encode(report)
            data.append(0x0a)
            FileHandle.standardOutput.write(data)
        } else {
            FileHandle.standardOutput.write(Data(try YAMLEmitter.render(report).utf8))
        }
    }
}
