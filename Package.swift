// swift-tools-version:6.0
import PackageDescription

/// Module map (arrows point one way, see docs/ARCHITECTURE.md):
/// switchboard → Transport → Hub → (CallState, Providers, JSONCodec, Crypto)
let package = Package(
    name: "Switchboard",
    platforms: [.macOS(.v15)],  // Synchronization (Atomic, Mutex) needs macOS 15
    products: [
        .executable(name: "switchboard", targets: ["switchboard"]),
        // Swift client for apps: follow a call, report CallKit / device events.
        .library(name: "SwitchboardClient", targets: ["SwitchboardClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // C system libraries: shims only, never products.
        .systemLibrary(
            name: "CLibWebSockets", pkgConfig: "libwebsockets",
            providers: [.apt(["libwebsockets-dev"]), .brew(["libwebsockets"])]),
        .systemLibrary(
            name: "CJansson", pkgConfig: "jansson",
            providers: [.apt(["libjansson-dev"]), .brew(["jansson"])]),
        .systemLibrary(
            name: "COpenSSL", pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]),
        .systemLibrary(
            name: "CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]),
        // libcurl: outbound webhook deliveries (multi interface, own thread).
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]),
        // hiredis: the cluster's log and heartbeats in Redis (store.kind redis, PROTOCOL.md §9).
        .systemLibrary(
            name: "CHiredis", pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"]), .brew(["hiredis"])]),
        // libev: the one event loop, shared with libwebsockets as its foreign loop.
        .systemLibrary(name: "CLibEV", providers: [.apt(["libev-dev"]), .brew(["libev"])]),

        // Pure Swift core: the document and the merge rule. No C, no I/O.
        // Double.rounded() lowers to libm's round/trunc: link it explicitly, since
        // a consumer without Foundation (EngineBench) would not pull it in.
        .target(name: "CallState", linkerSettings: [.linkedLibrary("m", .when(platforms: [.linux]))]),
        // Strict HTTP/1.1 request reading and response writing: pure Swift,
        // no I/O (fuzzed on its own, see Fuzz/).
        .target(name: "HTTP1"),
        // JSON at the edge (jansson) <-> CallState.JSONValue.
        .target(name: "JSONCodec", dependencies: ["CallState", "CJansson"]),
        // HMAC, SHA, Ed25519, base64 over OpenSSL.
        .target(name: "Crypto", dependencies: ["COpenSSL"]),
        // JWT verification / minting, roles, token extraction and redaction (§5).
        .target(name: "Auth", dependencies: ["Crypto", "JSONCodec", "CallState"]),
        // One file per provider: verify signature, parse raw bytes -> Input.
        .target(name: "Providers", dependencies: ["CallState", "JSONCodec", "Crypto"]),
        // The durable journal: SQLite WAL, group commit on its own thread.
        // The cluster log (RedisLog) on Redis through hiredis.
        .target(name: "Store", dependencies: ["CallState", "JSONCodec", "Crypto", "CSQLite", "CHiredis"]),
        // Sessions, subscriptions, fan-out: the reactor's state.
        .target(
            name: "Hub",
            dependencies: ["CallState", "JSONCodec", "Providers", "Crypto", "Auth", "Store", "CCurl",
                           .product(name: "Logging", package: "swift-log")]),
        // libwebsockets: HTTP routing, WS upgrade, send queues, keepalive, drain.
        .target(
            name: "Transport",
            dependencies: ["Hub", "HTTP1", "CLibWebSockets", "CLibEV", "JSONCodec",
                           .product(name: "Logging", package: "swift-log")]),
        .executableTarget(
            name: "switchboard",
            dependencies: ["Transport", "Hub", "CallState", "Crypto", "Auth", "Store",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // The Swift client library (issue 8): URLSession WebSockets on Apple
        // platforms, libwebsockets' client API on Linux.
        .target(
            name: "SwitchboardClient",
            dependencies: ["CallState", "JSONCodec",
                           .target(name: "CLibWebSockets", condition: .when(platforms: [.linux]))]),

        .executableTarget(
            name: "StoreBench", dependencies: ["Store", "CallState"], path: "Benchmarks/StoreBench"),
        // History queries over a 100,000-call archive (PROTOCOL.md §12): BENCHMARKS-store.md.
        .executableTarget(
            name: "HistoryBench", dependencies: ["Store", "CallState", "JSONCodec"], path: "Benchmarks/HistoryBench"),

        .testTarget(name: "CallStateTests", dependencies: ["CallState"]),
        // Merge engine throughput: `swift run -c release EngineBench`.
        .executableTarget(name: "EngineBench", dependencies: ["CallState"], path: "Benchmarks/EngineBench"),
        // Load generator (libwebsockets client side) against the hub and its peers: `make bench`.
        .executableTarget(
            name: "SwitchboardBench",
            dependencies: ["CLibWebSockets", "CEpoll", "Crypto", "JSONCodec", "CallState",
                           .product(name: "Histogram", package: "hdrhistogram-swift")],
            path: "Benchmarks/SwitchboardBench"),
        .systemLibrary(name: "CEpoll", path: "Benchmarks/CEpoll"),
        .testTarget(name: "CryptoTests", dependencies: ["Crypto"]),
        .testTarget(name: "HTTP1Tests", dependencies: ["HTTP1"]),
        .testTarget(name: "AuthTests", dependencies: ["Auth", "Crypto"]),
        .testTarget(name: "ProvidersTests", dependencies: ["Providers", "Crypto", "JSONCodec", "CallState"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "CallState", "Crypto", "JSONCodec"]),
        // Test helpers shared by HubTests and SwitchboardClientTests: the real
        // hub as a child process, raw HTTP / WebSocket clients, headless Chromium.
        .target(name: "HubTestSupport", dependencies: ["Auth"], path: "Tests/HubTestSupport"),
        .testTarget(name: "HubTests", dependencies: ["Hub", "Transport", "JSONCodec", "CallState", "Crypto", "Auth", "HubTestSupport"]),
        .testTarget(name: "SwitchboardClientTests", dependencies: ["SwitchboardClient", "CallState", "Auth", "HubTestSupport"]),
    ]
)

// Fuzz targets (SECURITY.md "Fuzzing"): libFuzzer executables, one directory
// each under Fuzz/Targets, seeds under Fuzz/Corpus/<name>. They exist only
// when SWITCHBOARD_FUZZ is set (`make fuzz`, its own scratch path): a fuzzer
// has no main of its own (libFuzzer's comes with `--sanitize=fuzzer`), so a
// plain `swift build` could not link it. Adding a target: one line here, one
// file under Fuzz/Targets/<name>/, seeds under Fuzz/Corpus/<name>/.
let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
    ("FuzzInputDecoder", ["Hub", "CallState", "JSONCodec", .product(name: "Logging", package: "swift-log")]),
    ("FuzzTwilio", ["Providers", "Crypto", "CallState"]),
    ("FuzzElevenLabs", ["Providers", "Crypto", "CallState"]),
    ("FuzzAgora", ["Providers", "Crypto", "CallState"]),
    ("FuzzTelnyx", ["Providers", "Crypto", "CallState"]),
    ("FuzzAsterisk", ["Providers", "Crypto", "CallState"]),
    ("FuzzGeneric", ["Providers", "Crypto", "CallState"]),
    ("FuzzTokenVerifier", ["Auth", "Crypto", "CallState"]),
    ("FuzzConfigLoader", ["Hub"]),
    ("FuzzHTTPRequest", ["HTTP1"]),
]
if Context.environment["SWITCHBOARD_FUZZ"] != nil {
    for target in fuzzTargets {
        package.targets.append(.executableTarget(name: target.name, dependencies: target.dependencies,
                                                 path: "Fuzz/Targets/\(target.name)"))
    }
}
