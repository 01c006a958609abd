import ArgumentParser
import Foundation
import Graph
import Model
import Observe
import Reconcile
import Spec

/// `netform graph SPEC`: the topology as a picture (DOT, Mermaid, or SVG/PNG
/// through Graphviz's `dot`).
struct GraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Draw a spec's topology: networks, containers and addresses, published ports, rules, hosts.",
        discussion: """
        Needs no root: addresses are those a fresh apply gives (an overlay's dynamic \
        addresses are the cluster store's to hand out and show as `dynamic`). svg and \
        png are rendered by Graphviz's `dot` (Debian: graphviz).
        --live draws the kernel's state instead (root): the networks netform owns, what \
        isolates them as the live bridges and table say, and the containers with the \
        addresses they hold now; rules and published ports are drawn from a spec only.
        Exit status: 0, or 1 on an invalid spec, a kernel error, or when `dot` is missing or fails.

        Examples:
          netform graph Examples/seed.yaml | dot -Tsvg > seed.svg
          netform graph --format svg -o seed.svg Examples/seed.yaml
          netform graph --format mermaid Examples/multi-network.yaml   (paste into Markdown)
          sudo netform graph --live --project seed --format svg -o live.svg
        """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case dot, mermaid, svg, png
    }

    @Argument(help: "The spec file (with --live: optional; its project, and what the kernel does not hold).") var spec: String?
    @Flag(help: "Draw what is live in the kernel instead (root): the project's networks and containers as they are now.")
    var live = false
    @Option(help: "With --live: only this project (default: the spec's, else every project).") var project: String?
    @Option(help: "dot, mermaid, svg or png.") var format: Format = .dot
    @Option(name: .shortAndLong, help: "Write to FILE instead of standard output.") var output: String?

    func validate() throws {
        if spec == nil && !live { throw ValidationError("give a spec file, or --live to draw what the kernel has") }
        if project != nil && !live { throw ValidationError("--project goes with --live (a spec names its project)") }
    }

    func run() throws {
        let graph: TopologyGraph
        if live {
            try requireRoot("graph --live")
            let loaded = try spec.map { try CLIHost.loadSpec($0) }
            let state: HostState
            do {
                state = try Observer.observe(extra: loaded.map(NetworkInventory.extraNamespaces) ?? [])
            } catch {
                printErr("netform graph: \(error)")
                throw ExitCode(1)
            }
            let scope = project ?? loaded?.project
            graph = TopologyGraph(live: NetworkInventory.records(of: state, spec: loaded, project: scope), project: scope)
        } else {
            graph = TopologyGraph(spec: try CLIHost.loadSpec(spec!))
        }
        let bytes: Data
        switch format {
        case .dot: bytes = Data(graph.dot.utf8)
        case .mermaid: bytes = Data(graph.mermaid.utf8)
        case .svg, .png: bytes = try Self.render(graph.dot, as: format.rawValue)
        }
        if let output {
            guard FileManager.default.createFile(atPath: output, contents: bytes) else {
                printErr("error: cannot write \(output)")
                throw ExitCode(1)
            }
        } else {
            FileHandle.standardOutput.write(bytes)
        }
    }

    /// `dot -TFORMAT`, fed the DOT text on stdin.
    static func render(_ dot: String, as format: String) throws -> Data {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/dot" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else {
            printErr("error: --format \(format) needs Graphviz's `dot` (Debian: apt install graphviz); --format dot prints the DOT text")
            throw ExitCode(1)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["-T\(format)"]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(dot.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let problems = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            printErr("error: dot -T\(format) failed: \(String(decoding: problems, as: UTF8.self))")
            throw ExitCode(1)
        }
        return data
    }
}
