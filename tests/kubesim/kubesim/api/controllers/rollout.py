"""Rollout planning: how many replicas the new and the old ReplicaSets of a Deployment should have now.

A pure function, so the stepping can be tested without a cluster. RollingUpdate follows upstream's
rules: the new ReplicaSet grows while all pods together stay within replicas + maxSurge; old ones
shrink (their unavailable pods first) while at least replicas - maxUnavailable pods stay available.
Recreate empties the old ReplicaSets and starts the new one only when no old pod is left. Each call
moves one step; the controller calls again as pods become ready.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SetState:
    name: str
    replicas: int       # spec.replicas
    available: int      # status.availableReplicas
    pods: int = 0       # status.replicas (pods not yet gone)


def _scaled_value(value, total: int, round_up: bool) -> int:
    """An int-or-percent field resolved against `total` (percentages round like upstream)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return max(0, value)
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        share = int(value[:-1]) * total
        return -(-share // 100) if round_up else share // 100
    return 0


def surge_and_unavailable(spec: dict) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) resolved for the spec's replicas; Recreate gives (0, replicas)."""
    replicas = spec.get("replicas", 1)
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0, replicas
    rolling = strategy.get("rollingUpdate") or {}
    surge = _scaled_value(rolling.get("maxSurge", "25%"), replicas, True)
    unavailable = _scaled_value(rolling.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, replicas)


def plan(spec: dict, new: SetState, old: list[SetState]) -> tuple[int, dict[str, int]]:
    """(replicas for the new set, {old set name: replicas}) for this step. `old` is oldest first."""
    want = spec.get("replicas", 1)
    targets = {o.name: o.replicas for o in old}
    active = [o for o in old if o.replicas > 0]
    if not active:
        recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
        if recreate and any(o.pods > 0 for o in old):
            return new.replicas, targets        # Recreate waits until the old pods are gone
        return want, targets
    if (spec.get("strategy") or {}).get("type") == "Recreate":
        return 0, {o.name: 0 for o in old}
    surge, unavailable = surge_and_unavailable(spec)
    total = new.replicas + sum(o.replicas for o in old)
    new_target = new.replicas
    if new.replicas > want:
        new_target = want
    elif new.replicas < want:
        new_target = min(want, new.replicas + max(0, want + surge - total))
    budget = max(0, new.available + sum(o.available for o in old) - (want - unavailable))
    for o in active:
        keep = min(o.replicas, o.available)         # unavailable old pods go first, at no cost
        cut = min(budget, keep)
        budget -= cut
        targets[o.name] = keep - cut
    return new_target, targets
