// swift-tools-version:6.0
import PackageDescription

// Dependency direction (leaf first):
//   CSystem, CSandbox, CSeccomp, CCap, CSQLite  (C: CSystem the wrappers both sides use; CSandbox the root
//                                      launcher and the daemon's own wrappers)
//   GloveboxSystem                     syscall helpers, descriptors, SHA-256
//   PolicyModel, RecordModel           the policy and run-record types (all the client needs)
//   SQLiteSupport, TOMLSupport         the SQLite layer (connection, statements, errors) and TOML line
//                                      numbers, shared by the daemon's modules and the scientist
//   Policy                             reading and validating policy and config files (TOML)
//   Records                            SQLite run records and the audit log
//   GloveboxProtocol                   wire framing shared by daemon and client
//   Sandbox                            cgroups, mounts, storage, seccomp, launch
//   Supervisor                         admission, run lifecycle, socket server
//   GloveboxClient                     client library
//   gloveboxd, glovebox                thin executables
//   glovebox-init                      (C, static) each run's pid 1, executed by Sandbox's launcher
//   CCurl                              (C) libcurl, with shims for its variadic calls
//   Scientist                          LLM providers over libcurl, budgets, literature, ideas, experiments
//                                      (through GloveboxClient only), the idea archive
//   scientist                          thin executable
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
    ],
    targets: [
        // The syscall wrappers both sides use (SCM_RIGHTS, SO_PEERCRED, openat2): all the client links of C.
        .target(name: "CSystem", cSettings: [.define("_GNU_SOURCE")]),
        // The root launcher (clone3, the setup child) and the daemon's own wrappers (mounts, loops, namespaces).
        .target(name: "CSandbox", cSettings: [.define("_GNU_SOURCE")]),
        // pid 1 of every run, executed by the setup child in launch.c: C without a C library (sys.h), static
        // (after pivot_root the run's root need not hold a dynamic loader or libc), about 10 KB to execute.
        .executableTarget(name: "glovebox-init",
                          cSettings: [.headerSearchPath("../CSandbox/include"), .headerSearchPath("../CSandbox"),
                                      .unsafeFlags(["-ffreestanding", "-fno-stack-protector", "-fno-builtin"])],
                          linkerSettings: [.unsafeFlags(["-static-executable", "-Xclang-linker", "-nostdlib"])]),
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(name: "CCap", pkgConfig: "libcap", providers: [.apt(["libcap-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "GloveboxSystem", dependencies: ["CSystem"]),
        .target(name: "PolicyModel", dependencies: ["GloveboxSystem"]),
        // Leaf layers both the daemon and the scientist use: SQLite (connection, statements, errors) and TOML
        // (line numbers for file:line errors).
        .target(name: "SQLiteSupport", dependencies: ["CSQLite"]),
        .target(name: "TOMLSupport", dependencies: ["TOMLKit"]),
        .target(name: "Policy", dependencies: ["PolicyModel", "GloveboxSystem", "TOMLKit", "TOMLSupport"]),
        .target(name: "RecordModel", dependencies: ["GloveboxSystem"]),
        .target(name: "Records", dependencies: ["RecordModel", "CSQLite", "SQLiteSupport", "GloveboxSystem"]),
        .target(name: "GloveboxProtocol", dependencies: ["GloveboxSystem", "CSystem", "PolicyModel", "RecordModel"]),
        .target(name: "Sandbox", dependencies: ["CSandbox", "CSystem", "CSeccomp", "CCap", "GloveboxSystem", "Policy",
                                                .product(name: "Logging", package: "swift-log")]),
        .target(name: "Supervisor", dependencies: ["Sandbox", "CSandbox", "CSystem", "Policy", "Records", "GloveboxProtocol", "GloveboxSystem",
                                                   .product(name: "Logging", package: "swift-log")]),
        .target(name: "GloveboxClient", dependencies: ["GloveboxProtocol", "GloveboxSystem", "CSystem", "PolicyModel", "RecordModel"]),
        .executableTarget(name: "gloveboxd", dependencies: ["Supervisor", "Sandbox", "CSandbox", "CSystem", "Policy", "GloveboxSystem",
                                                            .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                                            .product(name: "Logging", package: "swift-log")]),
        .executableTarget(name: "glovebox", dependencies: ["GloveboxClient", "GloveboxProtocol", "GloveboxSystem", "RecordModel", "PolicyModel",
                                                           .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // The scientist's shipped prompts are the text files in prompts/, embedded at build time.
        .executableTarget(name: "embed-prompts", path: "Plugins/EmbedPromptsTool"),
        .plugin(name: "EmbedPrompts", capability: .buildTool(), dependencies: ["embed-prompts"]),
        .target(name: "Scientist", dependencies: ["CCurl", "CSQLite", "SQLiteSupport", "TOMLSupport", "TOMLKit", "GloveboxClient", "GloveboxProtocol",
                                                  "RecordModel", "PolicyModel", "GloveboxSystem", "CSystem",
                                                  .product(name: "Logging", package: "swift-log")],
                plugins: ["EmbedPrompts"]),
        .executableTarget(name: "scientist", dependencies: ["Scientist",
                                                            .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                                            .product(name: "Logging", package: "swift-log")]),
        // A real gloveboxd for the tests of the daemon, the client and the scientist (not shipped).
        .target(name: "GloveboxTestSupport", dependencies: ["GloveboxClient", "GloveboxProtocol", "GloveboxSystem", "RecordModel", "PolicyModel"],
                path: "Tests/GloveboxTestSupport"),
        .testTarget(name: "ScientistTests", dependencies: ["Scientist", "GloveboxTestSupport", "GloveboxProtocol", "GloveboxClient", "GloveboxSystem",
                                                              "RecordModel", "PolicyModel"]),
        .testTarget(name: "PolicyTests", dependencies: ["Policy", "TOMLSupport"]),
        .testTarget(name: "RecordsTests", dependencies: ["Records"]),
        .testTarget(name: "GloveboxCLITests", dependencies: ["glovebox", "GloveboxProtocol", "PolicyModel",
                                                            .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "GloveboxTests", dependencies: ["GloveboxClient", "GloveboxProtocol", "GloveboxSystem", "Sandbox", "Supervisor", "Records", "Policy",
                                                         "GloveboxTestSupport"]),
    ]
)
