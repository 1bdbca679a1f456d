#!/usr/bin/env bash
# demo.sh: installs the dependencies, builds Glovebox, starts gloveboxd from the build directory with
# the repository's policies, runs the demo experiment (demo/experiment.py) under the default policy,
# then shows what the sandbox refused. Installs nothing of Glovebox system-wide; the daemon, its
# socket and its state live in a temporary directory removed at the end (also on failure or Ctrl-C).
# Usage: sudo scripts/demo.sh            (about 1 minute after the build)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "demo: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root: gloveboxd creates namespaces, cgroups and mounts (try: sudo $0)"
command -v swift >/dev/null 2>&1 || { [[ -x /opt/swift/usr/bin/swift ]] && PATH=/opt/swift/usr/bin:$PATH; }

bash "$repo/scripts/install-deps.sh"
cd "$repo"
# A debug build: measured on a 2-core machine, a clean debug build takes less time than a release one,
# and the sandbox's speed does not depend on it (the experiment runs at native speed either way).
echo "== building (swift build, debug)"
swift build
bin=$(swift build --show-bin-path)

tmp=$(mktemp -d /tmp/glovebox-demo.XXXXXX)
chmod 755 "$tmp"
listener=0
source "$repo/scripts/lib/demo-daemon.sh"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if ((listener > 0)); then kill "$listener" 2>/dev/null || true; fi
  demo_daemon_stop demo "$rc"
  rm -rf --one-file-system "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

demo_daemon_start "$bin" "$tmp" "$repo/policies" || die "gloveboxd did not start"
socket=$demo_socket
export GLOVEBOX_SOCKET=$socket
glovebox=$bin/glovebox

# The experiment's directory, as a client would have it. The sandbox sees a copy-on-write view of it.
work=$tmp/work
cp -R "$repo/demo" "$work"
chmod -R u=rwX,go=rX "$work"

# summary FILE: one line from a run's JSON record
summary() {
  /usr/bin/python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
parts = [f'run {r["id"]}: status {r["status"]}']
if r["exit_code"] is not None: parts.append(f'exit code {r["exit_code"]}')
if r["signal"] is not None: parts.append(f'signal {r["signal"]}')
parts.append("limits hit: " + (", ".join(r["limits_hit"]) or "none"))
if r["wall_seconds"] is not None: parts.append(f'wall {r["wall_seconds"]:.2f} s')
if r["peak_memory_bytes"] is not None: parts.append(f'peak memory {r["peak_memory_bytes"] / 2**20:.1f} MiB')
if r["message"]: parts.append(f'message: {r["message"]}')
print("   -> " + "; ".join(parts))
PY
}

n=0
# run TITLE [glovebox run options...] -- PROGRAM...: runs it, prints glovebox's exit status and the record
run() {
  local title=$1; shift
  n=$((n + 1))
  local record=$tmp/record-$n.json rc=0
  echo
  echo "== $title"
  "$glovebox" run --workdir "$work" --record "$record" "$@" || rc=$?
  echo "   -> glovebox exit status $rc"
  if [[ -s $record ]]; then summary "$record"; fi
}

echo
echo "== the experiment: demo/experiment.py under the default policy, its out/ directory carried back"
rc=0
"$glovebox" run --template default --workdir "$work" --output out --record "$tmp/experiment.json" \
  -- /usr/bin/python3 experiment.py --out_dir out || rc=$?
echo "   -> glovebox exit status $rc"
summary "$tmp/experiment.json"
((rc == 0)) || die "the experiment failed"
echo "   out/final_info.json, written by the sandboxed run and carried back to the client:"
sed 's/^/     /' "$work/out/final_info.json"
run_id=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$tmp/experiment.json")
echo
echo "== glovebox show $run_id (the daemon's record of the experiment)"
"$glovebox" show "$run_id"

echo
echo "== what the sandbox allowed and refused (each probe is one glovebox run of demo/probe.py)"
# A service on the host's loopback, reachable from the host but not from the sandbox (its own loopback).
/usr/bin/python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); s.settimeout(120)
print(s.getsockname()[1], flush=True)
while True:
    s.accept()[0].close()' >"$tmp/port" &
listener=$!
for _ in $(seq 50); do [[ -s $tmp/port ]] && break; sleep 0.1; done
port=$(cat "$tmp/port")
echo "   on the host: $(/usr/bin/python3 "$work/probe.py" connect 127.0.0.1 "$port")"

run "who the program is: uid, hostname, interfaces, capabilities, no_new_privs, seccomp mode" \
  -- /usr/bin/python3 probe.py identity
run "network: the internet and a service on the host's 127.0.0.1:$port" \
  -- /bin/sh -c "/usr/bin/python3 probe.py connect 1.1.1.1 53; /usr/bin/python3 probe.py connect 127.0.0.1 $port"
run "files: /etc/shadow (not mounted) and /usr (read-only)" \
  -- /bin/sh -c "/usr/bin/python3 probe.py read /etc/shadow; /usr/bin/python3 probe.py write /usr/pwned"
export OPENAI_API_KEY=sk-demo-not-a-real-key
echo
echo "   (the client now has OPENAI_API_KEY=$OPENAI_API_KEY in its environment)"
run "environment: the client's OPENAI_API_KEY does not reach the run" \
  -- /usr/bin/python3 probe.py env OPENAI_API_KEY
unset OPENAI_API_KEY
run "seccomp: namespaces, mounts and ptrace" \
  -- /usr/bin/python3 probe.py syscalls
run "a fork bomb under --pids 64" --pids 64 \
  -- /usr/bin/python3 probe.py forkbomb
run "writing 96 MiB to /tmp under --storage 32MiB" --storage 32MiB \
  -- /usr/bin/python3 probe.py fill /tmp
run "a memory hog under --memory 128MiB" --memory 128MiB \
  -- /usr/bin/python3 probe.py memory
run "sleep 60 under --timeout 2s" --timeout 2s \
  -- /usr/bin/sleep 60
run "a request looser than the policy: --memory 64GiB (the default policy allows 1 GiB)" --memory 64GiB \
  -- /usr/bin/true

echo
echo "== done: gloveboxd stops now (SIGTERM) and $tmp is removed"
