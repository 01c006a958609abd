import ArgumentParser
import Foundation
import Model
import Netlink
import Observe

/// `netform exec CONTAINER -- CMD...`: run a command inside a container's namespace.
struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command in a container's network namespace.",
        discussion: """
            Runs `ip netns exec NAMESPACE CMD...` for the container's namespace: the command \
            sees the container's network and its /etc/hosts and /etc/resolv.conf (the files \
            netform writes under /etc/netns/NAMESPACE), so peers resolve by name.
            """)

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
        // Through iproute2's `ip netns exec`, as an operator would: the command gets
        // its own mount namespace with the container's /etc/netns/NAME files (hosts,
        // resolv.conf) bound over /etc, and a /sys of the container's namespace.
        // Adopted namespaces are entered the same way by name; they have no such files.
        var cargs = (["ip", "netns", "exec", matches[0]] + command).map { strdup($0) } + [nil]
        execvp("ip", &cargs)
        let code = errno
        printErr("error: cannot run ip netns exec (iproute2) for \(command[0]): \(String(cString: strerror(code)))")
        throw ExitCode(127)
    }
}
