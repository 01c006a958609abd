import Addressing
import ArgumentParser
import Cluster
import Execute
import Foundation
import Model
import Netlink
import Observe
import Reconcile
import Spec

/// The CLI's side of the live host: the library's wiring (`Reconcile.LiveHost`)
/// with its failures mapped to a message and exit 1, and specs loaded with their
/// diagnostics printed.
enum CLIHost {
    /// The live host for the host options over the spec's `cluster:` section (the
    /// command line wins, setting by setting), or exit 1 saying which option is wrong.
    static func connect(_ options: HostOptions, cluster: ClusterSpec? = nil) throws -> LiveHost {
        do { return try LiveHost(options.live.over(cluster)) } catch {
            printErr("error: \(error)")
            throw ExitCode(1)
        }
    }

    /// The reconciler for the host options (see `connect`).
    static func reconciler(_ options: HostOptions, cluster: ClusterSpec? = nil) throws -> Reconciler {
        try connect(options, cluster: cluster).reconciler
    }

    /// The store the settings name, or exit 1 saying which option is wrong.
    static func openStore(_ settings: ClusterSettings) throws -> any ClusterStore {
        do { return try LiveHost.openStore(settings) } catch {
            printErr("error: \(error)")
            throw ExitCode(1)
        }
    }

    /// Loads a spec or exits 1 after printing its diagnostics (nothing is changed).
    static func loadSpec(_ path: String) throws -> Spec {
        let loaded = LiveHost.loadSpec(path: path)
        for block in loaded.rendered() { printErr(block) }
        guard let spec = loaded.spec else {
            printErr("\(path): invalid spec; nothing was changed")
            throw ExitCode(1)
        }
        return spec
    }
}

/// Whether to colour output: only on a terminal and without NO_COLOR.
func useColor(_ fd: Int32 = STDOUT_FILENO) -> Bool {
    isatty(fd) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
}

func printErr(_ s: String) {
    FileHandle.standardError.write(Data((s + "\n").utf8))
}

/// Common options of the commands that read the live host.
struct HostOptions: ParsableArguments {
    @Option(name: [.customLong("host-name"), .customLong("host")],
            help: "This host's name for `host:` placement and in the cluster store (default: the system host name; --host is the same).")
    var hostName: String?
    @Option(help: "The cluster store overlays span hosts through: etcd://HOST:PORT[,HOST:PORT...], etcds://... (TLS) or file:/PATH.")
    var clusterStore: String?
    @Option(help: "The underlay address (or interface) other hosts send this host's VXLAN traffic to.")
    var clusterAdvertise: String?
    @Option(help: "A store option KEY=VALUE: kv.cacertfile, kv.certfile, kv.keyfile, kv.username, kv.password, kv.timeout.")
    var clusterStoreOpt: [String] = []

    /// The library's form of these options.
    var live: LiveHost.Options {
        LiveHost.Options(hostName: hostName, clusterStore: clusterStore, clusterAdvertise: clusterAdvertise,
                         clusterStoreOptions: clusterStoreOpt)
    }
}

func formatDuration(_ d: Duration) -> String {
    let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    return ms < 10 ? String(format: "%.3f ms", ms) : ms < 1000 ? String(format: "%.0f ms", ms) : String(format: "%.2f s", ms / 1000)
}

/// Says what of the spec this run cannot give (an overlay without a cluster store)
/// and what the firewall cannot express of it (on stderr).
func warnUnenforced(_ items: [String], notes: [String] = []) {
    for line in notes + items { printErr("warning: \(line)") }
}

/// The commands that read or change the kernel enter every network namespace: they
/// need root. Say so plainly instead of failing on the first setns.
func requireRoot(_ command: String) throws {
    guard geteuid() != 0 else { return }
    printErr("error: netform \(command) needs root: it enters every network namespace (CAP_SYS_ADMIN, CAP_NET_ADMIN); run it with sudo")
    throw ExitCode(1)
}
