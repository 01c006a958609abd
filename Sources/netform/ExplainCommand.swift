import ArgumentParser
import Explain
import Foundation
import Model
import Probe
import Spec

/// `netform explain SPEC FROM TO[:PORT[/PROTO]]` and `--matrix`: who reaches whom,
/// and which rule decides.
struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Say whether FROM reaches TO, and which rule or setting decides it.",
        discussion: """
        FROM and TO are containers of the spec, `host` or `outside`; TO may carry \
        :PORT[/PROTO] (tcp by default; without a port the question is an ICMP echo). \
        The answer evaluates the live firewall tables of this host (the spec's own table \
        when the project is not applied yet), every other tool's forward chains included. \
        --probe also tries the connection for real from inside FROM's namespace (ICMP \
        echo, TCP connect, or UDP to a listener the probe opens in TO).
        Exit status: 0 reachable, 3 not reachable (--matrix: 0), 1 error or when the \
        probe disagrees.
        """)

    @Argument(help: "The spec file.") var spec: String
    @Argument(help: "A container, host or outside.") var from: String?
    @Argument(help: "A container, host or outside, with an optional :PORT[/PROTO].") var to: String?
    @Flag(help: "The reachability matrix of every ordered pair of containers.") var matrix = false
    @Option(help: "With --matrix: the port to ask about (PORT[/PROTO]; default: ICMP).") var port: String?
    @Flag(help: "Also try the real connection and say whether the kernel agrees.") var probe = false
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var host: HostOptions

    func validate() throws {
        if matrix { guard from == nil, to == nil else { throw ValidationError("--matrix takes no FROM and TO") } }
        else { guard from != nil, to != nil else { throw ValidationError("give FROM and TO, or --matrix") } }
    }

    func run() throws {
        try requireRoot("explain")
        let spec = try CLIHost.loadSpec(self.spec)
        let reconciler = try CLIHost.reconciler(host, cluster: spec.cluster)
        let (compiled, observed) = try reconciler.observeAndCompile(spec)
        let explainer = Explainer(spec: spec, compiled: compiled, observed: observed)
        var answers: [ReachabilityAnswer]
        do {
            if matrix {
                let (p, proto) = try Self.service(port)
                answers = try explainer.matrix(port: p, proto: proto)
            } else {
                let (target, p, proto) = try Self.target(to!)
                answers = [try explainer.explain(ReachabilityQuestion(from: Party(from!), to: Party(target), port: p, proto: proto))]
            }
        } catch let e as ExplainError {
            printErr("error: \(e)")
            throw ExitCode(1)
        }
        let prober = ReachabilityProbe(endpoints: compiled.endpoints)
        let results: [ReachabilityProbe.Result]? = probe ? prober.runAll(answers) : nil
        if json {
            print(Self.json(answers, results))
        } else if matrix {
            print(Self.table(answers, results, names: spec.containers.map(\.name).filter { n in answers.contains { $0.question.from.description == n } }),
                  terminator: "")
        } else {
            let a = answers[0]
            print("\(a.question.from) → \(a.question.to) (\(a.question.service)): \(a.reachable ? "reachable" : "not reachable")")
            print("  path: \(a.path)")
            print("  decided by: \(a.reason)")
            if let r = results?.first {
                if let probed = r.probed {
                    print("  probe: \(probed ? "reachable" : "not reachable") — \(r.agrees ? "the kernel agrees" : "THE KERNEL DISAGREES")")
                } else {
                    print("  probe: not run (\(r.note ?? "?"))")
                }
            }
        }
        if let results, results.contains(where: { !$0.agrees }) {
            printErr("error: the kernel disagrees with netform's model for: "
                     + results.filter { !$0.agrees }.map { "\($0.answer.question.from) → \($0.answer.question.to)" }.joined(separator: ", "))
            throw ExitCode(1)
        }
        if !matrix && !answers[0].reachable { throw ExitCode(3) }
    }

    /// `NAME[:PORT[/PROTO]]`.
    static func target(_ text: String) throws -> (String, Int?, TransportProtocol) {
        guard let colon = text.firstIndex(of: ":") else { return (text, nil, .tcp) }
        let (p, proto) = try service(String(text[text.index(after: colon)...]))
        return (String(text[..<colon]), p, proto)
    }

    static func service(_ text: String?) throws -> (Int?, TransportProtocol) {
        guard let text else { return (nil, .tcp) }
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard let port = Int(parts[0]), (1...65535).contains(port) else { throw ValidationError("'\(text)' is not PORT[/PROTO]") }
        guard let proto = parts.count > 1 ? TransportProtocol(rawValue: parts[1]) : .tcp else {
            throw ValidationError("'\(parts[1])' is not tcp, udp or sctp")
        }
        return (port, proto)
    }

    static func table(_ answers: [ReachabilityAnswer], _ results: [ReachabilityProbe.Result]?, names: [String]) -> String {
        let width = max(4, names.map(\.count).max() ?? 4)
        func pad(_ s: String) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }
        var out = pad("from\\to") + " " + names.map(pad).joined(separator: " ") + "\n"
        for a in names {
            var row = pad(a)
            for b in names {
                var cell = "-"
                if let i = answers.firstIndex(where: { $0.question.from.description == a && $0.question.to.description == b }) {
                    cell = answers[i].reachable ? "yes" : "no"
                    if let r = results?[i], r.probed != nil, !r.agrees { cell += "!" }
                }
                row += " " + pad(cell)
            }
            out += row + "\n"
        }
        if results?.contains(where: { !$0.agrees }) == true { out += "(!: the probe disagrees)\n" }
        return out
    }

    static func json(_ answers: [ReachabilityAnswer], _ results: [ReachabilityProbe.Result]?) -> String {
        let items: [JSONValue] = answers.enumerated().map { i, a in
            guard case .object(var o) = a.json, let r = results?[i] else { return a.json }
            o["probe"] = r.probed.map { ["reachable": .bool($0), "agrees": .bool(r.agrees)] } ?? ["note": .string(r.note ?? "")]
            return .object(o)
        }
        return JSONValue.object(["format_version": 1, "answers": .array(items)]).rendered
    }
}
