import ArgumentParser
import Cluster
import Foundation

/// `netform cluster status`: what the cluster store holds — hosts, overlay networks
/// with their endpoints per host, and address claims.
struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster", abstract: "Look at the cluster store overlays span hosts through.",
        subcommands: [Status.self])

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the hosts, each overlay's endpoints per host and the address claims in the cluster store.")

        @Option(help: "Only this project.") var project: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var host: HostOptions

        func run() throws {
            guard let url = host.clusterStore else { throw ValidationError("give --cluster-store (and --cluster-advertise) as for apply") }
            let settings: ClusterSettings
            do { settings = try ClusterSettings(store: url, advertise: host.clusterAdvertise ?? "-", options: host.clusterStoreOpt) } catch {
                printErr("error: \(error)")
                throw ExitCode(1)
            }
            let store = try CLIHost.openStore(settings)
            let entries: [StoreEntry]
            do { entries = try store.list(prefix: "/netform/").entries } catch {
                printErr("error: cluster store: \(error)")
                throw ExitCode(1)
            }
            let status = ClusterStatus(entries: entries, project: project)
            print(json ? status.json.rendered : status.text, terminator: json ? "\n" : "")
        }
    }
}
