// swift-tools-version: 6.1
import PackageDescription

/// Every target: Swift 6 language mode (strict concurrency).
let common: [SwiftSetting] = [.swiftLanguageMode(.v6)]

/// A release build of netform (what Scripts/install puts on a host) carries the Swift
/// runtime and Foundation inside it: it needs no toolchain on the host and starts in
/// half the time, without resolving the runtime libraries' symbols at each start.
/// The modules are compiled as for the shared runtime, which name only Foundation for
/// the link: the static archives Foundation's own need are named here. lld, as gold
/// warns about a libc call inside Foundation's archive. Debug builds, the tests and
/// the other executables keep the shared runtime.
let staticRuntime: [LinkerSetting] = [.unsafeFlags([
    "-static-stdlib", "-use-ld=lld",
    "-lFoundationInternationalization", "-lFoundationEssentials", "-lCoreFoundation", "-l_FoundationICU",
    "-l_FoundationCShims", "-l_FoundationCollections", "-lswiftSynchronization", "-lswiftDispatch", "-ldispatch",
    "-lBlocksRuntime", "-lutil", "-ldl",
], .when(configuration: .release))]

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
        .target(name: "YAML", dependencies: ["CYAML"], swiftSettings: common),
        .target(name: "Addressing", swiftSettings: common),
        .target(name: "Spec", dependencies: ["YAML", "Addressing"], swiftSettings: common),
        .target(name: "Netlink", dependencies: ["CNetlink", "Addressing"], swiftSettings: common),
        .target(name: "Model", dependencies: ["Addressing"], swiftSettings: common),
        .target(name: "Compile", dependencies: ["Spec", "Model"], swiftSettings: common),
        .target(name: "Plan", dependencies: ["Model"], swiftSettings: common),
        .target(name: "Execute", dependencies: ["Model", "Plan", "Netlink", "Firewall", "Cluster"], swiftSettings: common),
        // The cluster store: protocol, key layout and records (pure), the in-memory
        // store; the etcd client lives here too (I/O).
        .target(name: "Cluster", dependencies: [
            "Model", "Addressing",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], swiftSettings: common),
        // Reachability questions answered from the spec and the firewall tables (pure).
        .target(name: "Explain", dependencies: ["Model", "Compile", "Spec", "Addressing"], swiftSettings: common),
        .target(name: "Import", dependencies: ["Model", "Compile", "Spec", "Addressing"], swiftSettings: common),
        .target(name: "Graph", dependencies: ["Model", "Compile", "Spec", "Addressing", "Observe"], swiftSettings: common),
        // Real traffic between namespaces, to check explain against the kernel (I/O).
        .target(name: "Probe", dependencies: ["Netlink", "Addressing", "Model", "Compile", "Explain"], swiftSettings: common),
        // The plan → apply → verify cycle, the lock, plan files, and the wiring to the live
        // host (Observe, the kernel driver, the cluster store): shared by the CLI and the agent.
        .target(name: "Reconcile", dependencies: ["Spec", "Model", "Compile", "Plan", "Execute", "Addressing", "Observe", "Cluster", "Netlink", "Import"],
                swiftSettings: common),
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
        ], swiftSettings: common),
        // Reads the live kernel state into Model values (read-only; CNetlink for setns;
        // Spec for the fields of `network inspect` the kernel does not hold).
        .target(name: "Observe", dependencies: ["Netlink", "Model", "Addressing", "CNetlink", "Spec", "Firewall"], swiftSettings: common),

        // nftables I/O: a libnftables JSON wrapper that runs inside a given network
        // namespace (the rule compiler is pure and lives in Compile).
        .target(name: "Firewall", dependencies: ["CNftables", "Netlink", "Model"], swiftSettings: common),

        // CLI
        .executableTarget(
            name: "netform",
            dependencies: [
                "Spec", "Model", "Compile", "Plan", "Observe", "Execute", "Reconcile", "Netlink", "Explain", "Graph", "Probe", "Agent",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: common, linkerSettings: staticRuntime),

        // Benchmark driver for Observe (Benchmarks/observe.sh runs it in a sandbox)
        .executableTarget(name: "netform-bench", dependencies: ["Observe", "Model"], swiftSettings: common),

        // Fuzz target for the spec loader (Scripts/fuzz links libFuzzer into it)
        .executableTarget(name: "netform-fuzz", dependencies: ["Spec", "CFuzzing"], swiftSettings: common),
        // Fuzz targets for the netlink decoders and the saved-plan reader (Scripts/fuzz)
        .executableTarget(name: "netform-fuzz-netlink", dependencies: ["Netlink", "Observe", "CFuzzing"], swiftSettings: common),
        .executableTarget(name: "netform-fuzz-planfile", dependencies: ["Reconcile", "CFuzzing"], swiftSettings: common),

        // Test support (used only by test targets)
        .target(name: "TestSupport", swiftSettings: common),

        // Tests
        .testTarget(name: "YAMLTests", dependencies: ["YAML"], swiftSettings: common),
        .testTarget(name: "AddressingTests", dependencies: ["Addressing"], swiftSettings: common),
        .testTarget(name: "SpecTests", dependencies: ["Spec"], swiftSettings: common),
        .testTarget(name: "PlanTests", dependencies: ["Import", "Plan", "Compile", "Spec", "Model", "Execute", "Reconcile", "Explain", "Cluster", "Netlink"],
                    swiftSettings: common),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "TestSupport"], swiftSettings: common),
        .testTarget(name: "ExecuteTests", dependencies: ["Execute", "Model", "Netlink", "TestSupport"], swiftSettings: common),
        .testTarget(name: "ObserveTests", dependencies: ["Observe", "Model", "Netlink", "TestSupport", "netform", "YAML", "Spec"],
                    swiftSettings: common),
        .testTarget(name: "FirewallTests", dependencies: ["Firewall", "Compile", "Spec", "Model", "Netlink", "TestSupport", "netform"],
                    swiftSettings: common),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster", "TestSupport"], swiftSettings: common),
        .testTarget(name: "AgentTests", dependencies: ["Reconcile", "Agent", .product(name: "Logging", package: "swift-log")], swiftSettings: common),
        .testTarget(name: "EndToEndTests", dependencies: ["TestSupport", "netform"], swiftSettings: common),
    ]
)
