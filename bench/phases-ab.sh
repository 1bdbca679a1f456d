#!/usr/bin/env bash
# bench/phases-ab.sh: where a run's time goes, for two builds of gloveboxd side by side (BENCHMARKS.md,
# "Where a run's time goes"). Starts a private daemon from each build (--log-level debug, the
# repository's policies), runs `glovebox run -- /bin/true` alternately against them, each run after GAP
# seconds of idle, and prints each daemon's median of every phase of its `run phases` log line.
#
# Usage: sudo bench/phases-ab.sh OLD_BIN_DIR NEW_BIN_DIR [RUNS (100)] [GAP seconds (0)]
#   a BIN_DIR holds gloveboxd and glovebox-init (scripts/build-release.sh prints DAEMON_BIN); the client
#   is the one in CLIENT_BIN (default: the static client scripts/build-release.sh builds).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $# -ge 2 ]] || { sed -n '2,10p' "$0" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "phases-ab: must run as root" >&2; exit 2; }
runs=${3:-100}
gap=${4:-0}
client=${CLIENT_BIN:-$repo/.build/static-client/x86_64-unknown-linux-gnu/release}/glovebox
[[ -x $client ]] || { echo "phases-ab: no client at $client (run scripts/build-release.sh)" >&2; exit 2; }

work=$(mktemp -d /var/tmp/glovebox-phases.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

for side in old new; do
    bin=$1; [[ $side == new ]] && bin=$2
    mkdir "$work/$side"
    printf '[caps]\nuser_concurrent_runs = 16\nuser_runs_per_hour = 1000000\nruns_per_hour = 1000000\n' > "$work/$side/config.toml"
    "$bin/gloveboxd" --config "$work/$side/config.toml" --socket "$work/$side/socket" --state-dir "$work/$side/state" \
        --policy-dir "$repo/policies" --log-level debug > "$work/$side/log" 2>&1 &
    pids+=($!)
done
for _ in $(seq 150); do [[ -S $work/old/socket && -S $work/new/socket ]] && break; sleep 0.1; done

warmup=5
for i in $(seq $((warmup + runs))); do
    for side in old new; do
        [[ $i -gt $warmup ]] && sleep "$gap"
        GLOVEBOX_SOCKET=$work/$side/socket "$client" run -- /bin/true
    done
done
for side in old new; do
    python3 "$repo/bench/phases.py" "$work/$side/log" "$warmup" "$side"
done
