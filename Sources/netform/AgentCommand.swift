import Agent
import ArgumentParser
import Foundation
import Logging
import Reconcile
import ServiceLifecycle
import Synchronization

/// `netform agent SPEC`: keep this host reconciled, on events, until SIGTERM.
struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Keep this host matching a spec: reconcile whenever the kernel, the spec or the cluster store changes.",
        discussion: """
        Runs the same cycle as `apply --yes` (lock, plan, apply, verify, rollback) when a \
        link, address, route or neighbour changes in a namespace the project owns, a \
        namespace appears or goes under /run/netns, the spec file changes or SIGHUP \
        arrives, another host changes the cluster store, and every --resync seconds. \
        Bursts of events are coalesced. An invalid spec is logged and the last good one \
        kept. SIGTERM or SIGINT: the reconcile in flight finishes (or rolls back), then \
        the agent exits 0.
        Exit status with --once: 0 when the host matches the spec afterwards, 1 otherwise.

        Examples:
          sudo netform agent lab.yaml --metrics 127.0.0.1:9109
          sudo netform agent --once lab.yaml                 (one reconcile, for cron)
          sudo netform agent overlay.yaml --cluster-store etcds://10.0.0.1:2379 --cluster-advertise eth0 \\
               --cluster-store-opt kv.cacertfile=/etc/netform/ca.pem --log-format json
        """)

    @Argument(help: "The spec file.") var spec: String
    @Flag(help: "Reconcile once and exit.") var once = false
    @Option(help: "Serve Prometheus metrics and /healthz on HOST:PORT (e.g. 127.0.0.1:9109).") var metrics: String?
    @Option(help: "Log line format: logfmt or json.") var logFormat: String = "logfmt"
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String = "info"
    @Option(help: "Seconds between full reconciles when nothing happens (0: never).") var resync: Double = 300
    @Option(help: "Milliseconds of quiet after an event before reconciling.") var debounce: Int = 20
    @Option(help: "Seconds to wait for another apply to finish.") var lockTimeout: Double = 30
    @OptionGroup var host: HostOptions

    func validate() throws {
        guard LogFormat(rawValue: logFormat) != nil else { throw ValidationError("--log-format: logfmt or json") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: trace, debug, info, notice, warning, error or critical") }
        if let metrics, MetricsAddress(metrics) == nil { throw ValidationError("--metrics: HOST:PORT, e.g. 127.0.0.1:9109") }
    }

    /// Blocks the main thread until the agent's async work ends (the root command is
    /// synchronous, see `Netform`).
    func run() throws {
        let outcome = Mutex<Result<Void, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let command = self
        Task {
            do { try await command.runAgent(); outcome.withLock { $0 = .success(()) } } catch { outcome.withLock { $0 = .failure(error) } }
            done.signal()
        }
        done.wait()
        try outcome.withLock { $0 }?.get()
    }

    func runAgent() async throws {
        try requireRoot("agent")
        let format = LogFormat(rawValue: logFormat)!
        let level = Logger.Level(rawValue: logLevel)!
        var logger = Logger(label: "netform.agent") { label in
            var h = LineLogHandler(label: label, format: format)
            h.logLevel = level
            return h
        }
        logger.logLevel = level
        var config = AgentConfiguration(specPath: spec, host: host.live)
        config.once = once
        config.lockTimeout = .milliseconds(Int(lockTimeout * 1000))
        config.policy = TriggerPolicy(debounce: .milliseconds(debounce), resync: resync > 0 ? .milliseconds(Int(resync * 1000)) : nil)
        let agentMetrics = AgentMetrics()
        let agent: ReconcileAgent
        do { agent = try ReconcileAgent(configuration: config, logger: logger, metrics: agentMetrics) } catch {
            printErr("error: \(error)")
            throw ExitCode(1)
        }
        if once {
            let converged = await agent.runLoop()
            throw ExitCode(converged ? 0 : 1)
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let metrics, let address = MetricsAddress(metrics) {
            services.append(.init(service: MetricsServer(host: address.host, port: address.port, metrics: agentMetrics, logger: logger),
                                  serviceName: "metrics"))
        }
        services.append(.init(service: agent, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "agent"))
        var group = ServiceGroupConfiguration(services: services, logger: logger)
        group.gracefulShutdownSignals = [.sigterm, .sigint]
        logger.info("agent started", metadata: ["spec": .string(spec), "pid": .string(String(getpid()))])
        try await ServiceGroup(configuration: group).run()
        logger.info("agent stopped")
    }
}

/// `HOST:PORT` (`[::1]:PORT` for IPv6).
struct MetricsAddress {
    var host: String
    var port: Int
    init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }
}
