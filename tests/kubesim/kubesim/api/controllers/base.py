"""The loop every controller shares: follow the store's events, collect the keys they touch, reconcile
each key once per batch.

Reconciling a whole batch at once keeps a burst of changes (say 50 pods turning Ready) from causing 50
rounds of the same work. Controllers write only when something differs, so a controller's own writes
settle after one round instead of looping.
"""
from __future__ import annotations

import asyncio
import logging

from ..errors import ApiError

log = logging.getLogger("kubesim.controllers")


class Controller:
    name = "controller"

    def __init__(self, store):
        self.store = store
        self._queue: asyncio.Queue | None = None

    def requeue_after(self, seconds: float, event) -> None:
        """Feeds `event` back to this controller later (for deadlines no store change announces)."""
        queue = self._queue
        if queue is not None:
            asyncio.get_running_loop().call_later(max(0.0, seconds), queue.put_nowait, event)

    def keys_for(self, event) -> list:
        """The keys an event makes stale."""
        raise NotImplementedError

    def reconcile(self, key) -> None:
        raise NotImplementedError

    def initial_keys(self) -> list:
        return []

    def _safe_reconcile(self, key) -> None:
        try:
            self.reconcile(key)
        except ApiError as exc:
            # Expected races (a namespace being deleted, an object already gone) are not failures.
            log.debug("%s: %s: %s", self.name, key, exc.message)
        except Exception:   # noqa: BLE001 - a controller bug must not stop the controller
            log.exception("%s: reconciling %s failed", self.name, key)

    async def run(self) -> None:
        queue = self._queue = self.store.subscribe()
        try:
            for key in self.initial_keys():
                self._safe_reconcile(key)
            while True:
                events = [await queue.get()]
                while not queue.empty():
                    events.append(queue.get_nowait())
                keys: list = []
                for event in events:
                    for key in self.keys_for(event):
                        if key not in keys:
                            keys.append(key)
                for key in keys:
                    self._safe_reconcile(key)
                # Let other tasks (HTTP handlers, the node side) run between batches.
                await asyncio.sleep(0)
        finally:
            self.store.unsubscribe(queue)
