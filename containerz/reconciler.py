"""Drive the engine to the journal's desired state: at boot or takeover, and against drift.

At boot the journal may hold intents whose outcome was never recorded: operations a crash or a
switchover cut off. Each is settled first, so nothing stays half-done: a creation is rolled
back (the client was never told it worked), a removal that had already happened is completed.
Then every recorded volume and container is brought back to what the journal says, which is
how a cold reboot restores exactly the containers that were running, restart policy or not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping

import structlog

from containerz import errors
from containerz.managers import Managers
from state import Action, Change, Kind, StateWriter

log = structlog.get_logger(__name__)


class Reconciler:
    def __init__(self, state: StateWriter, managers: Managers) -> None:
        self._state = state
        self._managers = managers

    async def take_over(self, cut_off: Mapping[int, Change]) -> None:
        """Settle the operations in ``cut_off`` (intents open when the journal was opened),
        then bring every recorded object up to its desired state."""
        for op, change in sorted(cut_off.items()):
            completed = await self._settle(change)
            await self._state.finish(op, ok=completed)
            log.info(
                "reconcile.settled",
                op=op,
                kind=change.kind.value,
                action=change.action.value,
                key=change.key,
                outcome="completed" if completed else "rolled back",
            )
        await self.converge(bring_up=True)

    async def undo(self, change: Change) -> None:
        """Roll a creation back on this engine without recording anything (the standby's own
        unfinished operations, from when it was active)."""
        if change.action is Action.PUT:
            await self._settle(change)

    async def forget(self, kind: Kind, key: str) -> None:
        """Remove from this engine an object the journal no longer has (the standby mirroring
        a removal)."""
        try:
            if kind is Kind.CONTAINER:
                await self._managers.containers.discard(key)
            elif kind is Kind.IMAGE:
                await self._managers.images.roll_back(key)
            elif kind is Kind.VOLUME:
                await self._managers.volumes.roll_back(key)
            elif kind is Kind.PLUGIN:
                await self._managers.plugins.roll_back(key)
            elif kind is Kind.PLUGIN_TARBALL:
                await self._managers.plugins.discard_tarball(key)
        except errors.ContainerzError as exc:
            log.warning("reconcile.forget_failed", kind=kind.value, key=key, reason=exc.message)
        else:
            log.info("reconcile.forgotten", kind=kind.value, key=key)

    async def _settle(self, change: Change) -> bool:
        """Return True if the change is complete as it stands, after rolling back what is not."""
        key = change.key
        if change.action is Action.REMOVE:
            return not await self._exists(change.kind, key)
        if change.kind is Kind.CONTAINER:
            await self._managers.containers.roll_back(key)
        elif change.kind is Kind.VOLUME:
            await self._managers.volumes.roll_back(key)
        elif change.kind is Kind.IMAGE:
            await self._managers.images.roll_back(key)
        elif change.kind is Kind.PLUGIN:
            await self._managers.plugins.roll_back(key)
        elif change.kind is Kind.PLUGIN_TARBALL:
            await self._managers.plugins.roll_back_tarball(key)
        return False

    async def _exists(self, kind: Kind, key: str) -> bool:
        engine = self._managers.engine
        if kind is Kind.CONTAINER:
            return await engine.inspect_container(key) is not None
        if kind is Kind.VOLUME:
            return await engine.inspect_volume(key) is not None
        if kind is Kind.IMAGE:
            return await engine.inspect_image(key) is not None
        if kind is Kind.PLUGIN:
            return await self._managers.plugins.exists(key)
        return await asyncio.to_thread(self._managers.plugins.tarball(key).exists)  # a plugin tarball

    async def converge(self, bring_up: bool) -> None:
        """Recreate what the engine lost; with ``bring_up``, also start and stop to match."""
        desired = self._state.desired
        # Plugins first: a volume or a container may need the driver one provides.
        plugins = list(desired.of(Kind.PLUGIN))
        await asyncio.gather(
            *(self._report("plugin", n, self._managers.plugins.converge(n, bring_up)) for n in plugins)
        )
        volumes, containers = list(desired.of(Kind.VOLUME)), list(desired.of(Kind.CONTAINER))
        if not bring_up:
            volumes, containers = await self._drifted(volumes, containers)
        await asyncio.gather(*(self._report("volume", n, self._managers.volumes.converge(n)) for n in volumes))
        # Containers are independent of each other (each under its own lock): bring them up together.
        await asyncio.gather(
            *(self._report("container", n, self._managers.containers.converge(n, bring_up)) for n in containers)
        )

    async def _drifted(self, volumes: list[str], containers: list[str]) -> tuple[list[str], list[str]]:
        """Of the recorded volumes and containers, those the engine lost (or holds where they
        should not run): drift repair runs every interval, so it lists each kind once rather
        than inspecting every object."""
        engine = self._managers.engine
        present_volumes = {v.name for v in await engine.list_volumes({})}
        present_containers = {c.name for c in await engine.list_containers(all=True, filters={})}
        placed = self._managers.containers.placed_as_recorded
        return (
            [name for name in volumes if name not in present_volumes],
            [name for name in containers if not placed(name, present_containers)],
        )

    async def _report(self, kind: str, name: str, action: Awaitable[str | None]) -> None:
        try:
            done = await action
        except errors.ContainerzError as exc:
            log.warning("reconcile.failed", kind=kind, name=name, reason=exc.message)
            return
        if done:
            log.info("reconcile.converged", kind=kind, name=name, action=done)
