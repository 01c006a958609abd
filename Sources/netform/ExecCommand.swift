import ArgumentParser
import Foundation
import Model
import Netlink
import Observe

/// `netform exec CONTAINER -- CMD...`: run a command inside a container's namespace.
struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command in a container's network namespace.")

    @Option(help: "The project, when several have a container of that name.") var project: String?
    @Argument(help: "The container.") var container: String
    @Argument(parsing: .postTerminator, help: "The command and its arguments (after --).") var command: [String]

    func run() throws {
        try requireRoot("exec")
        guard !command.isEmpty else { throw ValidationError("give a command after --, e.g. netform exec c1 -- ip addr") }
        let names = try NetworkNamespace.listNamed()
        var matches: [String] = []
        for name in names {
            guard let ns = try? Observer.observe(namespace: .named(name)), let owner = ns.owner,
                  owner.path == "ctr/\(container)", project == nil || owner.project == project else { continue }
            matches.append(name)
        }
        guard matches.count == 1 else {
            printErr(matches.isEmpty
                ? "error: no container '\(container)'\(project.map { " in project '\($0)'" } ?? "") on this host"
                : "error: several projects have a container '\(container)' (\(matches.joined(separator: ", "))); pass --project")
            throw ExitCode(1)
        }
        let ns = try NetworkNamespace.open(name: matches[0])
        // exec from a dedicated thread inside the namespace: the new program image
        // keeps that thread's namespace.
        let args = command
        let code: Int32 = try NamespaceThread.run(in: ns) { () -> Int32 in
            var cargs = args.map { strdup($0) } + [nil]
            execvp(args[0], &cargs)
            return errno
        }
        printErr("error: cannot run \(command[0]): \(String(cString: strerror(code)))")
        throw ExitCode(127)
    }
}
