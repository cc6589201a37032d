"""The control plane of a device with a single control processor: this server is all of it.

There is nothing to switch to (SwitchControlProcessor to itself is the no-op the proto asks
for), and a cold reboot kills the containers the journal knows and restarts this process,
whose journal then brings back what was running.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from containerz import errors
from containerz.engine.base import Engine
from containerz.platform import Platform
from state import Kind, StateWriter

log = structlog.get_logger(__name__)


class StandaloneControl:
    def __init__(self, platform: Platform, engine: Engine, state: StateWriter) -> None:
        self._platform = platform
        self._engine = engine
        self._state = state
        self.reboot_requested = asyncio.Event()

    @property
    def platform(self) -> Platform:
        return self._platform

    async def switch_to(self, name: str) -> None:
        if name != self._platform.active().name:  # processor_name() only lets our own name through
            raise errors.NotFound(f"no control processor named {name!r} on this single-card device")

    async def cold_reboot(self) -> None:
        """As a power cycle would: every recorded container dies, then the server restarts."""
        for name in list(self._state.desired.of(Kind.CONTAINER)):
            with contextlib.suppress(errors.ContainerzError):
                await self._engine.stop_container(name, grace_seconds=0)
        log.info("reboot.containers_killed")
        self.reboot_requested.set()
