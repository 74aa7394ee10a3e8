// swift-tools-version:6.0
import PackageDescription

// Targets are listed in the order of the layers (../shared/ARCHITECTURE.md): the model at the
// bottom, then the loader, then the executables that sit on top of them.
let package = Package(
    name: "Medic",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "medic", targets: ["medic"]),
        .library(name: "MedicText", targets: ["MedicText"]),
        .library(name: "MedicModel", targets: ["MedicModel"]),
        .library(name: "MedicLoader", targets: ["MedicLoader"]),
        .library(name: "MedicDetect", targets: ["MedicDetect"]),
        .library(name: "MedicKnowledge", targets: ["MedicKnowledge"]),
        .library(name: "MedicEngine", targets: ["MedicEngine"]),
        .library(name: "MedicEngineTestKit", targets: ["MedicEngineTestKit"]),
        .library(name: "MedicPostgres", targets: ["MedicPostgres"]),
        .library(name: "MedicResilience", targets: ["MedicResilience"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        // HTTP for the http and bus (webhook) executors and the Prometheus metric source; the
        // tests use SwiftNIO directly for their loopback servers.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // SHA-256 (already built for the HTTP client's TLS).
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        // The CLI's diagnostics and progress lines (already built for the HTTP client).
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        // `medic serve`: the HTTP server and the service group that shuts it down gracefully.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // `medic serve`'s GET /metrics: a Prometheus registry per server, fed through swift-metrics.
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        // Shared state for several `medic serve` instances (docs/high-availability.md).
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // Latency percentiles of the resilience guards, in bounded memory.
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
    ],
    targets: [
        // JSON text and RFC 3339 times read and written byte by byte: the one cursor and the one
        // `Timestamp` every reader above uses. No dependencies.
        .target(name: "MedicText"),
        .target(name: "MedicModel"),
        .target(
            name: "MedicLoader",
            dependencies: ["MedicModel", "MedicText", .product(name: "Yams", package: "Yams")]
        ),
        // Streaming anomaly detectors, rule evaluation and the NAB scorer: pure computation over
        // samples; its only I/O reads sample feeds and series files line by line.
        .target(name: "MedicDetect", dependencies: ["MedicModel", "MedicText"]),
        // The knowledge base (reference §9): crash-safe JSON Lines files under the state
        // directory; its own file I/O, no processes or network.
        .target(name: "MedicKnowledge", dependencies: ["MedicModel", "MedicText", .product(name: "Crypto", package: "swift-crypto")]),
        // The only layer that starts processes or touches the network.
        // One system call Swift cannot make directly (syscall(2) is variadic): pidfd_open.
        .target(name: "CMedicSystem"),
        .target(
            name: "MedicEngine",
            dependencies: [
                "MedicModel", "MedicText", "MedicLoader", "MedicDetect", "MedicKnowledge", "CMedicSystem", "MedicResilience",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // What tests and benchmarks drive the engine with, kept out of the production target: a
        // clock that moves only when slept on, an executor that records instead of running.
        .target(name: "MedicEngineTestKit", dependencies: ["MedicEngine"]),
        // `medic serve`: HTTP endpoints over the stages, its incident store, run as a ServiceGroup.
        .target(
            name: "MedicServer",
            dependencies: [
                "MedicModel", "MedicText", "MedicLoader", "MedicEngine", "MedicDetect", "MedicKnowledge", "MedicResilience",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // Circuit breakers, bulkheads, retries and timeouts on an injected clock: usable on its
        // own, it depends on nothing else of Medic.
        .target(name: "MedicResilience", dependencies: [.product(name: "Histogram", package: "hdrhistogram-swift")]),
        // The state in PostgreSQL, for several Medic servers sharing it: versioned migrations,
        // leases with fencing tokens the database checks.
        .target(
            name: "MedicPostgres",
            dependencies: [
                "MedicEngine", "MedicServer",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "medic",
            dependencies: [
                "MedicModel", "MedicLoader", "MedicDetect", "MedicEngine", "MedicServer", "MedicPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "MedicBench",
            dependencies: ["MedicModel", "MedicLoader", "MedicDetect", "MedicKnowledge", "MedicEngine", "MedicEngineTestKit", "MedicTestSupport",
                           "MedicResilience", "MedicPostgres",
                           .product(name: "NIOPosix", package: "swift-nio"), .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "AsyncHTTPClient", package: "async-http-client")]
        ),
        // Inputs shared by the tests and the benchmarks (hostile documents).
        .target(name: "MedicTestSupport", dependencies: ["MedicPostgres"]),
        // Real processes for the tests: `medic serve` over HTTP, a PostgreSQL server of their own.
        .target(
            name: "MedicServeTestKit",
            dependencies: ["MedicPostgres", "MedicTestSupport", .product(name: "AsyncHTTPClient", package: "async-http-client")]
        ),
        .testTarget(name: "MedicTextTests", dependencies: ["MedicText"]),
        .testTarget(name: "MedicModelTests", dependencies: ["MedicModel"]),
        .testTarget(name: "MedicDetectTests", dependencies: ["MedicDetect", "MedicModel", "MedicLoader"]),
        .testTarget(
            name: "MedicLoaderTests",
            dependencies: ["MedicModel", "MedicLoader", "MedicTestSupport"],
            exclude: ["Fixtures"]
        ),
        // Its concurrent-appender test runs the built MedicBench (kb-append-child) as real processes.
        .testTarget(name: "MedicKnowledgeTests", dependencies: ["MedicKnowledge", "MedicText"]),
        .testTarget(
            name: "MedicEngineTests",
            dependencies: [
                "MedicEngine", "MedicEngineTestKit", "MedicLoader", "MedicDetect",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "MedicCLITests", dependencies: ["MedicLoader", "MedicTestSupport"]),
        // Runs the built `medic serve` as a process and talks to it over real HTTP.
        .testTarget(
            name: "MedicServerTests",
            dependencies: [
                "MedicServer", "MedicEngine", "MedicServeTestKit",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "MedicResilienceTests", dependencies: ["MedicResilience"]),
        // Runs a real PostgreSQL (initdb + pg_ctl in a temporary folder) and talks to it.
        .testTarget(
            name: "MedicPostgresTests",
            dependencies: [
                "MedicPostgres", "MedicEngine", "MedicServer", "MedicServeTestKit",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
