"""A command on a pseudo-terminal, for `kubectl exec -t` (tty=true).

With a tty the command gets a real terminal (a pty whose slave side is its stdin, stdout,
stderr and controlling terminal), so shells prompt, programs see `isatty()`, and resize
messages from the client change the window size (`stty size`). The wrapper looks like an
asyncio subprocess (stdin.write/drain/close, stdout.read, wait) so the exec protocols need not
care; stderr does not exist, as with a real tty.
"""

import asyncio
import fcntl
import os
import pty
import struct
import termios

EOT = b"\x04"


class _Master:
    """Both ends of the master side: reads queue up from an event-loop reader callback."""

    def __init__(self, fd: int):
        self.fd = fd
        os.set_blocking(fd, False)
        self.queue: asyncio.Queue = asyncio.Queue()
        self.eof = False
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(fd, self._ready)

    def _ready(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""          # EIO: every slave descriptor is closed, the command is gone
        if not data:
            self.loop.remove_reader(self.fd)
            self.queue.put_nowait(None)
        else:
            self.queue.put_nowait(data)

    async def read(self, _n: int = -1) -> bytes:
        if self.eof:
            return b""
        data = await self.queue.get()
        if data is None:
            self.eof = True
            return b""
        return data

    def write(self, data: bytes) -> None:
        if self.fd < 0:
            return
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                continue
            except OSError:
                return
            view = view[n:]

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        # Closing a terminal's input means end-of-file at the line discipline: ^D.
        self.write(EOT)

    def resize(self, width: int, height: int) -> None:
        if self.fd < 0:
            return
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    def release(self) -> None:
        """Closes the master once; a second call must not close a reused descriptor number."""
        if self.fd < 0:
            return
        try:
            self.loop.remove_reader(self.fd)
        except Exception:
            pass
        try:
            os.close(self.fd)
        except OSError:
            pass
        self.fd = -1
        self.queue.put_nowait(None)        # wakes a reader still waiting for output


class PtyProcess:
    def __init__(self, proc, master: _Master):
        self._proc = proc
        self.pid = proc.pid
        self.stdin = master
        self.stdout = master
        self.stderr = None
        self.master = master

    @property
    def returncode(self):
        return self._proc.returncode

    async def wait(self) -> int:
        return await self._proc.wait()

    def resize(self, width: int, height: int) -> None:
        self.master.resize(width, height)

    def release(self) -> None:
        self.master.release()


def _make_controlling_tty() -> None:
    # Runs in the child between fork and exec: the pty slave (its stdin) becomes its terminal.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


async def spawn_on_pty(argv: list[str], env: dict, cwd: str, width: int = 80, height: int = 24) -> PtyProcess:
    master_fd, slave_fd = pty.openpty()
    fcntl.ioctl(slave_fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, env=env, cwd=cwd, stdin=slave_fd, stdout=slave_fd, stderr=slave_fd,
            start_new_session=True, preexec_fn=_make_controlling_tty)
    finally:
        os.close(slave_fd)
    return PtyProcess(proc, _Master(master_fd))
