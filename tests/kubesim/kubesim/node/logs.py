"""Keeps each container's output, line by line with timestamps, for pods/log.

One LogBuffer per container instance; a restart starts a new one and the old one becomes
"previous" (kubectl logs --previous). Followers wait on a Condition so `logs -f` streams new
lines as they arrive and ends when the container instance ends.
"""

import asyncio
import datetime

MAX_LINES = 20000


def now_rfc3339nano() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LogBuffer:
    def __init__(self):
        self.lines: list[tuple[str, float, bytes]] = []   # (timestamp text, epoch, line incl. \n)
        self.dropped = 0
        self.closed = False
        self._partial = b""
        self._cond = asyncio.Condition()

    def _append_line(self, line: bytes) -> None:
        loop_time = datetime.datetime.now(datetime.timezone.utc)
        self.lines.append((loop_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), loop_time.timestamp(), line))
        if len(self.lines) > MAX_LINES:
            cut = len(self.lines) - MAX_LINES
            del self.lines[:cut]
            self.dropped += cut

    async def feed(self, data: bytes) -> None:
        data = self._partial + data
        *complete, self._partial = data.split(b"\n")
        for line in complete:
            self._append_line(line + b"\n")
        if complete:
            await self._notify()

    async def close(self) -> None:
        if self._partial:
            self._append_line(self._partial + b"\n")
            self._partial = b""
        self.closed = True
        await self._notify()

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    def text(self) -> str:
        return b"".join(line for _, _, line in self.lines).decode(errors="replace")

    def select(self, tail: int | None, since_epoch: float | None) -> int:
        """Absolute index of the first line to send for tailLines / sinceSeconds."""
        start = 0
        if since_epoch is not None:
            while start < len(self.lines) and self.lines[start][1] < since_epoch:
                start += 1
        if tail is not None and tail >= 0:
            start = max(start, len(self.lines) - tail)
        return start + self.dropped

    async def follow(self, start_abs: int, follow: bool):
        """Yields (timestamp, line) from absolute index start_abs; waits for more if follow."""
        pos = start_abs
        while True:
            idx = max(pos - self.dropped, 0)
            pos = idx + self.dropped
            while idx < len(self.lines):
                ts, _, line = self.lines[idx]
                yield ts, line
                idx += 1
                pos += 1
            if not follow or self.closed:
                return
            async with self._cond:
                if pos - self.dropped >= len(self.lines) and not self.closed:
                    await self._cond.wait()
