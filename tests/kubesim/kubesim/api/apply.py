"""Server-side apply (`application/apply-patch+yaml`), simplified.

Real servers track field ownership in managedFields. kubesim keeps, per object and field manager, the
configuration that manager applied last. A new apply first removes from the live object what the
manager applied before but no longer applies (map keys, and list elements identified by their merge
key), then strategic-merges the new configuration. For one manager this gives the result a real server
gives; conflicts between managers are not detected (`force` is accepted and ignored).
"""
from __future__ import annotations

from .strategic import _merge_key, strategic_merge
from .util import clone


def prune(live, last, new):
    """`live` without the parts `last` set and `new` no longer sets."""
    if not isinstance(live, dict) or not isinstance(last, dict):
        return live
    new = new if isinstance(new, dict) else {}
    out = dict(live)
    for key, last_value in last.items():
        if key not in out:
            continue
        if key not in new:
            del out[key]
        elif isinstance(last_value, dict):
            out[key] = prune(out[key], last_value, new[key])
        elif isinstance(last_value, list) and isinstance(out[key], list) and isinstance(new[key], list):
            out[key] = _prune_list(key, out[key], last_value, new[key])
    return out


def _prune_list(field: str, live: list, last: list, new: list) -> list:
    merge_key = _merge_key(field, live + last + new)
    if merge_key is None:
        return live
    ident = lambda item: item.get(merge_key) if isinstance(item, dict) else None  # noqa: E731
    dropped = {ident(i) for i in last} - {ident(i) for i in new}
    by_key_last = {ident(i): i for i in last}
    by_key_new = {ident(i): i for i in new}
    out = []
    for item in live:
        k = ident(item)
        if k in dropped:
            continue
        if k in by_key_last and k in by_key_new:
            item = prune(item, by_key_last[k], by_key_new[k])
        out.append(item)
    return out


class AppliedConfigs:
    """What each field manager applied last, per object uid."""

    def __init__(self):
        self._last: dict[tuple[str, str], dict] = {}

    def merge(self, live: dict, manager: str, applied: dict) -> dict:
        last = self._last.get((live["metadata"]["uid"], manager))
        base = prune(clone(live), last, applied) if last else live
        return strategic_merge(base, applied)

    def remember(self, obj: dict, manager: str, applied: dict) -> None:
        self._last[(obj["metadata"]["uid"], manager)] = clone(applied)
