#!/usr/bin/env bash
# Shows, on a machine with NVIDIA GPUs, that a CUDA program in a glovebox run sees exactly the GPU it
# leased and none of the others, that a run without a lease sees no GPU, and that two runs never hold
# the same GPU at once. Needs root, the NVIDIA driver, /usr/bin/python3 and statically linked gloveboxd
# and glovebox in BIN (default: gpu-bin/). Writes its report to $OUT (default /tmp/gpu-check).
set -u
BIN=$(cd "${1:-gpu-bin}" && pwd)
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
# Shared libraries the binaries need, from BIN where the host lacks them.
if ldd "$BIN/gloveboxd" | grep -q "not found"; then export LD_LIBRARY_PATH=$BIN; fi
exec > >(tee "$OUT/report.txt") 2>&1
here=$(cd "$(dirname "$0")" && pwd)

echo "== the host"
uname -r; id; head -3 /proc/self/cgroup
nvidia-smi -L || echo "(no nvidia-smi)"
ls -l /dev/nvidia* 2>&1

# gloveboxd needs the memory, pids and cpu controllers delegated to a cgroup it has to itself
# (Delegate=yes under systemd). Where this script's cgroup lacks them, the daemon starts alone in a
# cgroup of its own under the root, where they can be enabled.
own=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)
echo "cgroup $own: controllers $(cat "$own/cgroup.controllers" 2>&1); the root enables: $(cat /sys/fs/cgroup/cgroup.subtree_control 2>&1)"
delegate=""
for c in memory pids cpu; do
  if ! grep -qw $c "$own/cgroup.controllers" 2>/dev/null; then
    echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || echo "cannot enable $c at the root"
    delegate=/sys/fs/cgroup/glovebox-gpu-check
  fi
done
[ -n "$delegate" ] && mkdir -p "$delegate" && echo "gloveboxd starts alone in $delegate"

T=$(mktemp -d /var/tmp/glovebox-gpu.XXXXXX); chmod 755 "$T"
trap 'kill -TERM $daemon 2>/dev/null; wait $daemon 2>/dev/null; cp "$T/gloveboxd.log" "$OUT/" 2>/dev/null; rm -rf "$T"; [ -n "$delegate" ] && rmdir "$delegate/supervisor" "$delegate" 2>/dev/null' EXIT
mkdir "$T/policies" "$T/work"
cp "$here/gpu-probe.py" "$T/work/probe.py"
cat > "$T/policies/gpu.toml" <<'TOML'
description = "one GPU"
[limits]
timeout = "3m"
memory = "16GiB"
pids = 512
cpus = 4
storage = "1GiB"
gpus = 1
[filesystem]
read_only = ["/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc/alternatives"]
[environment]
set = { PATH = "/usr/bin:/bin", HOME = "/workspace", LANG = "C.UTF-8" }
[access]
users = ["*"]
TOML
sh -c '[ -z "$1" ] || echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$delegate" \
  "$BIN/gloveboxd" --socket "$T/sock" --state-dir "$T/state" --policy-dir "$T/policies" --log-level info >"$T/gloveboxd.log" 2>&1 &
daemon=$!
for _ in $(seq 100); do [ -S "$T/sock" ] && break; sleep 0.1; done
[ -S "$T/sock" ] || { echo "gloveboxd did not start:"; cat "$T/gloveboxd.log"; exit 1; }
export GLOVEBOX_SOCKET=$T/sock
G=$BIN/glovebox

echo; echo "== a run that leases one GPU"
$G run --template gpu --workdir "$T/work" -- /usr/bin/python3 probe.py; echo "exit $?"
echo; echo "== a run without a lease (--gpus 0)"
$G run --template gpu --gpus 0 --workdir "$T/work" -- /usr/bin/python3 probe.py; echo "exit $?"
echo; echo "== nvidia-smi inside a run with a lease"
$G run --template gpu -- /usr/bin/nvidia-smi -L; echo "exit $?"
echo; echo "== two runs asking for a GPU at once: the second waits for the first's lease"
$G run --template gpu --workdir "$T/work" -- /usr/bin/python3 probe.py 3 & first=$!
sleep 1
$G run --template gpu --workdir "$T/work" -- /usr/bin/python3 probe.py; echo "second exit $?"
wait $first; echo "first exit $?"
echo; echo "== the audit log"
$G audit
echo; echo "== gloveboxd's log"
cat "$T/gloveboxd.log"
