"""Runs a command where unprivileged user namespaces are disabled, as on a host with
`user.max_user_namespaces=0`: the command runs in a user namespace of its own (ids 0-65535 mapped one to
one, so nothing else changes) whose limit on further user namespaces is 0. The host's own limit is left
alone. Usage (as root): restricted_userns.py CMD [ARGS...]; exits with CMD's exit code."""
import ctypes
import os
import sys

CLONE_NEWUSER = 0x10000000

libc = ctypes.CDLL(None, use_errno=True)
ready_read, ready_write = os.pipe()
go_read, go_write = os.pipe()
child = os.fork()
if child == 0:
    if libc.unshare(CLONE_NEWUSER) != 0:
        os.write(2, f"restricted_userns: unshare: {os.strerror(ctypes.get_errno())}\n".encode())
        os._exit(99)
    os.write(ready_write, b"x")
    os.read(go_read, 1)  # the parent has written our id maps
    with open("/proc/sys/user/max_user_namespaces", "w") as limit:
        limit.write("0")
    os.execvp(sys.argv[1], sys.argv[1:])
os.read(ready_read, 1)
for name in ("uid_map", "gid_map"):
    with open(f"/proc/{child}/{name}", "w") as mapping:
        mapping.write("0 0 65536\n")
os.write(go_write, b"x")
_, status = os.waitpid(child, 0)
sys.exit(os.waitstatus_to_exitcode(status))
