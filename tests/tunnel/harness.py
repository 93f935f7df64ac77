"""Loopback harness for the tunnel integration tests: starts tether-shadow and tether-tunnel as local
processes, follows their output line by line, and gives tests event waits with bounds (never sleeps).

Everything listens on 127.0.0.1. Every process started here is killed when the test ends."""
import asyncio
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from tethertest.ports import free_port  # noqa: E402,F401  (the tests import it from here)


class Process:
    """A child process whose stdout and stderr lines are collected by reader threads."""

    def __init__(self, name, argv, env=None):
        self.name = name
        self.lines = []
        self.cond = threading.Condition()
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env, text=True)
        for stream in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_line(self, pattern, timeout=15.0, start=0):
        """Waits for a line matching `pattern` (from index `start`); returns the match or raises."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines[start:]:
                    m = rx.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.name}: no line matching {pattern!r} within {timeout}s; "
                                         f"output:\n" + "\n".join(self.lines[-40:]))
                self.cond.wait(left)

    def wait_count(self, pattern, n, timeout=15.0):
        """Waits until at least `n` lines match `pattern`."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while sum(1 for line in self.lines if rx.search(line)) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.name}: fewer than {n} lines matching {pattern!r} within {timeout}s")
                self.cond.wait(left)

    def count(self, pattern):
        rx = re.compile(pattern)
        with self.cond:
            return sum(1 for line in self.lines if rx.search(line))

    def mark(self):
        with self.cond:
            return len(self.lines)

    def wait_exit(self, timeout=15.0):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} did not exit within {timeout}s")

    def signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def cpu_seconds(self):
        """User plus system CPU time the process has used so far (from /proc/<pid>/stat)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_kib(self):
        """The process's resident set high-water mark (VmHWM), in KiB."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


class Bed:
    """One test's processes; a context manager that kills them all on exit."""

    def __init__(self, build):
        self.build = build
        self.procs = []
        self.token = "test-token-" + os.urandom(8).hex()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()

    def start(self, name, argv, env=None):
        p = Process(name, argv, env)
        self.procs.append(p)
        return p

    def shadow(self, *extra, token=None, wrapper=(), env=None):
        """tether-shadow on 127.0.0.1; `wrapper` runs it under another command (prlimit ...)."""
        p = self.start("shadow", [*wrapper, f"{self.build}/shadow/tether-shadow", "--tunnel-port", "0", "--ready-port", "0",
                                  "--ready-host", "127.0.0.1", "--listen-host", "127.0.0.1", *extra],
                       {"TETHER_SHADOW_TOKEN": token or self.token, **(env or {})})
        m = p.wait_line(r"event=started tunnel=127\.0\.0\.1:(\d+) ready=[\d.]+:(\d+)")
        p.tunnel_port, p.ready_port = int(m.group(1)), int(m.group(2))
        return p

    def client(self, port, *extra, token=None, env=None, wrapper=()):
        return self.start("client", [*wrapper, f"{self.build}/server/tunnel/tether-tunnel", "--connect",
                                     f"127.0.0.1:{port}", *extra], {"TETHER_TOKEN": token or self.token, **(env or {})})

    def relay(self, listen_port, target_port):
        here = os.path.dirname(os.path.abspath(__file__))
        p = self.start("relay", ["/usr/bin/python3", f"{here}/relay.py", str(listen_port), str(target_port)])
        p.wait_line(r"relay listening")
        return p


def run(coro, timeout=50.0):
    """Runs an asyncio test body with an overall bound, so a hang fails instead of blocking ctest."""
    return asyncio.run(asyncio.wait_for(coro, timeout))
