#!/bin/bash
# Runs inside the cgroup-v2 VM booted with systemd as PID 1 (V2VM_SYSTEMD=1 ../shared/tools/v2vm/run),
# as root: installs the tree scripts/install.sh staged in $1 (DESTDIR), starts gloveboxd.socket and
# proves the unit for real. Each step prints one line, "STEP <name> ok" or "STEP <name> FAIL <why>";
# SystemdUnitVMTests asserts on them. A failing step does not stop the others.
set -u
stage=$1
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
step() { if [[ $2 == ok ]]; then echo "STEP $1 ok"; else echo "STEP $1 FAIL ${*:3}"; fi; }
check() { local name=$1; shift; if "$@" >/tmp/step.out 2>&1; then step "$name" ok; else step "$name" FAIL "$(tail -c 600 /tmp/step.out)"; fi; }

cp -a "$stage"/. /
# The VM's / is a private mount: a filesystem mounted after gloveboxd starts would not reach it (it says
# so at start), so the ext4 workdir is mounted first.
truncate -s 64M /var/tmp/wd.img && mkfs.ext4 -q /var/tmp/wd.img && mkdir -p /var/tmp/wd && mount -o loop /var/tmp/wd.img /var/tmp/wd
mkdir /var/tmp/wd/project && echo "from the host" >/var/tmp/wd/project/in.txt && chown -R nobody:nogroup /var/tmp/wd/project
systemd-tmpfiles --create /etc/tmpfiles.d/glovebox.conf
systemctl daemon-reload
check socket-starts systemctl start gloveboxd.socket

# A sandbox through socket activation (the first connection starts the service).
out=$(timeout 120 glovebox run -- /bin/echo activated 2>&1); rc=$?
[[ $rc == 0 && $out == activated ]] && step activation ok || step activation FAIL "rc=$rc $out $(journalctl -u gloveboxd --no-pager | tail -20)"
[[ $(systemctl is-active gloveboxd.service) == active ]] && step service-active ok || step service-active FAIL "$(systemctl status gloveboxd.service --no-pager | tail -5)"

# An unprivileged client (runuser), as the people who use it.
out=$(timeout 120 runuser -u nobody -- glovebox run -- /usr/bin/id -u 2>&1); rc=$?
[[ $rc == 0 && $out =~ ^[0-9]+$ && $out != 65534 ]] && step unprivileged-client ok || step unprivileged-client FAIL "rc=$rc $out"

# The memory limit: an OOM ends the run with status oom (exit 137).
timeout 180 glovebox run --memory 64MiB -- /usr/bin/python3 -c 'b = bytearray(256 << 20); print(len(b))' >/tmp/oom.out 2>&1; rc=$?
[[ $rc == 137 ]] && step oom ok || step oom FAIL "rc=$rc $(tail -c 400 /tmp/oom.out)"

# The time limit: exit 124.
timeout 180 glovebox run --timeout 3s -- /bin/sleep 60 >/tmp/timeout.out 2>&1; rc=$?
[[ $rc == 124 ]] && step timeout ok || step timeout FAIL "rc=$rc $(tail -c 400 /tmp/timeout.out)"

# A workdir on an ext4 loop mount (made before the service starts), read and written back by an
# unprivileged client.
out=$(timeout 180 runuser -u nobody -- glovebox run --workdir /var/tmp/wd/project --output out.txt -- /bin/sh -c 'cat in.txt; echo made >out.txt' 2>&1); rc=$?
[[ $rc == 0 && $out == "from the host" && $(cat /var/tmp/wd/project/out.txt 2>/dev/null) == made ]] && step workdir-ext4 ok || step workdir-ext4 FAIL "rc=$rc $out"

# Restart with a run in flight: the run is cancelled and recorded, the service serves again.
timeout 180 glovebox run -- /bin/sleep 120 >/tmp/inflight.out 2>&1 &
client=$!
for _ in $(seq 300); do glovebox ps 2>/dev/null | grep -q 'sleep 120' && break; sleep 0.2; done
check restart systemctl restart gloveboxd.service
wait "$client"; rc=$?
[[ $rc == 130 ]] && step in-flight-cancelled ok || step in-flight-cancelled FAIL "rc=$rc $(tail -c 300 /tmp/inflight.out)"
out=$(timeout 120 glovebox run -- /bin/echo again 2>&1); rc=$?
[[ $rc == 0 && $out == again ]] && step after-restart ok || step after-restart FAIL "rc=$rc $out"
glovebox ps --all --json 2>/dev/null | grep -q '"cancelled"' && step cancel-recorded ok || step cancel-recorded FAIL "$(glovebox ps --all 2>&1 | tail -5)"

# The journal has the daemon's log.
journal=$(journalctl -u gloveboxd --no-pager -o cat)
grep -q "socket-activated" <<<"$journal" && grep -q "run finished" <<<"$journal" && ! grep -q "critical" <<<"$journal" \
    && step journal ok || step journal FAIL "$(tail -c 800 <<<"$journal")"

# Stopped, nothing is left in the unit's cgroup.
cgroup=/sys/fs/cgroup$(systemctl show -P ControlGroup gloveboxd.service)
check stop systemctl stop gloveboxd.socket gloveboxd.service
left=""
if [[ -d $cgroup ]]; then left=$(find "$cgroup" -name cgroup.procs -exec cat {} + 2>/dev/null | tr '\n' ' '); left+=$(find "$cgroup" -mindepth 1 -type d | tr '\n' ' '); fi
[[ -z ${left// /} ]] && step nothing-left ok || step nothing-left FAIL "in $cgroup: $left"
umount /var/tmp/wd
echo "DONE"
