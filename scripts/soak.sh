#!/usr/bin/env bash
# soak.sh: a soak test of gloveboxd. Starts a daemon from the build directory (socket, state and config
# in a temporary directory, policies from <repo>/policies), then
#   phase A: N_SEQ runs one after another,
#   phase B: N_CONC runs from 10 concurrent clients,
# each run `glovebox run -- /bin/sh -c 'echo $$'`, with every 10th run through --workdir/--output and
# every 50th under --template python --storage 300MiB (an ext4 volume on a loop device). Before, between
# and after the phases it records the daemon's memory, threads and descriptors, the mounts, loop
# devices, cgroups and run directories left, and the runs recorded; it prints a table and exits 1 if
# anything leaked or a run failed, 0 otherwise. The daemon is stopped and everything removed at the end.
#
# Usage: sudo scripts/soak.sh
# Environment: N_SEQ (1000), N_CONC (200), CONCURRENCY (10), N_WARM (30), RSS_BOUND_KIB (20480: the
#   most the daemon's VmRSS may grow from after the warm-up to the end), BUILD (release | debug),
#   SCRATCH (swift build --scratch-path), NO_BUILD=1 (use what is built), KEEP=1 (keep the temp dir).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "soak: $*" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || die "must run as root: gloveboxd creates namespaces, cgroups and mounts (try: sudo $0)"
command -v swift >/dev/null 2>&1 || { [[ -x /opt/swift/usr/bin/swift ]] && PATH=/opt/swift/usr/bin:$PATH; }
for tool in sqlite3 findmnt losetup; do command -v "$tool" >/dev/null || die "$tool is missing (apt-get install sqlite3 util-linux mount)"; done

N_SEQ=${N_SEQ:-1000}
N_CONC=${N_CONC:-200}
CONCURRENCY=${CONCURRENCY:-10}
N_WARM=${N_WARM:-30}
RSS_BOUND_KIB=${RSS_BOUND_KIB:-20480}
FD_SLACK=2
BUILD=${BUILD:-release}
[[ $BUILD == release || $BUILD == debug ]] || die "BUILD must be release or debug"

cd "$repo"
build_args=(-c "$BUILD")
[[ -n ${SCRATCH:-} ]] && build_args+=(--scratch-path "$SCRATCH")
if [[ -z ${NO_BUILD:-} ]]; then
  echo "== building (swift build ${build_args[*]})"
  swift build "${build_args[@]}" --product gloveboxd
  swift build "${build_args[@]}" --product glovebox
fi
bin=$(swift build "${build_args[@]}" --show-bin-path)
[[ -x $bin/gloveboxd && -x $bin/glovebox ]] || die "no gloveboxd/glovebox in $bin"

tmp=$(mktemp -d /var/tmp/glovebox-soak.XXXXXX)
chmod 755 "$tmp"
socket=$tmp/glovebox.sock
state=$tmp/state
daemon=0 sampler_pid=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if ((sampler_pid > 0)); then kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; fi
  if ((daemon > 0)) && kill -0 "$daemon" 2>/dev/null; then
    kill -TERM "$daemon"
    for _ in $(seq 100); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$daemon" 2>/dev/null; then echo "soak: gloveboxd did not stop in 10 s; killing it" >&2; kill -KILL "$daemon" 2>/dev/null || true; fi
    wait "$daemon" 2>/dev/null || true
  fi
  if ((rc != 0)) && [[ -s $tmp/gloveboxd.log ]]; then
    echo "soak: exit $rc; the end of gloveboxd's log (warnings and errors):" >&2
    grep -Ei 'warning|error|critical' "$tmp/gloveboxd.log" | tail -n 20 >&2 || true
  fi
  if [[ -n ${KEEP:-} ]]; then echo "soak: kept $tmp" >&2; else rm -rf --one-file-system "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cat >"$tmp/gloveboxd.toml" <<'EOF'
