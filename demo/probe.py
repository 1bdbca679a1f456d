"""One-line probes of what a Glovebox sandbox allows and refuses: `python3 probe.py NAME [ARG]`.

Each probe prints one line saying what happened. They are meant to run inside `glovebox run`; run on
the host they show the contrast (and the fork, memory and storage probes really use the resources).
"""
import ctypes
import errno
import os
import socket
import sys
import time


def err(e):
    return f"{type(e).__name__}: [Errno {e.errno}] {errno.errorcode.get(e.errno, '?')} ({e.strerror})"


def identity():
    status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
    print(f"uid={os.getuid()} gid={os.getgid()} pid={os.getpid()} hostname={socket.gethostname()} "
          f"interfaces={[n for _, n in socket.if_nameindex()]} CapEff={status['CapEff'].strip()} "
          f"NoNewPrivs={status['NoNewPrivs'].strip()} Seccomp={status['Seccomp'].strip()} cwd={os.getcwd()}")


def connect(host, port):
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect((host, int(port)))
        print(f"connect {host}:{port}: CONNECTED")
    except OSError as e:
        print(f"connect {host}:{port}: {err(e)}")


def read_file(path):
    try:
        with open(path) as f:
            print(f"read {path}: READ {len(f.read())} characters")
    except OSError as e:
        print(f"read {path}: {err(e)}")


def write_file(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        print(f"write {path}: WRITTEN")
    except OSError as e:
        print(f"write {path}: {err(e)}")


def environment(name):
    print(f"{name} in the environment: {name in os.environ}; the environment is {sorted(os.environ)}")


def syscalls():
    libc = ctypes.CDLL(None, use_errno=True)
    results = []
    for name, call in [("unshare(CLONE_NEWUSER)", lambda: libc.unshare(0x10000000)),
                       ("mount(tmpfs)", lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
                       ("ptrace(PTRACE_TRACEME)", lambda: libc.ptrace(0, 0, 0, 0))]:
        rc = call()
        results.append(f"{name} = {rc} {errno.errorcode.get(ctypes.get_errno(), '') if rc < 0 else ''}".strip())
    print("; ".join(results))


def fork_bomb():
    # Every child sleeps (and dies with the run); the parent forks until the kernel says no.
    started = 0
    while started < 10_000:
        try:
            pid = os.fork()
        except OSError as e:
            print(f"fork bomb: {started} processes started, then fork: {err(e)}")
            return
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        started += 1
    print(f"fork bomb: {started} processes started, no limit hit")


def memory_hog():
    chunks = []
    while True:
        chunks.append(b"\x01" * (16 << 20))  # 16 MiB, every page touched
        print(f"memory hog: holding {16 * len(chunks)} MiB", flush=True)


def fill_disk(directory):
    total = 0
    try:
        for i in range(12):  # 96 MiB at most
            with open(os.path.join(directory, f"fill-{i}"), "wb") as f:
                for _ in range(8):
                    f.write(b"\x00" * (1 << 20))
                    total += 1
        print(f"fill {directory}: wrote {total} MiB, no limit hit")
    except OSError as e:
        print(f"fill {directory}: wrote {total} MiB, then {err(e)}")


PROBES = {"identity": identity, "connect": connect, "read": read_file, "write": write_file, "env": environment,
          "syscalls": syscalls, "forkbomb": fork_bomb, "memory": memory_hog, "fill": fill_disk}

if __name__ == "__main__":
    PROBES[sys.argv[1]](*sys.argv[2:])
