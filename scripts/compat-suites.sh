#!/usr/bin/env bash
# compat-suites.sh: runs NumPy's and SciPy's own test suites (Debian's python3-numpy and python3-scipy,
# under python3-pytest) twice each as the unprivileged user nobody: once outside, straight on the host,
# and once inside a glovebox run, against a gloveboxd this script starts from the build directory
# (like scripts/demo.sh: its socket, state and policy in a temporary directory) under a generous
# policy of its own, `compat` (3 h, 8 GiB or less, 4096 pids, every CPU, 16 GiB storage). Then it
# prints the two sets of counts side by side (passed, failed, skipped, xfailed, xpassed, errors, wall
# time), one line per suite, and for each suite whose results differ the tests whose outcome differs
# (from pytest's JUnit XML and its -rfE lines), with the failure message. The differences that are
# expected are those SECURITY.md explains (no network, no /sys, a minimal /dev, seccomp, ...): judge
# each one against it.
#
# Usage: sudo scripts/compat-suites.sh [--quick] [numpy|scipy ...]
#   --quick       a subset of each suite (see quick_numpy, quick_scipy below), to try the script itself
#   numpy scipy   the suites to run (default: both)
#   OUT=DIR       keep the outputs there (default: a new /tmp/glovebox-compat-out.XXXXXX, printed at the end):
#                 each run's full pytest output (SUITE-outside.log, SUITE-inside.log), its JUnit XML, the
#                 inside runs' records, the policy, gloveboxd's log and the table (summary.txt)
# Exit status: 0 when both runs of every suite gave the same counts and the same tests failed or
# errored; 1 when they did not; 2 on a setup error (not root, packages, daemon, refusal, no summary
# outside).
#
# Installs python3-numpy, python3-scipy, python3-pytest and python3-hypothesis (numpy's conftest.py
# imports hypothesis) when missing. Uses the gloveboxd, glovebox and glovebox-init already built in
# .build/debug, or in BIN=DIR (another build, to compare; it does not build; copies them first, so a rebuild
# meanwhile does not change them).
# The environment is the same in both runs: PATH, HOME (the scratch directory, /workspace inside),
# LANG/LC_ALL=C.UTF-8, PYTHONDONTWRITEBYTECODE=1, OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = the
# number of CPUs, and NPY_AVAILABLE_MEM = the policy's memory limit. NumPy's big-memory tests
# (requires_memory: 6 to 18 GB) otherwise size themselves from /proc/meminfo's MemAvailable, which is the
# host's inside a run as outside: inside, one that needs more than the limit ends the whole suite at the
# memory limit; outside, it may take the host's memory (20 GiB for test_big_arrays).
# pytest runs from a scratch directory of nobody's in /var/tmp (a fresh one per run; inside, a
# copy-on-write view of it), with no cache and no ini file (-c /dev/null), and writes nothing into /usr.
# Each run has an empty /tmp of its own on disk: inside, the run's storage volume (16 GiB, ext4 on a loop
# device); outside, a fresh directory beside the scratch directory, bound on /tmp in a private mount
# namespace (unshare -m; nothing else of the host is hidden), so that the outside run leaves nothing in
# the host's /tmp (pytest-of-nobody, hypothesis' cache) and starts as clean. NumPy's file tests write
# more than 4 GiB there (test_large_zip, TestSavezLoad::test_big_arrays, a sparse 5 GB file): with a
# smaller /tmp, which of them fail with ENOSPC depends on the filesystem and on the order files go.
#
# How long, on a 2-core machine (debug build of gloveboxd), measured: --quick takes 5 minutes in all:
# numpy 41 s outside, 71 s inside (of which 29 s are a forked child of test_xerbla_override going on with
# the suite after it failed inside), scipy 91 s outside, 96 s inside. The whole suites, estimated from
# their subpackages' times outside: numpy ~7 min and scipy ~10 min a run, so 35 to 45 minutes in all.
# Collection errors of optional modules Debian does not pull in (typing_extensions for numpy.typing,
# pooch for scipy.datasets) count as errors on both sides.
# Not part of scripts/test.sh (nor of the default test run); run it by hand, e.g. before and after a
# change to the sandbox's allow-lists.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "compat-suites: $*" >&2; exit 2; }
usage() { sed -n 's/^# \{0,1\}//; 13,21p' "${BASH_SOURCE[0]}"; }

