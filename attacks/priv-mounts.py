# Tries: to change the mount tree: mount, umount /proc, pivot_root, chroot, the new mount API
# (fsopen, open_tree, move_mount).
# Expected: EPERM for each, from seccomp.
from _common import call, result
result("mount:" + call("mount", b"none", b"/tmp", b"tmpfs", 0, 0), "umount2:" + call("umount2", b"/proc", 2),
       "pivot_root:" + call("pivot_root", b"/tmp", b"/tmp"), "chroot:" + call("chroot", b"/tmp"),
       "fsopen:" + call("fsopen", b"tmpfs", 0), "open_tree:" + call("open_tree", -100, b"/", 1),
       "move_mount:" + call("move_mount", -100, b"/tmp", -100, b"/", 0))
