// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "netform",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "netform", targets: ["netform"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // The etcd client (Cluster only): HTTP/1.1 to etcd's v3 JSON gateway, TLS with
        // client certificates through NIOSSL.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // The agent: structured logs, signals and graceful shutdown, Prometheus metrics.
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C glue
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .target(name: "CNetlink"),
        .target(name: "CFuzzing"),
        .systemLibrary(name: "CNftables", pkgConfig: "libnftables", providers: [.apt(["libnftables-dev"])]),

        // Libraries
        .target(name: "YAML", dependencies: ["CYAML"], swiftSettings: strict),
        .target(name: "Addressing", swiftSettings: strict),
        .target(name: "Spec", dependencies: ["YAML", "Addressing"], swiftSettings: strict),
        .target(name: "Netlink", dependencies: ["CNetlink", "Addressing"], swiftSettings: strict),
        .target(name: "Model", dependencies: ["Addressing"], swiftSettings: strict),
        .target(name: "Compile", dependencies: ["Spec", "Model"], swiftSettings: strict),
        .target(name: "Plan", dependencies: ["Model"], swiftSettings: strict),
        .target(name: "Execute", dependencies: ["Model", "Plan", "Netlink", "Firewall", "Cluster"], swiftSettings: strict),
        // The cluster store: protocol, key layout and records (pure), the in-memory
        // store; the etcd client lives here too (I/O).
        .target(name: "Cluster", dependencies: [
            "Model", "Addressing",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], swiftSettings: strict),
        // Reachability questions answered from the spec and the firewall tables (pure).
        .target(name: "Explain", dependencies: ["Model", "Compile", "Spec", "Addressing"], swiftSettings: strict),
        .target(name: "Import", dependencies: ["Model", "Compile", "Spec", "Addressing"], swiftSettings: strict),
        .target(name: "Graph", dependencies: ["Model", "Compile", "Spec", "Addressing", "Observe"], swiftSettings: strict),
        // Real traffic between namespaces, to check explain against the kernel (I/O).
        .target(name: "Probe", dependencies: ["Netlink", "Addressing", "Model", "Compile", "Explain"], swiftSettings: strict),
        // The plan → apply → verify cycle, the lock, plan files, and the wiring to the live
        // host (Observe, the kernel driver, the cluster store): shared by the CLI and the agent.
        .target(name: "Reconcile", dependencies: ["Spec", "Model", "Compile", "Plan", "Execute", "Addressing", "Observe", "Cluster", "Netlink", "Import"],
                swiftSettings: strict),
        // `netform agent`: the reconcile cycle triggered by netlink events, /run/netns and
        // spec-file changes, SIGHUP and store watches; logs, metrics, graceful shutdown (I/O).
        .target(name: "Agent", dependencies: [
            "Reconcile", "Spec", "Model", "Netlink", "CNetlink", "Cluster", "Plan", "Execute",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ], swiftSettings: strict),
        // Reads the live kernel state into Model values (read-only; CNetlink for setns;
        // Spec for the fields of `network inspect` the kernel does not hold).
        .target(name: "Observe", dependencies: ["Netlink", "Model", "Addressing", "CNetlink", "Spec", "Firewall"], swiftSettings: strict),

        // nftables I/O: a libnftables JSON wrapper that runs inside a given network
        // namespace (the rule compiler is pure and lives in Compile).
        .target(name: "Firewall", dependencies: ["CNftables", "Netlink", "Model"], swiftSettings: strict),

        // CLI
        .executableTarget(
            name: "netform",
            dependencies: [
                "Spec", "Model", "Compile", "Plan", "Observe", "Execute", "Reconcile", "Netlink", "Explain", "Graph", "Probe", "Agent",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),

        // Benchmark driver for Observe (Benchmarks/observe.sh runs it in a sandbox)
        .executableTarget(name: "netform-bench", dependencies: ["Observe", "Model"], swiftSettings: strict),

        // Fuzz target for the spec loader (Scripts/fuzz links libFuzzer into it)
        .executableTarget(name: "netform-fuzz", dependencies: ["Spec", "CFuzzing"], swiftSettings: strict),
        // Fuzz targets for the netlink decoders and the saved-plan reader (Scripts/fuzz)
        .executableTarget(name: "netform-fuzz-netlink", dependencies: ["Netlink", "Observe", "CFuzzing"], swiftSettings: strict),
        .executableTarget(name: "netform-fuzz-planfile", dependencies: ["Reconcile", "CFuzzing"], swiftSettings: strict),

        // Test support (used only by test targets)
        .target(name: "TestSupport", swiftSettings: strict),

        // Tests
        .testTarget(name: "YAMLTests", dependencies: ["YAML"], swiftSettings: strict),
        .testTarget(name: "AddressingTests", dependencies: ["Addressing"], swiftSettings: strict),
        .testTarget(name: "SpecTests", dependencies: ["Spec"], swiftSettings: strict),
        .testTarget(name: "PlanTests", dependencies: ["Import", "Plan", "Compile", "Spec", "Model", "Execute", "Reconcile", "Explain", "Cluster", "Netlink"],
                    swiftSettings: strict),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "ExecuteTests", dependencies: ["Execute", "Model", "Netlink", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "ObserveTests", dependencies: ["Observe", "Model", "Netlink", "TestSupport", "netform", "YAML", "Spec"],
                    swiftSettings: strict),
        .testTarget(name: "FirewallTests", dependencies: ["Firewall", "Compile", "Spec", "Model", "Netlink", "TestSupport", "netform"],
                    swiftSettings: strict),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "AgentTests", dependencies: ["Reconcile", "Agent", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .testTarget(name: "EndToEndTests", dependencies: ["TestSupport", "netform"], swiftSettings: strict),
    ]
)
