import Compile
import Firewall
import Model
import Spec
import TestSupport

/// Loads a spec file of the repository (Examples/...) and fails on diagnostics.
func loadSpec(_ relativePath: String) throws -> Spec {
    let r = SpecLoader.load(path: TestSupport.repoRoot.appendingPathComponent(relativePath).path)
    guard let spec = r.spec, !r.hasErrors else {
        throw SpecProblem(message: r.rendered().joined(separator: "\n"))
    }
    return spec
}

struct SpecProblem: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// The firewall of a spec compiled against an empty host (table and notes).
func compiledFirewall(_ relativePath: String) throws -> CompiledFirewall {
    let spec = try loadSpec(relativePath)
    let compiled = try Compiler.compile(spec, observed: HostState())
    return FirewallCompiler.compile(spec, endpoints: compiled.endpoints)
}

/// The project table of a spec compiled against an empty host.
func ruleset(_ relativePath: String) throws -> FirewallTable {
    guard let table = try compiledFirewall(relativePath).table else { throw SpecProblem(message: "\(relativePath): no firewall table") }
    return table
}