quick=0 suites=()
for a in "$@"; do
  case $a in
    --quick) quick=1 ;;
    numpy | scipy) [[ " ${suites[*]-} " == *" $a "* ]] || suites+=("$a") ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $a" ;;
  esac
done
((${#suites[@]} > 0)) || suites=(numpy scipy)

[[ $(id -u) -eq 0 ]] || die "must run as root: gloveboxd creates namespaces, cgroups and mounts (try: sudo $0)"

# --- packages (as scripts/install-deps.sh: dpkg-query first, apt-get only for what is missing) -------
packages=(python3 python3-numpy python3-scipy python3-pytest python3-hypothesis)
installed() { [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) == ii* ]]; }
missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
if ((${#missing[@]} > 0)); then
  echo "compat-suites: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q || die "apt-get update failed"
  apt-get install -y -q --no-install-recommends "${missing[@]}" || die "apt-get install failed for: ${missing[*]}"
  for p in "${missing[@]}"; do installed "$p" || die "still not installed: $p"; done
fi
command -v setpriv >/dev/null 2>&1 || die "setpriv (util-linux) is missing"
nobody_uid=$(id -u nobody 2>/dev/null) || die "there is no user nobody"
nobody_gid=$(id -g nobody)

# --- the binaries, copied out of the build directory ------------------------------------------------
build=${BIN:-$repo/.build/debug}
for b in gloveboxd glovebox glovebox-init; do
  [[ -x $build/$b ]] || die "$build/$b is missing: build first (swift build)"
done

tmp=$(mktemp -d /tmp/glovebox-compat.XXXXXX)
chmod 755 "$tmp"
out_given=${OUT:-}
if [[ -n $out_given ]]; then
  mkdir -p "$out_given" || die "cannot create OUT=$out_given"
  out=$(cd "$out_given" && pwd)
else
  out=$(mktemp -d /tmp/glovebox-compat-out.XXXXXX)
  chmod 755 "$out"
fi

daemon=0 child=0 child_group=0 work=
stop_child() {
  ((child > 0)) || return 0
  if kill -0 "$child" 2>/dev/null; then
    # The outside run is a process group of its own (setsid); the inside one is the glovebox client,
    # which cancels its run on SIGTERM.
    if ((child_group)); then kill -TERM -- "-$child" 2>/dev/null || kill -TERM "$child" 2>/dev/null || true
    else kill -TERM "$child" 2>/dev/null || true; fi
    for _ in $(seq 100); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
    if ((child_group)); then kill -KILL -- "-$child" 2>/dev/null || true; fi
    kill -KILL "$child" 2>/dev/null || true
  fi
  wait "$child" 2>/dev/null || true
  child=0
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_child
  if ((daemon > 0)) && kill -0 "$daemon" 2>/dev/null; then
    kill -TERM "$daemon"  # gloveboxd cancels and records its runs, removes their cgroups, then exits
    for _ in $(seq 300); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$daemon" 2>/dev/null; then echo "compat-suites: gloveboxd did not stop in 30 s; killing it" >&2; kill -KILL "$daemon" 2>/dev/null || true; fi
    wait "$daemon" 2>/dev/null || true
  fi
  [[ -f $tmp/gloveboxd.log ]] && cp "$tmp/gloveboxd.log" "$out/gloveboxd.log" 2>/dev/null
  if ((rc == 2)) && [[ -s $tmp/gloveboxd.log ]]; then echo "compat-suites: the end of gloveboxd's log:" >&2; tail -n 15 "$tmp/gloveboxd.log" >&2; fi
  rm -rf --one-file-system "$tmp"
  [[ -n ${work:-} ]] && rm -rf --one-file-system "$work"
  if ((rc >= 128)); then echo "compat-suites: interrupted; partial outputs in $out" >&2; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -m 755 "$tmp/bin" "$tmp/policies"
# The scratch directories are outside /tmp, which the outside runs see as an empty directory of their own.
work=$(mktemp -d /var/tmp/glovebox-compat-work.XXXXXX)
chmod 755 "$work"
for b in gloveboxd glovebox glovebox-init; do install -m 755 -o root -g root "$build/$b" "$tmp/bin/$b"; done
mkdir -m 700 "$tmp/records" && chown "$nobody_uid:$nobody_gid" "$tmp/records"

# --- the policy --------------------------------------------------------------------------------------
ncpu=$(nproc)
mem_kib=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
mem_mib=$((mem_kib * 3 / 4 / 1024))
((mem_mib > 8192)) && mem_mib=8192
memory="${mem_mib}MiB"
((mem_mib == 8192)) && memory="8GiB"
npy_memory="${mem_mib}MiB"  # the same limit, as numpy.testing reads a size
read_only=()
for p in /usr /lib /lib64 /bin /sbin /etc/alternatives /etc/ssl/certs; do [[ -e $p ]] && read_only+=("\"$p\""); done
path="/usr/local/bin:/usr/bin:/bin"
policy=$tmp/policies/compat.toml
cat >"$policy" <<EOF
# Written by scripts/compat-suites.sh: NumPy's and SciPy's test suites, with room to spare.
description = "compat-suites: NumPy's and SciPy's own test suites"

[limits]
timeout = "3h"
memory = "$memory"
pids = 4096
cpus = $ncpu
storage = "16GiB"
gpus = 0
output_file = "256MiB"

[filesystem]
read_only = [$(IFS=,; echo "${read_only[*]}" | sed 's/,/, /g')]
workdir = "/workspace"

[environment]
set = { PATH = "$path", HOME = "/workspace", LANG = "C.UTF-8", LC_ALL = "C.UTF-8", PYTHONDONTWRITEBYTECODE = "1", OMP_NUM_THREADS = "$ncpu", OPENBLAS_NUM_THREADS = "$ncpu", NPY_AVAILABLE_MEM = "$npy_memory" }
pass = []

[access]
users = ["*"]
groups = []

[seccomp]
deny = []
EOF
cp "$policy" "$out/compat.toml"
"$tmp/bin/gloveboxd" --check-policy "$policy" >"$tmp/check.txt" 2>&1 || { cat "$tmp/check.txt" >&2; die "the compat policy is refused"; }

# --- gloveboxd -----------------------------------------------------------------------------------------
: >"$tmp/gloveboxd.toml"  # all defaults, whatever /etc/glovebox/gloveboxd.toml says
socket=$tmp/glovebox.sock
echo "== starting gloveboxd (socket, state and policy in $tmp)"
"$tmp/bin/gloveboxd" --config "$tmp/gloveboxd.toml" --socket "$socket" --state-dir "$tmp/state" \
  --policy-dir "$tmp/policies" --log-level info </dev/null >"$tmp/gloveboxd.log" 2>&1 &
daemon=$!
for _ in $(seq 200); do
  [[ -S $socket ]] && break
  kill -0 "$daemon" 2>/dev/null || die "gloveboxd exited at start"
  sleep 0.1
done
[[ -S $socket ]] || die "gloveboxd did not create $socket in 20 s"

# --- the runs ----------------------------------------------------------------------------------------
pytest_args=(-q -rfE -p no:cacheprovider -c /dev/null
  --rootdir=/usr/lib/python3/dist-packages --confcutdir=/usr/lib/python3/dist-packages
  --continue-on-collection-errors --junitxml=junit.xml)
# What pytest collects. --quick: subpackages of a wide variety (LAPACK, FFT, random, compilers and
# subprocesses, file I/O, threads) that took about 45 s (numpy) and 100 s (scipy) outside.
quick_numpy=(numpy.linalg numpy.random numpy.fft numpy.ma numpy.polynomial numpy.f2py numpy.distutils numpy.tests)
quick_scipy=(scipy.linalg scipy.special scipy.io scipy.fft scipy.ndimage scipy.signal scipy.spatial scipy._lib)
as_nobody=(setpriv --reuid="$nobody_uid" --regid="$nobody_gid" --clear-groups)

# scratch NAME: a fresh, empty directory of nobody's
scratch() {
  local d=$work/$1
  mkdir -m 755 "$d"
  chown "$nobody_uid:$nobody_gid" "$d"
  echo "$d"
}

# wait_child: waits for the run in the background (so that Ctrl-C and SIGTERM are handled at once)
wait_child() {
  local rc=0
  wait "$child" || rc=$?
  child=0
  return "$rc"
}

declare -A wall rcs
for s in "${suites[@]}"; do
  targets=("$s")
  if ((quick)); then
    case $s in numpy) targets=("${quick_numpy[@]}") ;; scipy) targets=("${quick_scipy[@]}") ;; esac
  fi
  t=${targets[*]}

  w=$(scratch "$s-outside")
  mkdir -m 1777 "$work/$s-outside-tmp"
  echo "== $s outside: python3 -m pytest --pyargs $t as nobody in $w (output: $out/$s-outside.log)"
  start=$EPOCHREALTIME
  # setsid: a process group of its own, ended as a whole on Ctrl-C. unshare -m: a private /tmp.
  (cd "$w" && exec setsid unshare --mount --propagation private -- /bin/sh -c \
    'mount --bind "$1" /tmp && shift && exec "$@"' sh "$work/$s-outside-tmp" \
    "${as_nobody[@]}" env -i PATH="$path" HOME="$w" LANG=C.UTF-8 LC_ALL=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 OMP_NUM_THREADS="$ncpu" OPENBLAS_NUM_THREADS="$ncpu" NPY_AVAILABLE_MEM="$npy_memory" \
    /usr/bin/python3 -m pytest "${pytest_args[@]}" --pyargs "${targets[@]}") </dev/null >"$out/$s-outside.log" 2>&1 &
  child=$! child_group=1
  rc=0; wait_child || rc=$?
  wall[$s-outside]=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')
  rcs[$s-outside]=$rc
  echo "   pytest exit status $rc, ${wall[$s-outside]} s"
  [[ -f $w/junit.xml ]] && cp "$w/junit.xml" "$out/$s-outside.junit.xml"

  w=$(scratch "$s-inside")
  echo "== $s inside: glovebox run --template compat -- /usr/bin/python3 -m pytest --pyargs $t (output: $out/$s-inside.log)"
  start=$EPOCHREALTIME
  "${as_nobody[@]}" env -i PATH="$path" "$tmp/bin/glovebox" run --socket "$socket" --template compat \
    --workdir "$w" --output junit.xml --record "$tmp/records/$s.json" \
    -- /usr/bin/python3 -m pytest "${pytest_args[@]}" --pyargs "${targets[@]}" </dev/null >"$out/$s-inside.log" 2>&1 &
  child=$! child_group=0
  rc=0; wait_child || rc=$?
  wall[$s-inside]=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')
  rcs[$s-inside]=$rc
  echo "   glovebox exit status $rc, ${wall[$s-inside]} s"
  [[ -f $w/junit.xml ]] && cp "$w/junit.xml" "$out/$s-inside.junit.xml"
  [[ -f $tmp/records/$s.json ]] && cp "$tmp/records/$s.json" "$out/$s-inside.record.json"
  if ((rc == 125)); then tail -n 5 "$out/$s-inside.log" >&2; die "glovebox refused or failed the run (exit 125)"; fi

  rm -rf --one-file-system "$work/$s-outside" "$work/$s-inside"
done

# --- the table and the differences ------------------------------------------------------------------
args=()
for s in "${suites[@]}"; do
  args+=("$s" "${wall[$s-outside]}" "${wall[$s-inside]}" "${rcs[$s-outside]}" "${rcs[$s-inside]}")
done
rc=0
/usr/bin/python3 - "$out" "$quick" "${args[@]}" <<'PY' | tee "$out/summary.txt" || rc=${PIPESTATUS[0]}
import os, re, sys
import xml.etree.ElementTree as ET

out, quick, rest = sys.argv[1], sys.argv[2] == "1", sys.argv[3:]
KEYS = ["passed", "failed", "skipped", "xfailed", "xpassed", "errors"]
SITE = "/usr/lib/python3/dist-packages"
bad = {"failed", "error"}
isbad = lambda outcome: outcome.split()[0] in bad

def summary(log):
    """pytest's last summary line ("3 failed, 10 passed, 1 warning in 2.00s"), as a dict, or None."""
    try:
        lines = open(log, errors="replace").read().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        line = line.strip().strip("=").strip()
        m = re.search(r"\bin ([0-9.]+)s\b", line)
        if not m or not re.match(r"^(no tests ran|\d+ \w+)", line):
            continue
        c = {k: 0 for k in KEYS}
        c["warnings"] = 0
        for n, word in re.findall(r"(\d+) (passed|failed|skipped|xfailed|xpassed|errors?|warnings?|deselected)", line):
            word = {"error": "errors", "warning": "warnings"}.get(word, word)
            if word in c:
                c[word] = int(n)
        c["pytest_s"] = float(m.group(1))
        return c
    return None

def node_id(classname, name):
    """numpy.linalg.tests.test_linalg.TestX + test_y -> numpy/linalg/tests/test_linalg.py::TestX::test_y"""
    parts = classname.split(".")
    for i in range(len(parts), 0, -1):
        if os.path.isfile(os.path.join(SITE, *parts[:i]) + ".py"):
            return "/".join(parts[:i]) + ".py::" + "::".join(parts[i:] + [name])
    return classname + "::" + name

def outcomes(xml):
    """{node id: (outcome, message)} from pytest's JUnit XML, or None."""
    try:
        root = ET.parse(xml).getroot()
    except (OSError, ET.ParseError):
        return None
    res = {}
    for tc in root.iter("testcase"):
        nid = node_id(tc.get("classname", ""), tc.get("name", ""))
        outcome, msg = "passed", ""
        for child in tc:
            if child.tag in ("failure", "error"):
                outcome, msg = ("failed" if child.tag == "failure" else "error"), child.get("message", "")
                break
            if child.tag == "skipped":
                outcome = "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
                msg = child.get("message", "")
        prev = res.get(nid)
        if prev is None or prev[0] in ("passed", "skipped", "xfailed"):
            res[nid] = (outcome, msg)
    return res

def short_summary(log):
    """{node id: (outcome, message)} from the FAILED/ERROR lines of -rfE: they also catch a failure in a
    forked child that went on running pytest (its JUnit XML is overwritten by the parent's)."""
    try:
        text = open(log, errors="replace").read()
    except OSError:
        return {}
    res = {}
    for m in re.finditer(r"^(FAILED|ERROR) (.+?)(?: - (.*))?$", text, re.M):
        nid = m.group(2)
        if "dist-packages/" in nid:
            nid = nid.split("dist-packages/", 1)[1]
        msg = m.group(3) or ""
        if not msg and "::" in nid:  # no room for it on the line: the first "E   " line of its section
            head = nid.split("::", 1)[1].replace("::", ".")
            sec = re.search(r"^_+ (?:ERROR at \w+ of )?" + re.escape(head) + r" _+$", text, re.M)
            e = sec and re.compile(r"^E +(.+)$", re.M).search(text, sec.end())
            msg = e.group(1) if e else ""
        res.setdefault(nid, ("failed" if m.group(1) == "FAILED" else "error", msg))
    return res

rows, worst, details = [], 0, []
for i in range(0, len(rest), 5):
    suite, wall_out, wall_in, rc_out, rc_in = rest[i:i + 5]
    o = summary(f"{out}/{suite}-outside.log")
    n = summary(f"{out}/{suite}-inside.log")
    def cell(k):
        a = "-" if o is None else str(o[k])
        b = "-" if n is None else str(n[k])
        return f"{a} / {b}"
    if o is None:
        verdict, worst = "no summary outside", 2
    elif n is None:
        verdict, worst = f"no summary inside (glovebox exit {rc_in})", max(worst, 1)
    else:
        verdict = "same" if all(o[k] == n[k] for k in KEYS) else "DIFFERENT"
    xo = outcomes(f"{out}/{suite}-outside.junit.xml")
    xi = outcomes(f"{out}/{suite}-inside.junit.xml")
    for x, log in ((xo, f"{out}/{suite}-outside.log"), (xi, f"{out}/{suite}-inside.log")):
        if x is None:
            continue
        for nid, (outcome, msg) in short_summary(log).items():
            prev = x.get(nid, ("absent", ""))
            if prev[0] not in bad:
                x[nid] = (f"{outcome} (in its log; XML: {prev[0]})", msg)
    diff = []
    if xo is not None and xi is not None:
        for nid in sorted(set(xo) | set(xi)):
            a, b = xo.get(nid, ("absent", "")), xi.get(nid, ("absent", ""))
            if a[0] != b[0]:
                diff.append((nid, a, b))
    failing = [d for d in diff if isbad(d[1][0]) != isbad(d[2][0])]
    if verdict == "same" and failing:
        verdict = "same counts, other failures"
    if verdict != "same":
        worst = max(worst, 1)
    rows.append([suite] + [cell(k) for k in KEYS] + [f"{wall_out} / {wall_in}", verdict])
    if diff or verdict != "same":
        details.append((suite, diff, failing, xo is not None, xi is not None))

print()
print(f"NumPy and SciPy test suites{' (--quick subsets)' if quick else ''}, as nobody; each cell: outside / inside")
head = ["suite"] + KEYS + ["wall s", "result"]
widths = [max(len(str(r[j])) for r in rows + [head]) for j in range(len(head))]
for r in [head] + rows:
    print("  ".join(str(v).ljust(widths[j]) for j, v in enumerate(r)).rstrip())

for suite, diff, failing, have_o, have_i in details:
    print()
    if not (have_o and have_i):
        print(f"{suite}: no JUnit XML from the {'outside' if not have_o else 'inside'} run; see {out}/{suite}-*.log")
        continue
    print(f"{suite}: {len(failing)} test(s) failed or errored in one run only; {len(diff)} outcome(s) differ in all")
    with open(f"{out}/{suite}-differences.txt", "w") as f:
        for nid, a, b in diff:
            f.write(f"{nid}\toutside: {a[0]}\tinside: {b[0]}\t{(a[1] or b[1]).splitlines()[0] if (a[1] or b[1]) else ''}\n")
    shown = failing + [d for d in diff if d not in failing]
    for nid, a, b in shown[:40]:
        msg = b[1] if isbad(b[0]) else a[1]
        msg = (msg.splitlines() or [""])[0][:160]
        print(f"  {nid}\n      outside {a[0]}, inside {b[0]}{': ' + msg if msg else ''}")
    if len(shown) > 40:
        print(f"  ... {len(shown) - 40} more in {out}/{suite}-differences.txt")
sys.exit(worst)
PY

echo
echo "compat-suites: outputs (full pytest logs, JUnit XML, records, policy, gloveboxd's log) in $out"
exit "$rc"
