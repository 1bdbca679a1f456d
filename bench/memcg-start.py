#!/usr/bin/env python3
"""What a memory cgroup costs a program's start: `python3 -c pass` forked, moved and then executed, timed
from the exec to its exit, in turn in the root cgroup, in a fresh memory cgroup with a limit (as each run
gets), and in one memory cgroup made once and used for every run. Prints the medians.

    sudo bench/memcg-start.py [ROUNDS] [PROGRAM ARG...]

cgroup v1 (the memory hierarchy) or v2 (with the memory controller on in the root's subtree_control).
Every cgroup it makes is removed, also on failure."""
import os
import statistics
import sys
import time

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
PROGRAM = sys.argv[2:] or ["/usr/bin/python3", "-c", "pass"]
LIMIT = 256 << 20

if os.path.exists("/sys/fs/cgroup/memory/memory.limit_in_bytes"):
    BASE, LIMIT_FILE, PROCS = "/sys/fs/cgroup/memory", "memory.limit_in_bytes", "tasks"
elif "memory" in open("/sys/fs/cgroup/cgroup.subtree_control").read().split():
    BASE, LIMIT_FILE, PROCS = "/sys/fs/cgroup", "memory.max", "cgroup.procs"
else:
    sys.exit("memcg-start: no memory controller (cgroup v1 memory, or v2 with memory in the root's subtree_control)")


def make(name):
    path = os.path.join(BASE, name)
    os.mkdir(path)
    with open(os.path.join(path, LIMIT_FILE), "w") as f:
        f.write(str(LIMIT))
    return path


def remove(path):
    for _ in range(200):
        try:
            os.rmdir(path)
            return
        except OSError:
            time.sleep(0.005)
    print(f"memcg-start: could not remove {path}", file=sys.stderr)


def timed(cgroup):
    """Seconds from the child's exec to its reaping; the child joins `cgroup` first (None: stays put)."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            if cgroup:
                with open(os.path.join(cgroup, PROCS), "w") as f:
                    f.write(str(os.getpid()))
            os.write(ready_w, b"r")
            os.read(go_r, 1)
            os.execv(PROGRAM[0], PROGRAM)
        finally:
            os._exit(127)
    os.read(ready_r, 1)
    t0 = time.perf_counter()
    os.write(go_w, b"g")
    _, status = os.waitpid(pid, 0)
    elapsed = time.perf_counter() - t0
    for fd in (ready_r, ready_w, go_r, go_w):
        os.close(fd)
    if status != 0:
        sys.exit(f"memcg-start: {PROGRAM} exited with status {status}")
    return elapsed


def main():
    tag = f"memcg-start-{os.getpid()}"
    reused = make(f"{tag}-reused")
    times = {"root cgroup": [], "fresh memory cgroup": [], "reused memory cgroup": []}
    try:
        for n in range(ROUNDS):
            times["root cgroup"].append(timed(None))
            fresh = make(f"{tag}-{n}")
            try:
                times["fresh memory cgroup"].append(timed(fresh))
            finally:
                remove(fresh)
            times["reused memory cgroup"].append(timed(reused))
    finally:
        remove(reused)
    for label, values in times.items():
        print(f"{label}: {statistics.median(values) * 1000:.2f} ms (min {min(values) * 1000:.2f}, {len(values)} runs)")


if __name__ == "__main__":
    main()
