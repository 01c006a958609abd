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

/// Wiring of the library to the real host: the live observer and kernel driver.
enum LiveHost {
    static func reconciler(hostName: String?) -> Reconciler {
        var r = Reconciler(observe: { extra in try Observer.observe(extra: extra) }, driver: HostDriver(),
                           localHost: hostName ?? ProcessInfo.processInfo.hostName)
        r.namespaceIdentity = namespaceIdentity
        return r
    }

    /// The reconciler for the host options: with `--cluster-store`, observe also reads
    /// the store's netform keys and store operations go to it.
    static func reconciler(_ options: HostOptions) throws -> Reconciler {
        var r = reconciler(hostName: options.hostName)
        guard let storeURL = options.clusterStore else { return r }
        let settings: ClusterSettings
        do {
            settings = try ClusterSettings(store: storeURL, advertise: options.clusterAdvertise, options: options.clusterStoreOpt)
        } catch {
            printErr("error: \(error)")
            throw ExitCode(1)
        }
        let store = try openStore(settings)
        let advertise = try resolveAdvertise(settings.advertise)
        let observe = r.observe
        r.observe = { extra in
            var state = try observe(extra)
            let entries = try store.list(prefix: "/netform/").entries
            state[.host]?.clusterStore = Dictionary(entries.map { ($0.key, $0.text) }, uniquingKeysWith: { a, _ in a })
            return state
        }
        r.driver = HostDriver(store: StoreBackend(store))
        r.cluster = .init(host: r.localHost ?? ProcessInfo.processInfo.hostName, advertise: advertise, leaseTTL: settings.leaseTTL)
        return r
    }

    /// The store the settings name, or exit 1 saying which option is wrong.
    static func openStore(_ settings: ClusterSettings) throws -> any ClusterStore {
        if let store = openedStore(settings) { return store }
        do { return remember(try settings.openStore(), for: settings) } catch {
            printErr("error: \(error)")
            throw ExitCode(1)
        }
    }

    /// `--cluster-advertise`: an address, or an interface's first IPv4 address.
    static func resolveAdvertise(_ text: String) throws -> IPAddress {
        if let ip = IPAddress(text) { return ip }
        let host = try Observer.observe(namespace: .host)
        guard let a = host.addresses.first(where: { $0.link == text && $0.address.family == .v4 }) else {
            printErr("error: --cluster-advertise \(text): not an address, nor an interface with an IPv4 address on this host")
            throw ExitCode(1)
        }
        return a.address
    }

    /// `dev:inode` of a namespace's nsfs file; nil when it cannot be read.
    static func namespaceIdentity(_ ref: NamespaceRef) -> String? {
        let path = switch ref {
        case .host: "/proc/thread-self/ns/net"
        case .named(let n): "\(NetworkNamespace.namedDirectory)/\(n)"
        case .path(let p): p
        }
        return (try? NamespaceID(path: path)).map { "\($0.device):\($0.inode)" }
    }

    /// Loads a spec or exits 1 after printing its diagnostics (nothing is changed).
    static func loadSpec(_ path: String) throws -> Spec {
        let loaded = SpecLoader.load(path: path)
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
    @Option(help: "This host's name for `host:` placement (default: the system host name).")
    var hostName: String?
    @Option(help: "The cluster store overlays span hosts through: etcd://HOST:PORT[,HOST:PORT...], etcds://... (TLS) or file:/PATH.")
    var clusterStore: String?
    @Option(help: "The underlay address (or interface) other hosts send this host's VXLAN traffic to.")
    var clusterAdvertise: String?
    @Option(help: "A store option KEY=VALUE: kv.cacertfile, kv.certfile, kv.keyfile, kv.username, kv.password, kv.timeout.")
    var clusterStoreOpt: [String] = []
}

func formatDuration(_ d: Duration) -> String {
    let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    return ms < 10 ? String(format: "%.3f ms", ms) : ms < 1000 ? String(format: "%.0f ms", ms) : String(format: "%.2f s", ms / 1000)
}

/// Says which parts of the spec are not enforced by this version, and what the
/// firewall cannot express of it (on stderr).
func warnUnenforced(_ items: [String], notes: [String] = []) {
    for note in notes { printErr("warning: \(note)") }
    guard !items.isEmpty else { return }
    printErr("warning: not enforced yet by this version of netform: " + items.joined(separator: "; "))
}

/// The commands that read or change the kernel enter every network namespace: they
/// need root. Say so plainly instead of failing on the first setns.
func requireRoot(_ command: String) throws {
    guard geteuid() != 0 else { return }
    printErr("error: netform \(command) needs root: it enters every network namespace (CAP_SYS_ADMIN, CAP_NET_ADMIN); run it with sudo")
    throw ExitCode(1)
}