[caps]
user_concurrent_runs = 16
user_runs_per_hour = 100000
runs_per_hour = 100000
EOF

echo "== starting gloveboxd ($BUILD build; socket and state in $tmp, policies from $repo/policies)"
"$bin/gloveboxd" --config "$tmp/gloveboxd.toml" --socket "$socket" --state-dir "$state" --policy-dir "$repo/policies" \
  --log-level info </dev/null >"$tmp/gloveboxd.log" 2>&1 &
daemon=$!
for _ in $(seq 200); do
  [[ -S $socket ]] && break
  kill -0 "$daemon" 2>/dev/null || die "gloveboxd exited at start: $(tail -n 5 "$tmp/gloveboxd.log")"
  sleep 0.1
done
[[ -S $socket ]] || die "gloveboxd did not create $socket in 20 s"
instance=glovebox-$(printf '%s' "$state" | sha256sum | cut -c1-12)

# The client's working directory for the --workdir runs.
work=$tmp/work
mkdir -p "$work"
echo "input" >"$work/input.txt"
chmod -R u=rwX,go=rX "$work"

export GLOVEBOX_SOCKET=$socket GLOVEBOX=$bin/glovebox WORK=$work FAILURES=$tmp/failures
: >"$FAILURES"

# one_run I: run number I (1-based within its phase); appends a line to $FAILURES when it goes wrong.
one_run() {
  local i=$1 out rc=0 expected=2
  if ((i % 50 == 0)); then
    # A storage cap above 256 MiB: an ext4 image on a loop device. Write to it a little.
    out=$("$GLOVEBOX" run --template python --storage 300MiB -- /bin/sh -c 'head -c 1048576 /dev/zero >/tmp/f && echo $$' 2>&1) || rc=$?
  elif ((i % 10 == 0)); then
    local name="out-$BASHPID-$i.txt"
    out=$("$GLOVEBOX" run --workdir "$WORK" --output "$name" -- /bin/sh -c "cat input.txt >/dev/null && echo \$\$ | tee $name" 2>&1) || rc=$?
    if ((rc == 0)) && [[ $(cat "$WORK/$name" 2>/dev/null) != 2 ]]; then rc=99; out="$out (output file missing or wrong)"; fi
    rm -f "$WORK/$name"
  else
    out=$("$GLOVEBOX" run -- /bin/sh -c 'echo $$' 2>&1) || rc=$?
  fi
  if ((rc != 0)) || [[ $out != "$expected" ]]; then
    printf 'run %s: status %s: %s\n' "$i" "$rc" "$(printf '%s' "$out" | tr '\n' ' ' | cut -c1-300)" >>"$FAILURES"
  fi
  return 0
}
export -f one_run

# --- measurements -------------------------------------------------------------------------------------

