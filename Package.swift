// swift-tools-version:6.0
import PackageDescription

// The sources are grouped by where they run, which is what they may be trusted with:
//   Sources/Shared/     linked by every side, and nothing in it needs privilege: CSystem (the C wrappers both
//                       sides use), GloveboxSystem (syscall helpers, descriptors), Digests (SHA-256), PolicyModel and
//                       RecordModel (the types the client needs), GloveboxProtocol (wire framing),
//                       SQLiteSupport and TOMLSupport (the SQLite layer, TOML line numbers), CSQLite
//   Sources/Daemon/     gloveboxd, root: Policy (reading policy files), Records (run records, the audit log),
//                       Sandbox (cgroups, mounts, storage, seccomp, launch), Supervisor (admission, run
//                       lifecycle, the socket server), CSandbox (the C launcher), CSeccomp, CCap
//   Sources/InRun/      inside each run: CSetupChild (the launcher's children: the setup child, the root
//                       builder, the run's message, gb_launch.h) and glovebox-init, its pid 1 (static C)
//   Sources/Client/     the user's side: GloveboxClient and the glovebox executable
//   Sources/Scientist/  the user's side too: the Scientist library (Library/), its executable (Command/), CCurl
// Dependencies point down: to Shared from every side, to InRun from the daemon (which starts what runs
// there), and from the scientist to GloveboxClient (its only way to gloveboxd). Nothing depends on the
// daemon, InRun depends on Shared alone, and Shared on nothing outside itself.
let package = Package(
    name: "glovebox",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "gloveboxd", targets: ["gloveboxd"]),
        .executable(name: "glovebox", targets: ["glovebox"]),
        .executable(name: "scientist", targets: ["scientist"]),
        .executable(name: "glovebox-init", targets: ["glovebox-init"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // MARK: Shared: linked by every side; nothing here needs privilege.
        // The syscall wrappers both sides use (SCM_RIGHTS, SO_PEERCRED, openat2): all the client links of C.
        .target(name: "CSystem", path: "Sources/Shared/CSystem", cSettings: [.define("_GNU_SOURCE")]),
        .systemLibrary(name: "CSQLite", path: "Sources/Shared/CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "GloveboxSystem", dependencies: ["CSystem"], path: "Sources/Shared/GloveboxSystem"),
        .target(name: "PolicyModel", dependencies: ["GloveboxSystem"], path: "Sources/Shared/PolicyModel"),
        .target(name: "RecordModel", dependencies: ["GloveboxSystem"], path: "Sources/Shared/RecordModel"),
        // Leaf layers both the daemon and the scientist use: SQLite (connection, statements, errors) and TOML
        // (line numbers for file:line errors).
        .target(name: "SQLiteSupport", dependencies: ["CSQLite"], path: "Sources/Shared/SQLiteSupport"),
        .target(name: "TOMLSupport", dependencies: ["TOMLKit"], path: "Sources/Shared/TOMLSupport"),
        // SHA-256 in hex, by swift-crypto: for the daemon and the scientist; the client does not link it.
        .target(name: "Digests", dependencies: [.product(name: "Crypto", package: "swift-crypto")], path: "Sources/Shared/Digests"),
        .target(name: "GloveboxProtocol", dependencies: ["GloveboxSystem", "CSystem", "PolicyModel", "RecordModel"], path: "Sources/Shared/GloveboxProtocol"),
        // MARK: In the run: the launcher's children and pid 1.
        // The code of the launcher's two children, which run on the daemon's memory (CLONE_VM) in the run's
        // namespaces: the setup child (and the prepared root's builder) and the run's message; gb_launch.h is
        // the form of what the daemon hands them and of what they hand glovebox-init.
        .target(name: "CSetupChild", dependencies: ["CSystem"], path: "Sources/InRun/CSetupChild", cSettings: [.define("_GNU_SOURCE")]),
        // pid 1 of every run, executed by the setup child: C without a C library (sys.h), static (after
        // pivot_root the run's root need not hold a dynamic loader or libc), about 10 KB to execute.
        .executableTarget(name: "glovebox-init", path: "Sources/InRun/glovebox-init",
                          cSettings: [.headerSearchPath("../CSetupChild/include"), .headerSearchPath("../CSetupChild"),
                                      .unsafeFlags(["-ffreestanding", "-fno-stack-protector", "-fno-builtin"])],
                          linkerSettings: [.unsafeFlags(["-static-executable", "-Xclang-linker", "-nostdlib"])]),
        // MARK: Daemon: gloveboxd, root.
        // The launcher's side (clone3 of the children, their reports) and the daemon's own wrappers (mounts,
        // loops, namespaces).
        .target(name: "CSandbox", dependencies: ["CSystem", "CSetupChild"], path: "Sources/Daemon/CSandbox",
                cSettings: [.define("_GNU_SOURCE"), .headerSearchPath("../../InRun/CSetupChild")]),
        .systemLibrary(name: "CSeccomp", path: "Sources/Daemon/CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(name: "CCap", path: "Sources/Daemon/CCap", pkgConfig: "libcap", providers: [.apt(["libcap-dev"])]),
        .target(name: "Policy", dependencies: ["PolicyModel", "GloveboxSystem", "Digests", "TOMLKit", "TOMLSupport"], path: "Sources/Daemon/Policy"),
        .target(name: "Records", dependencies: ["RecordModel", "CSQLite", "SQLiteSupport", "GloveboxSystem", "Digests"], path: "Sources/Daemon/Records"),
        .target(name: "Sandbox", dependencies: ["CSandbox", "CSetupChild", "CSystem", "CSeccomp", "CCap", "GloveboxSystem", "PolicyModel",
                                                .product(name: "Logging", package: "swift-log")], path: "Sources/Daemon/Sandbox"),
        .target(name: "Supervisor", dependencies: ["Sandbox", "CSandbox", "CSystem", "Policy", "Records", "GloveboxProtocol", "GloveboxSystem", "Digests",
                                                   .product(name: "Logging", package: "swift-log")], path: "Sources/Daemon/Supervisor"),
        .executableTarget(name: "gloveboxd", dependencies: ["Supervisor", "Sandbox", "CSandbox", "CSetupChild", "Policy", "GloveboxSystem",
                                                            .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                                            .product(name: "Logging", package: "swift-log")], path: "Sources/Daemon/gloveboxd"),
        // MARK: Client: the user's side.
        .target(name: "GloveboxClient", dependencies: ["GloveboxProtocol", "GloveboxSystem", "CSystem", "PolicyModel", "RecordModel"], path: "Sources/Client/GloveboxClient"),
        .executableTarget(name: "glovebox", dependencies: ["GloveboxClient", "GloveboxProtocol", "GloveboxSystem", "RecordModel", "PolicyModel",
                                                           .product(name: "ArgumentParser", package: "swift-argument-parser")], path: "Sources/Client/glovebox"),
        // MARK: Scientist: the user's side too; gloveboxd only through GloveboxClient.
        .systemLibrary(name: "CCurl", path: "Sources/Scientist/CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // The scientist's shipped prompts are the text files in prompts/, embedded at build time.
        .executableTarget(name: "embed-prompts", path: "Plugins/EmbedPromptsTool"),
        .plugin(name: "EmbedPrompts", capability: .buildTool(), dependencies: ["embed-prompts"]),
        .target(name: "Scientist", dependencies: ["CCurl", "CSQLite", "SQLiteSupport", "TOMLSupport", "TOMLKit", "GloveboxClient", "GloveboxProtocol",
                                                  "RecordModel", "PolicyModel", "GloveboxSystem", "CSystem", "Digests",
                                                  .product(name: "Logging", package: "swift-log")], path: "Sources/Scientist/Library",
                plugins: ["EmbedPrompts"]),
        .executableTarget(name: "scientist", dependencies: ["Scientist",
                                                            .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                                            .product(name: "Logging", package: "swift-log")], path: "Sources/Scientist/Command"),
        // MARK: Tests.
        // A real gloveboxd for the tests of the daemon, the client and the scientist (not shipped).
        .target(name: "GloveboxTestSupport", dependencies: ["GloveboxClient", "GloveboxProtocol", "GloveboxSystem", "RecordModel", "PolicyModel", "Digests"],
                path: "Tests/GloveboxTestSupport"),
        .testTarget(name: "ScientistTests", dependencies: ["Scientist", "GloveboxTestSupport", "GloveboxProtocol", "GloveboxClient", "GloveboxSystem",
                                                              "RecordModel", "PolicyModel", "Digests"]),
        .testTarget(name: "PolicyTests", dependencies: ["Policy", "TOMLSupport", "Digests"]),
        .testTarget(name: "RecordsTests", dependencies: ["Records"]),
        .testTarget(name: "GloveboxCLITests", dependencies: ["glovebox", "GloveboxProtocol", "PolicyModel",
                                                            .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // The daemon's pure parts (admission, outcome to record, the query answers) and the module graph:
        // no root, no daemon.
        .testTarget(name: "DaemonUnitTests", dependencies: ["Supervisor", "Sandbox", "Records", "Policy", "PolicyModel", "RecordModel", "Digests",
                                                           "GloveboxProtocol", .product(name: "Logging", package: "swift-log")]),
        // Everything that needs root and real daemons: namespaces, cgroups, seccomp, the attack suite.
        .testTarget(name: "GloveboxTests", dependencies: ["GloveboxClient", "GloveboxProtocol", "GloveboxSystem", "CSystem", "Sandbox", "Supervisor", "Records", "Policy",
                                                         "Digests", "GloveboxTestSupport"]),
    ]
)

// The in-process fuzz harnesses under fuzz/ (libFuzzer, whose main drives them): only fuzz/run.sh builds
// them, with GLOVEBOX_FUZZ set, --sanitize=fuzzer and a scratch path of its own, so that no ordinary build
// carries them.
if Context.environment["GLOVEBOX_FUZZ"] != nil {
    // --sanitize=fuzzer compiles every executable as a library, for libFuzzer's main: the scientist's
    // prompt-embedding tool, top-level code, is left out of these builds, with the plugin that runs it.
    let scientist = ["embed-prompts", "EmbedPrompts", "Scientist", "scientist", "ScientistTests"]
    package.targets.removeAll { scientist.contains($0.name) }
    package.products.removeAll { scientist.contains($0.name) }
    package.targets += [
        .executableTarget(name: "fuzz-policy-files", dependencies: ["Policy", "PolicyModel"], path: "fuzz/PolicyFiles",
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(name: "fuzz-wire-messages", dependencies: ["GloveboxProtocol", "GloveboxSystem"], path: "fuzz/WireMessages",
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
    ]
}
