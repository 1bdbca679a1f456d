#!/usr/bin/env bash
# attack-suite.sh: runs the containment suite (Tests/GloveboxTests/AttackSuiteTests.swift, one program of
# attacks/ per attack, each through a real gloveboxd under the default template) and prints its results as
# a Markdown table: attack | class | expected | observed | pass. Exits with `swift test`'s status.
# Runs as root, on a machine where scripts/test.sh works (its dependencies installed).
# Usage: sudo scripts/attack-suite.sh            (GLOVEBOX_SCRATCH=DIR picks swift's scratch path, default .build)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "attack-suite: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root: the suite starts gloveboxd (try: sudo $0)"
command -v swift >/dev/null 2>&1 || { [[ -x /opt/swift/usr/bin/swift ]] && PATH=/opt/swift/usr/bin:$PATH; }
command -v swift >/dev/null 2>&1 || die "swift is not on PATH (nor in /opt/swift/usr/bin)"
scratch=${GLOVEBOX_SCRATCH:-$repo/.build}

cd "$repo"
report=$(mktemp /tmp/glovebox-attacks.XXXXXX)
log=$(mktemp /tmp/glovebox-attacks-log.XXXXXX)
trap 'rm -f "$report" "$log"' EXIT

echo "== building (swift build --build-tests)" >&2
swift build --build-tests --scratch-path "$scratch" >&2
echo "== running AttackSuiteTests" >&2
start=$(date +%s)
set +e
GLOVEBOX_ATTACK_REPORT=$report swift test --skip-build --scratch-path "$scratch" --filter AttackSuiteTests </dev/null >"$log" 2>&1
status=$?
set -e
seconds=$(($(date +%s) - start))
grep -E "error:|Executed .* tests" "$log" | sort -u >&2 || true

echo "Containment suite, $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -n): Linux $(uname -r) $(uname -m), $(nproc) CPUs," \
  "$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"); $(awk -F'\t' 'END { print NR }' "$report") attacks in ${seconds} s" \
  "(swift test exited $status)."
echo
echo "| attack | class | expected | observed | pass |"
echo "|---|---|---|---|---|"
sort -t$'\t' -k2,2 -k1,1 "$report" | awk -F'\t' '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }'
# A test that failed before it ran its attack has no row: say so.
failed_without_row=$( (grep -oE "AttackSuiteTests\.test[A-Za-z]+' failed" "$log" || true) | wc -l)
rows_failed=$(awk -F'\t' '$5 != "yes"' "$report" | wc -l)
((failed_without_row <= rows_failed)) || echo "(some tests failed before their attack ran: see swift test's output)"
exit "$status"
