#!/usr/bin/env bash
# test.sh: installs the dependencies, prepares the cgroup-v2 test VM, builds and runs the whole test
# suite. Exits with `swift test`'s status. Runs as root: the tests start real gloveboxd daemons
# (namespaces, cgroups, mounts, seccomp). The output is also kept in .build/glovebox-test.log.
# Usage: sudo scripts/test.sh
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "test: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root: the tests start gloveboxd, which creates namespaces, cgroups and mounts (try: sudo $0)"
command -v swift >/dev/null 2>&1 || { [[ -x /opt/swift/usr/bin/swift ]] && PATH=/opt/swift/usr/bin:$PATH; }

bash "$repo/scripts/install-deps.sh"

# The cgroup-v2 tests boot a throwaway VM (qemu) with the tools next to the repository.
v2vm=$repo/../shared/tools/v2vm
[[ -x $v2vm/setup && -x $v2vm/run ]] || die "$v2vm/setup and run are missing: the cgroup-v2 tests need them (see that folder's README.md)"
echo "== preparing the cgroup-v2 test VM"
# An initramfs made before cpio was installed is a few bytes of empty gzip that setup takes as ready
# (its real size is about 1.5 MB): remove it so that setup builds it again.
initrd=${V2VM_CACHE:-/var/cache/v2vm}/initrd.gz
if [[ -f $initrd ]] && (($(stat -c %s "$initrd") < 100000)); then
  echo "test: $initrd is only $(stat -c %s "$initrd") bytes (built without cpio?); building it again"
  rm -f "$initrd"
fi
"$v2vm/setup"

# A real model server for the scientist's tests (LocalModelTests), which must then not be skipped.
echo "== the local model server (scripts/install-llm.sh)"
GLOVEBOX_LLM_VENV=$(bash "$repo/scripts/install-llm.sh" | tail -n 1)
export GLOVEBOX_LLM_VENV GLOVEBOX_REQUIRE_LLM=1

cd "$repo"
echo "== building (swift build --build-tests)"
swift build --build-tests

# swift test runs in a session of its own, so that every gloveboxd the tests start (they inherit the
# session) can be found and stopped at the end, even if the tests crashed or were interrupted.
sidfile=$(mktemp /tmp/glovebox-test-sid.XXXXXX)
stop_session() {
  local sid
  sid=$(cat "$sidfile" 2>/dev/null || true)
  rm -f "$sidfile"
  [[ $sid =~ ^[0-9]+$ ]] || return 0
  local pids=() stat rest p s
  for p in /proc/[0-9]*; do
    stat=$(cat "$p/stat" 2>/dev/null) || continue
    rest=${stat##*) }  # the fields after "(comm)": state ppid pgrp session ...
    read -r _ _ _ s _ <<<"$rest"
    [[ $s == "$sid" ]] && pids+=("${p#/proc/}")
  done
  ((${#pids[@]})) || return 0
  echo "test: stopping what the tests left running: $(for p in "${pids[@]}"; do printf '%s(%s) ' "$p" "$(cat /proc/"$p"/comm 2>/dev/null)"; done)" >&2
  kill -TERM "${pids[@]}" 2>/dev/null || true  # gloveboxd ends its runs and removes their cgroups on SIGTERM
  for _ in $(seq 100); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    ((alive)) || return 0
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
}
trap stop_session EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== running the tests (swift test)"
log=$repo/.build/glovebox-test.log
mkdir -p "$repo/.build"
set +e
setsid --wait bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$sidfile" swift test </dev/null 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
echo "== swift test exited with status $status (output kept in $log)"
((status == 0)) || exit "$status"

# The benchmark harness in its short mode, on the debug build just made: it must keep working. Its figures
# mean little here (a few iterations, debug code) and nothing is asserted about them; it fails only when
# something in it fails to run. Results go to a temporary directory, not the repository.
echo "== the benchmark harness, short mode (bench/run.sh --short)"
bench_out=$(mktemp -d /tmp/glovebox-bench-results.XXXXXX)
set +e
BUILD=debug NO_BUILD=1 OUT=$bench_out bash "$repo/bench/run.sh" --short
bench_status=$?
set -e
rm -rf "$bench_out"
echo "== bench/run.sh --short exited with status $bench_status"
exit "$bench_status"
