#!/usr/bin/env python3
"""Two builds of gloveboxd and bubblewrap, end to end, one run of each in turn: `glovebox run -- /bin/true`
against a private daemon from each build (--log-level debug, the repository's policies) and bench.py's
bwrap command, each run after GAP seconds of idle, timed from this driver. Then prints each daemon's
median phases (its `run phases` log lines) and how many of its runs took a sandbox made ahead.
BENCHMARKS.md uses it for runs after a pause.

    sudo bench/ab-e2e.py OLD_BIN_DIR NEW_BIN_DIR [GAP seconds (3)] [ROUNDS (15)]

A BIN_DIR holds gloveboxd and glovebox-init (scripts/build-release.sh prints DAEMON_BIN). The client is
the static one scripts/build-release.sh builds (CLIENT_BIN names the directory of another)."""
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from bench import Bench
from phases import summary

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = "[caps]\nuser_concurrent_runs = 16\nuser_runs_per_hour = 1000000\nruns_per_hour = 1000000\n"


def main():
    if len(sys.argv) < 3 or os.geteuid() != 0:
        sys.exit(__doc__)
    bins = {"old": sys.argv[1], "new": sys.argv[2]}
    gap = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 15
    client = os.path.join(os.environ.get("CLIENT_BIN", REPO + "/.build/static-client/x86_64-unknown-linux-gnu/release"), "glovebox")
    work = tempfile.mkdtemp(prefix="glovebox-ab.", dir="/var/tmp")
    os.chmod(work, 0o755)
    daemons = []
    try:
        for side, bin_dir in bins.items():
            d = os.path.join(work, side)
            os.mkdir(d)
            with open(d + "/config.toml", "w") as f:
                f.write(CONFIG)
            daemons.append(subprocess.Popen(
                [bin_dir + "/gloveboxd", "--config", d + "/config.toml", "--socket", d + "/socket", "--state-dir", d + "/state",
                 "--policy-dir", REPO + "/policies", "--log-level", "debug"],
                stdin=subprocess.DEVNULL, stdout=open(d + "/log", "w"), stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 15
        while not all(os.path.exists(os.path.join(work, side, "socket")) for side in bins):
            if time.monotonic() > deadline:
                sys.exit("ab-e2e: a daemon did not create its socket in 15 s")
            time.sleep(0.1)
        commands = {side: ([client, "run", "--", "/bin/true"], dict(os.environ, GLOVEBOX_SOCKET=os.path.join(work, side, "socket")))
                    for side in bins}
        commands["bwrap"] = (shlex.split(Bench.BWRAP + " /bin/true"), dict(os.environ))
        for side in bins:
            subprocess.run(commands[side][0], env=commands[side][1], stdout=subprocess.DEVNULL, check=True)
        times = {label: [] for label in commands}
        for _ in range(rounds):
            for label, (argv, env) in commands.items():
                time.sleep(gap)
                t0 = time.perf_counter()
                subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=True)
                times[label].append(time.perf_counter() - t0)
        for label, values in times.items():
            print(f"{label}: median {statistics.median(values) * 1000:.2f} ms, min {min(values) * 1000:.2f} ms ({len(values)} runs)")
        for side in bins:
            # The first run of each daemon is a warm-up.
            print(f"{side} phases (ms), {summary(os.path.join(work, side, 'log'), warmup=1)}")
    finally:
        for p in daemons:
            p.terminate()
        for p in daemons:
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
