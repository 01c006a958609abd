import ArgumentParser
import Foundation
import Model
import Observe
import Spec

/// `netform network ls|inspect`: Docker's network inventory, read from the live
/// host. The records, their shape and the lookup rules live in
/// `Observe.NetworkInventory`.
struct NetworkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "network",
        abstract: "List and inspect the networks netform owns on this host, in Docker's shape.",
        subcommands: [NetworkList.self, NetworkInspect.self])
}

/// What the inventory commands share: where the kernel-less fields come from.
struct InventoryOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "A spec file supplying what the kernel does not hold, for its project's networks.",
        discussion: """
            Without --spec: Internal false, enable_ip_masquerade "true", host_binding_ipv4 \
            "0.0.0.0", Labels {}; macvlan networks appear only when a container is attached; \
            the host network lists no containers.
            """, valueName: "file"))
    var spec: String?

    @Option(help: "Only this project's networks (and the built-in host and none).")
    var project: String?

    @OptionGroup var host: HostOptions

    /// Reads the live host and builds the records (exit 1 on an invalid spec or a
    /// kernel error), with the spec's project for resolving ambiguous names.
    func records() throws -> (records: [NetworkRecord], preferred: String?) {
        var loaded: Spec?
        if let spec { loaded = try CLIHost.loadSpec(spec) }
        var state: HostState
        do {
            state = try Observer.observe(extra: loaded.map(NetworkInventory.extraNamespaces) ?? [])
        } catch {
            printErr("netform network: \(error)")
            throw ExitCode(1)
        }
        if let entries = try CLIHost.storeEntries(host, cluster: loaded?.cluster) { state[.host]?.clusterStore = entries }
        let records = NetworkInventory.records(of: state, spec: loaded, project: project,
                                               localHost: host.hostName ?? ProcessInfo.processInfo.hostName)
        return (records, loaded?.project)
    }
}

struct NetworkList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List networks: NETWORK ID, NAME, DRIVER, SCOPE (like `docker network ls`).",
        discussion: """
            Lists every network netform owns on this host (bridges marked netform:PROJECT/net/NAME, \
            overlays, macvlan networks with containers) and the built-in host and none, sorted \
            by name. A name used by several projects is shown as PROJECT/NAME.
            --format json prints one JSON object per line, as Docker does (Driver, ID, IPv6, \
            Internal, Labels, Name, Scope). Reads every namespace under /run/netns (root). \
            Exit status: 0, or 1 on an invalid spec or a kernel error.
            """,
        aliases: ["list"])

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, json
    }

    @Option(help: "Output format: table or json (one object per line).")
    var format: Format = .table

    @Flag(name: .shortAndLong, help: "Print the network ids only.")
    var quiet = false

    @Flag(help: "Do not truncate the network ids.")
    var noTrunc = false

    @Option(name: .shortAndLong, help: "Only networks that match: name=TEXT, id=PREFIX, driver=D, scope=S, type=builtin|custom, label=KEY[=VALUE] (Docker's filters; repeat to combine).")
    var filter: [String] = []

    @OptionGroup var options: InventoryOptions

    func run() throws {
        try requireRoot("network")
        let records: [NetworkRecord]
        do { records = try NetworkInventory.filter(try options.records().records, filter) } catch let error as NetworkInventory.FilterError {
            printErr("error: \(error)")
            throw ExitCode(1)
        }
        if quiet {
            for r in records { print(noTrunc ? r.id : r.shortID) }
            return
        }
        switch format {
        case .table: print(NetworkInventory.table(records, noTrunc: noTrunc), terminator: "")
        case .json: for r in records { print(r.listDocument(noTrunc: noTrunc).compact) }
        }
    }
}

struct NetworkInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print networks as a JSON array (like `docker network inspect`).",
        discussion: """
            NETWORK is a name, PROJECT/NAME, an id or a unique id prefix; a name several \
            projects use resolves to the --spec project's network, else it is ambiguous. \
            Keys in Docker's order: Name, Id, Scope, Driver, EnableIPv6, IPAM, Internal, \
            Attachable, Ingress, ConfigFrom, ConfigOnly, Containers, Options, Labels. Subnets, gateways, containers (MAC and \
            addresses from the container's interface), the bridge name, MTU and enable_icc \
            (from the ports' isolated flag) are read from the kernel.
            Exit status: 0; 1 when a network is unknown or ambiguous (the others are still \
            printed), the spec is invalid or the kernel cannot be read.
            """)

    @Argument(help: ArgumentHelp("The networks to print.", valueName: "network"))
    var networks: [String]

    @OptionGroup var options: InventoryOptions

    func validate() throws {
        if networks.isEmpty { throw ValidationError("give at least one network") }
    }

    func run() throws {
        try requireRoot("network")
        let (records, preferred) = try options.records()
        var found: [OrderedJSON] = []
        var failed = false
        for query in networks {
            switch NetworkInventory.lookup(query, in: records, preferring: preferred) {
            case .success(let r): found.append(r.document)
            case .failure(let e):
                printErr("Error: \(e)")
                failed = true
            }
        }
        print(OrderedJSON.array(found).pretty())
        if failed { throw ExitCode(1) }
    }
}
