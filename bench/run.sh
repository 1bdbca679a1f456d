#!/usr/bin/env bash
# bench/run.sh: Glovebox's benchmarks, side by side with bubblewrap, unshare and plain execution (see
# BENCHMARKS.md for what each measures and the latest figures). Installs the tools (hyperfine and
# bubblewrap come from Debian, through scripts/install-deps.sh), builds gloveboxd and glovebox the way
# scripts/install.sh does (release, static Swift standard library), and runs bench/bench.py as root
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
build_args=(-c "$BUILD" --scratch-path "${SCRATCH:-.build}")
# As scripts/install.sh builds it: the Swift runtime linked in statically (a faster start for glovebox).
[[ $BUILD == release ]] && build_args+=(-Xswiftc -static-stdlib)
if [[ -z ${NO_BUILD:-} ]]; then
  echo "== building (swift build ${build_args[*]})" >&2
  swift build "${build_args[@]}" --product gloveboxd >&2
  swift build "${build_args[@]}" --product glovebox >&2
fi
bin=$(swift build "${build_args[@]}" --show-bin-path)
[[ -x $bin/gloveboxd && -x $bin/glovebox ]] || die "no gloveboxd/glovebox in $bin"
exec /usr/bin/python3 "$repo/bench/bench.py" --bin "$bin" --repo "$repo" --out "${OUT:-$repo/bench/results}" "$@"
