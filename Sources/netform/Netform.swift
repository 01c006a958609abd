import ArgumentParser

/// The `netform` command line: argument parsing, output and exit codes only; the
/// work lives in the library modules so other front ends can reuse it.
/// Synchronous on purpose: every command but `agent` runs on the main thread (the
/// tests that trace the thread sending the plan's requests rely on it); `agent` runs
/// its async service group from there (`AgentCommand.run`).
@main
struct Netform: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "netform",
        abstract: "Declarative Linux container networking: validate, plan and apply network specs.",
        version: "0.1.0",
        subcommands: [Validate.self, PlanCommand.self, ApplyCommand.self, DestroyCommand.self, Show.self, ExecCommand.self,
                      NetworkCommand.self, ExplainCommand.self, ClusterCommand.self, AgentCommand.self])
}