declare -A M  # M[label,key]
labels=()
field() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$daemon/status"; }
runs_with_status() { sqlite3 "$state/glovebox.db" "SELECT count(*) FROM runs WHERE status $1" 2>/dev/null || echo "?"; }
# Other gloveboxd instances (test suites) may be running on the host: the mount and loop counts that
# decide are those under this daemon's temporary directory; the host-wide ones are shown as well.
measure_leaks() {  # the counts that must return to zero (or baseline) once the daemon is idle
  L_fd=$(ls "/proc/$daemon/fd" | wc -l)
  L_hostmnt=$(findmnt -rn -o TARGET,SOURCE,FSTYPE | grep -c glovebox || true)
  L_ourmnt=$(findmnt -rn -o TARGET,SOURCE,FSTYPE | grep -cF "$tmp" || true)
  L_nsmnt=$(wc -l <"/proc/$daemon/mountinfo")
  # The daemon's own tmpfs for the runs' directories, at <state>/runs, is there for its whole life: not a run's.
  # A second mount stacked on it is counted.
  L_nsgb=$(awk -v under="$tmp/" -v own="$state/runs" 'index($5, under) == 1 { if ($5 == own) o++; else n++ } END { print n + (o > 1 ? o - 1 : 0) }' "/proc/$daemon/mountinfo")
  L_hostloop=$(losetup -a | wc -l)
  L_loop=$(losetup -a | grep -cF "$tmp" || true)
  # find exits 1 when a directory goes away under it (runs end, other daemons' cgroups come and go).
  L_cg=$( { find /sys/fs/cgroup -path "*/$instance/*" -type d -name 'run-*' 2>/dev/null || true; } | wc -l)
  L_rundirs=$( { find "$state/runs" -mindepth 1 -maxdepth 1 2>/dev/null || true; } | wc -l)
}
snapshot() {  # snapshot LABEL: waits (up to 10 s) for the runs' teardown to settle, then records
  local label=$1 previous_fd=-1
  for _ in $(seq 50); do
    measure_leaks
    # Settled: nothing of a run left, and the daemon's descriptors the same as 0.2 s before (the warm
    # sandbox of the last run's kind, with its cgroups and sockets, is made by a thread of its own after
    # the run's cleanup).
    ((L_cg == 0 && L_rundirs == 0 && L_nsgb == 0 && L_ourmnt == 0 && L_loop == 0 && L_fd == previous_fd)) && break
    previous_fd=$L_fd
    sleep 0.2
  done
  labels+=("$label")
  M[$label,rss]=$(field VmRSS)
  M[$label,hwm]=$(field VmHWM)
  M[$label,threads]=$(field Threads)
  M[$label,fd]=$L_fd
  M[$label,hostmnt]=$L_hostmnt
  M[$label,ourmnt]=$L_ourmnt
  M[$label,nsmnt]=$L_nsmnt
  M[$label,nsgb]=$L_nsgb
  M[$label,hostloop]=$L_hostloop
  M[$label,loop]=$L_loop
  M[$label,cg]=$L_cg
  M[$label,rundirs]=$L_rundirs
  M[$label,ok]=$(runs_with_status "= 'ok'")
  M[$label,notok]=$(runs_with_status "!= 'ok'")
}

# run_phase NAME COUNT PARALLEL: runs COUNT runs, PARALLEL at a time; sets M[NAME,secs] and M[NAME,rate].
run_phase() {
  local name=$1 count=$2 parallel=$3 t0 t1
  echo "== $name: $count runs, $parallel at a time"
  t0=$(date +%s.%N)
  if ((parallel == 1)); then
    for i in $(seq "$count"); do one_run "$i"; done
  else
    seq "$count" | xargs -P "$parallel" -n 1 bash -c 'one_run "$1"' _
  fi
  t1=$(date +%s.%N)
  M[$name,secs]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  M[$name,rate]=$(awk -v a="$t0" -v b="$t1" -v n="$count" 'BEGIN { printf "%.1f", n / (b - a) }')
  M[$name,count]=$count
  echo "   ${M[$name,secs]} s, ${M[$name,rate]} runs/s, $(wc -l <"$FAILURES") failures so far"
}

# While the runs go on, a sampler notes what is in flight (the mounts in the daemon's namespace, loop devices, run
# cgroups and run directories, every 0.2 s): the peaks show that the counts above do see a run's pieces.
sampler() {
  set +e
  while kill -0 "$daemon" 2>/dev/null; do
    measure_leaks
    echo "$L_nsgb $L_loop $L_cg $L_rundirs" >>"$tmp/samples"
    sleep 0.2
  done
}
peaks() {  # peaks LABEL: the largest sampled counts since the last call
  local label=$1
  read -r M[$label,pmnt] M[$label,ploop] M[$label,pcg] M[$label,prun] < <(
    awk '{ for (i = 1; i <= 4; i++) if ($i > m[i]) m[i] = $i } END { print m[1] + 0, m[2] + 0, m[3] + 0, m[4] + 0 }' "$tmp/samples" 2>/dev/null || echo 0 0 0 0)
  : >"$tmp/samples"
}

