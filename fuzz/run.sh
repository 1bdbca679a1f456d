#!/usr/bin/env bash
# fuzz/run.sh: builds and runs the in-process libFuzzer harnesses (fuzz/README.md), each for a while.
# Usage: fuzz/run.sh [SECONDS] [HARNESS...]     (default: 60 seconds each; both harnesses)
# Harnesses: policy-files (policy and daemon TOML), wire-messages (frames and request JSON).
# Crashes are written to .build-libfuzzer/crashes/<harness>/ and make the script exit 1; the corpus grows in
# .build-libfuzzer/corpus/<harness>/, seeded from policies/*.toml and from tests' requests.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-60}
shift || true
harnesses=("$@")
((${#harnesses[@]})) || harnesses=(policy-files wire-messages)
command -v swift >/dev/null 2>&1 || PATH=/opt/swift/usr/bin:$PATH
scratch=$repo/.build-libfuzzer
cd "$repo"

seed_corpus() {
  local harness=$1 dir=$scratch/corpus/$1
  mkdir -p "$dir"
  case $harness in
    policy-files) cp policies/*.toml systemd/gloveboxd.toml "$dir"/ ;;
    wire-messages)
      # A run request and a show request as the client frames them: a 4-byte big-endian length of what follows,
      # the kind byte, the JSON.
      printf '\x00\x00\x00\x29\x01{"template":"python","argv":["python3"]}' >"$dir/run"
      printf '\x00\x00\x00\x0c\x03{"runID":1}' >"$dir/show" ;;
  esac
}

status=0
for harness in "${harnesses[@]}"; do
  echo "== fuzz-$harness: building (--sanitize=fuzzer, $scratch)"
  GLOVEBOX_FUZZ=1 swift build --scratch-path "$scratch" --sanitize=fuzzer --product "fuzz-$harness"
  seed_corpus "$harness"
  crashes=$scratch/crashes/$harness
  mkdir -p "$crashes"
  echo "== fuzz-$harness: $seconds s"
  set +e
  # The Swift runtime's backtracer would catch a crash first and exit without libFuzzer keeping the input.
  SWIFT_BACKTRACE=enable=no "$scratch/debug/fuzz-$harness" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "$scratch/corpus/$harness"
  rc=$?
  set -e
  if ((rc != 0)); then
    echo "fuzz-$harness: failed (exit $rc); the input is in $crashes" >&2
    status=1
  fi
done
exit "$status"
