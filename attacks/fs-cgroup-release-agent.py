# Tries (CVE-2022-0492): to mount a cgroup v1 hierarchy and set release_agent, a host-root helper.
# Expected: /sys/fs/cgroup: ENOENT; mount: EPERM (seccomp, and no CAP_SYS_ADMIN); own cgroup is "/" (cgroup namespace).
import os
from _common import call, oserror, result
own = open("/proc/self/cgroup").read().strip().split(":")[-1]
result("sysfs:" + oserror(os.listdir, "/sys/fs/cgroup"), "mount:" + call("mount", b"cgroup", b"/tmp", b"cgroup", 0, b"rdma"),
       "own:" + own)
