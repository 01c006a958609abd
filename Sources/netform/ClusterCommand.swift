import ArgumentParser
import Cluster
import Foundation
import Model
import Reconcile
import Spec

/// `netform cluster status`: what the cluster store holds — hosts, overlay networks
/// with their endpoints per host, and address claims.
struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster", abstract: "Look at the cluster store overlays span hosts through.",
        subcommands: [Status.self])

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Show the hosts, each overlay's endpoints per host and the address claims in the cluster store.")

        @Option(help: "Only this project.") var project: String?
        @Flag(help: "Print JSON.") var json = false
        @Option(help: "Read the store's settings from this spec's `cluster:` section (the --cluster-* options win).") var spec: String?
        @OptionGroup var host: HostOptions

        func run() throws {
            let options = host.live.over(try spec.map { try CLIHost.loadSpec($0) }?.cluster)
            guard let url = options.clusterStore else { throw ValidationError("give --cluster-store (or --spec with a cluster: section) as for apply") }
            let settings: ClusterSettings
            do { settings = try ClusterSettings(store: url, advertise: options.clusterAdvertise ?? "-", options: options.clusterStoreOptions) } catch {
                printErr("error: \(error)")
                throw ExitCode(1)
            }
            let store = try CLIHost.openStore(settings)
            let entries: [StoreEntry]
            do { entries = try store.list(prefix: "/netform/").entries } catch {
                printErr("error: cluster store: \(error)")
                throw ExitCode(1)
            }
            // The seconds each registration's lease has left.
            var leases: [LeaseID: Int] = [:]
            for e in entries {
                guard case .host? = StoreLayout.parse(e.key)?.key, let lease = e.lease, leases[lease] == nil else { continue }
                do { leases[lease] = try store.timeToLive(lease) } catch {
                    printErr("error: cluster store: \(error)")
                    throw ExitCode(1)
                }
            }
            let status = ClusterStatus(entries: entries, project: project, leases: leases)
            print(json ? status.json.rendered : status.text, terminator: json ? "\n" : "")
        }
    }
}

extension CLIHost {
    /// After an apply — one that changed nothing too — renews the lease that holds
    /// this host's registration in the project (`HostRegistration.renew`): each apply
    /// keeps a host alive for another `kv.ttl`. A failure to renew is a warning: the
    /// changes are applied, and the next apply or the agent renews again.
    static func renewRegistration(_ live: LiveHost, project: String) {
        guard let registration = live.registration(project: project) else { return }
        let sent = EtcdStore.requestsSent
        defer {
            if ProcessInfo.processInfo.environment["NETFORM_PROFILE"] == "1" {
                printErr("profile: cluster store: \(sent) etcd round trips for observe, plan, apply and verify, \(EtcdStore.requestsSent - sent) to renew the registration")
            }
        }
        do {
            if try registration.renew() == nil {
                printErr("warning: this host's registration in the cluster store (\(registration.key)) is gone (its lease expired meanwhile); apply again")
            }
        } catch {
            printErr("warning: could not renew this host's registration in the cluster store: \(error)")
        }
    }
}

extension CLIHost {
    /// The cluster store's netform keys (`/netform/…`, key → value) when
    /// `--cluster-store` is given, nil otherwise; exit 1 when the store cannot be read.
    static func storeEntries(_ host: HostOptions, cluster: ClusterSpec? = nil) throws -> [String: String]? {
        let options = host.live.over(cluster)
        guard let url = options.clusterStore else { return nil }
        let settings: ClusterSettings
        do { settings = try ClusterSettings(store: url, advertise: options.clusterAdvertise ?? "-", options: options.clusterStoreOptions) } catch {
            printErr("error: \(error)")
            throw ExitCode(1)
        }
        do {
            let entries = try openStore(settings).list(prefix: "/netform/").entries
            return Dictionary(entries.map { ($0.key, $0.text) }, uniquingKeysWith: { a, _ in a })
        } catch {
            printErr("error: cluster store: \(error)")
            throw ExitCode(1)
        }
    }
}
