"""The controllers that make stored objects come alive, started with the API server."""
from __future__ import annotations

import asyncio

from .endpoints import EndpointsController
from .events import SchedulerEvents
from .gc import GarbageCollector, NamespaceController
from .workloads import DeploymentController, ReplicaSetController

CONTROLLERS = (NamespaceController, GarbageCollector, DeploymentController, ReplicaSetController,
               EndpointsController, SchedulerEvents)


def start_controllers(store) -> list[asyncio.Task]:
    return [asyncio.get_running_loop().create_task(c(store).run(), name=c.name) for c in CONTROLLERS]
