import ArgumentParser

/// The `netform` command line: argument parsing, output and exit codes only; the
/// work lives in the library modules so other front ends can reuse it.
@main
struct Netform: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "netform",
        abstract: "Declarative Linux container networking: validate, plan and apply network specs.",
        version: "0.1.0",
        subcommands: [Validate.self, PlanCommand.self, ApplyCommand.self, DestroyCommand.self, Show.self, ExecCommand.self,
                      NetworkCommand.self, ExplainCommand.self, ClusterCommand.self, AgentCommand.self])
}