snapshot start
peaks start
sampler &
sampler_pid=$!
run_phase warm-up "$N_WARM" 1   # every code path once (30: workdir at 10, 20, 30; no loop); then a loop run
one_run 50
peaks warm
snapshot warm
run_phase A "$N_SEQ" 1
peaks after-A
snapshot after-A
run_phase B "$N_CONC" "$CONCURRENCY"
peaks after-B
kill "$sampler_pid" 2>/dev/null || true
wait "$sampler_pid" 2>/dev/null || true
snapshot after-B

# --- report -------------------------------------------------------------------------------------------

echo
echo "== gloveboxd ($BUILD) on $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-32s' "measure"; for l in "${labels[@]}"; do printf '%12s' "$l"; done; echo
row() { printf '%-32s' "$1"; for l in "${labels[@]}"; do printf '%12s' "${M[$l,$2]}"; done; echo; }
row "VmRSS (KiB)" rss
row "VmHWM (KiB)" hwm
row "threads" threads
row "open descriptors" fd
row "host mounts, this daemon's" ourmnt
row "host mounts with glovebox" hostmnt
row "daemon mountinfo lines" nsmnt
row "daemon mountinfo, its own" nsgb
row "loop devices, this daemon's" loop
row "loop devices (losetup -a)" hostloop
row "run cgroups" cg
row "dirs in state/runs" rundirs
row "in flight: mounts in ns (peak)" pmnt
row "in flight: loops (peak)" ploop
row "in flight: cgroups (peak)" pcg
row "in flight: run dirs (peak)" prun
row "runs recorded ok" ok
row "runs recorded not ok" notok
echo
for p in A B; do echo "phase $p: ${M[$p,count]} runs in ${M[$p,secs]} s = ${M[$p,rate]} runs/s"; done
rss_growth=$(( M[after-B,rss] - M[warm,rss] ))
echo "VmRSS growth from after the warm-up to the end: $rss_growth KiB (bound $RSS_BOUND_KIB KiB)"

problems=()
total=$(( N_WARM + 1 + N_SEQ + N_CONC ))
(( $(wc -l <"$FAILURES") == 0 )) || problems+=("$(wc -l <"$FAILURES") runs failed; the first: $(head -n 3 "$FAILURES")")
[[ ${M[after-B,ok]} == "$total" ]] || problems+=("${M[after-B,ok]} runs recorded ok, expected $total")
[[ ${M[after-B,notok]} == 0 ]] || problems+=("${M[after-B,notok]} runs recorded with another status")
for l in after-A after-B; do
  d=$(( M[$l,fd] - M[warm,fd] )); (( d >= -FD_SLACK && d <= FD_SLACK )) || problems+=("descriptors $l: ${M[$l,fd]}, after the warm-up ${M[warm,fd]}")
  (( M[$l,ourmnt] == 0 )) || problems+=("host mounts of this daemon left $l: ${M[$l,ourmnt]}")
  (( M[$l,nsgb] == 0 )) || problems+=("mounts of this daemon in its mount namespace left $l: ${M[$l,nsgb]}")
  (( M[$l,loop] == 0 )) || problems+=("loop devices of this daemon left $l: ${M[$l,loop]}")
  (( M[$l,cg] == 0 )) || problems+=("run cgroups left $l: ${M[$l,cg]}")
  (( M[$l,rundirs] == 0 )) || problems+=("run directories left $l: ${M[$l,rundirs]}")
done
(( rss_growth <= RSS_BOUND_KIB )) || problems+=("VmRSS grew by $rss_growth KiB (bound $RSS_BOUND_KIB KiB)")
if ((${#problems[@]} > 0)); then
  echo
  echo "LEAKED OR FAILED:"
  printf '  - %s\n' "${problems[@]}"
  exit 1
fi
echo "no leaks: descriptors within ±$FD_SLACK of the warm-up's, no mounts, loop devices, cgroups or run directories left, all $total runs ok"
