#!/usr/bin/env bash
# Builds what is installed and benchmarked, the same way for both (scripts/install.sh, bench/run.sh):
#   - gloveboxd: release, with the Swift runtime linked in statically (it depends only on Debian's
#     shared libraries: glibc, libseccomp, libcap, libsqlite3);
#   - glovebox-init, each run's pid 1 (a static C program, Package.swift), beside gloveboxd;
#   - glovebox, the client: release, fully static (glibc and the Swift runtime linked in). It starts once
#     per run, and a static executable skips the dynamic loader: 5.3 -> 3.1 ms of CPU for each
#     `glovebox run` (BENCHMARKS.md). It has its own scratch directory, since -static-executable changes
#     how every module is compiled.
# Prints two lines, DAEMON_BIN=<dir> and CLIENT_BIN=<dir>; the build's own output goes to stderr.
#
# Usage: scripts/build-release.sh [--only-print]
# Environment: SCRATCH_PATH (default .build; the client builds in $SCRATCH_PATH/static-client).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || { [[ -x /opt/swift/usr/bin/swift ]] && PATH=/opt/swift/usr/bin:$PATH; }
command -v swift >/dev/null 2>&1 || { echo "build-release.sh: no swift on PATH (see README.md, Quick start)" >&2; exit 1; }

scratch=${SCRATCH_PATH:-.build}
daemon=(swift build -c release --scratch-path "$scratch" -Xswiftc -static-stdlib)
client=(swift build -c release --scratch-path "$scratch/static-client" -Xswiftc -static-executable)
if [[ ${1:-} != --only-print ]]; then
    echo "== building gloveboxd (release, static Swift runtime)" >&2
    "${daemon[@]}" --product gloveboxd >&2
    echo "== building glovebox-init (release, static)" >&2
    "${daemon[@]}" --product glovebox-init 2>&1 | { grep -v -e "in statically linked applications requires at runtime" || true; } >&2
    echo "== building glovebox (release, static executable)" >&2
    # glibc warns that getpwuid and dlopen in a static program need its own version's shared libraries
    # at run time: the client is built on the machine it runs on, and only names users with them.
    "${client[@]}" --product glovebox 2>&1 | { grep -v -e "in statically linked applications requires at runtime" -e "the use of .mktemp. is dangerous" || true; } >&2
fi
echo "DAEMON_BIN=$("${daemon[@]}" --show-bin-path)"
echo "CLIENT_BIN=$("${client[@]}" --show-bin-path)"
