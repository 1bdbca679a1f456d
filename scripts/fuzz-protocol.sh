#!/bin/sh
# A longer run of the socket-protocol fuzzer (Tests/GloveboxTests/ProtocolFuzzTests.swift) against a real
# gloveboxd. Needs root (the daemon, setpriv for the unprivileged and idle clients). Prints the cases run,
# the outcomes by kind, and the daemon's RSS, threads and descriptors before, during and after.
#
#   FUZZ_CASES=100000 FUZZ_SEED=0x1234 scripts/fuzz-protocol.sh
#   FUZZ_MALLOC_ARENA_MAX=default scripts/fuzz-protocol.sh   # glibc's own arena count, as in production
#
# Environment: FUZZ_CASES (default 100000), FUZZ_SEED, FUZZ_IDLE (idle connections, default 300),
# FUZZ_MALLOC_ARENA_MAX (default 2), FUZZ_ONLY (one generated case), SCRATCH (build path, default .build-fuzz).
set -eu
cd "$(dirname "$0")/.."
: "${FUZZ_CASES:=100000}"
: "${SCRATCH:=.build-fuzz}"
export FUZZ_CASES
swift build --build-tests --scratch-path "$SCRATCH" >/dev/null
start=$(date +%s)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift test --skip-build --scratch-path "$SCRATCH" \
    --filter ProtocolFuzzTests/testThousandsOfBadRequestsGetClearErrorsAndTheDaemonKeepsServingInBoundedMemory >"$log" 2>&1 || status=$?
grep -E '^(protocol fuzz|  |case |.*error:|.*(passed|failed) \()' "$log" || cat "$log"
echo "fuzz-protocol: $(( $(date +%s) - start )) s in all"
exit "$status"
