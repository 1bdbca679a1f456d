#!/usr/bin/env bash
# bench/run.sh: Glovebox's benchmarks, side by side with bubblewrap, unshare and plain execution (see
# BENCHMARKS.md for what each measures and the latest figures). Installs the tools (hyperfine and
# bubblewrap come from Debian, through scripts/install-deps.sh), builds gloveboxd and glovebox the way
# scripts/install.sh does (scripts/build-release.sh), and runs bench/bench.py as root
# against a private daemon. Results go to bench/results/<time>-<mode>.{md,json}.
#
# Usage: sudo bench/run.sh [--short] [--only 1,5,...]
#   --short      a few iterations of each measurement: checks that the harness works (CI runs this);
#                its figures mean little
# Environment: BUILD=release|debug (release), SCRATCH (swift build --scratch-path; default .build),
#   NO_BUILD=1 (use what is built), OUT (results directory; default bench/results).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "bench: $*" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || die "must run as root: gloveboxd creates namespaces, cgroups and mounts (try: sudo $0)"
command -v swift >/dev/null 2>&1 || { [[ -x /opt/swift/usr/bin/swift ]] && PATH=/opt/swift/usr/bin:$PATH; }

bash "$repo/scripts/install-deps.sh" >&2
BUILD=${BUILD:-release}
[[ $BUILD == release || $BUILD == debug ]] || die "BUILD must be release or debug"
cd "$repo"
export SCRATCH_PATH=${SCRATCH:-.build}
if [[ $BUILD == release ]]; then
  # As scripts/install.sh builds it: gloveboxd with a static Swift runtime, glovebox fully static.
  bins=$(scripts/build-release.sh ${NO_BUILD:+--only-print})
  bin=$(sed -n 's/^DAEMON_BIN=//p' <<<"$bins")
  client_bin=$(sed -n 's/^CLIENT_BIN=//p' <<<"$bins")
else
  build_args=(-c debug --scratch-path "$SCRATCH_PATH")
  if [[ -z ${NO_BUILD:-} ]]; then
    echo "== building (swift build ${build_args[*]})" >&2
    swift build "${build_args[@]}" --product gloveboxd >&2
    swift build "${build_args[@]}" --product glovebox >&2
  fi
  bin=$(swift build "${build_args[@]}" --show-bin-path)
  client_bin=$bin
fi
[[ -x $bin/gloveboxd && -x $client_bin/glovebox ]] || die "no gloveboxd in $bin or no glovebox in $client_bin"
exec /usr/bin/python3 "$repo/bench/bench.py" --bin "$bin" --client-bin "$client_bin" --repo "$repo" --out "${OUT:-$repo/bench/results}" "$@"
