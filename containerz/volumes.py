"""Volumes: create, remove and list, on the engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from containerz import desired, errors
from containerz.engine.base import Engine
from containerz.locks import KeyedLocks
from containerz.model import VolumeSpec, VolumeSummary
from state import Kind, StateWriter


class VolumeManager:
    def __init__(self, engine: Engine, state: StateWriter) -> None:
        self._engine = engine
        self._state = state
        self._locks = KeyedLocks()

    async def create(self, spec: VolumeSpec) -> str:
        async with self._locks.hold(spec.name):
            # Docker's create is idempotent; the proto asks for an error on a duplicate.
            if await self._engine.inspect_volume(spec.name) is not None:
                raise errors.AlreadyExists(
                    f"volume {spec.name} already exists; RemoveVolume it first or pick another name"
                )
            async with self._state.change(desired.put_volume(spec)):
                await self._engine.create_volume(spec)
            return spec.name

    async def remove(self, name: str, force: bool) -> None:
        """Remove a volume; removing one that does not exist is a no-op, as the proto says."""
        async with self._locks.hold(name):
            if await self._engine.inspect_volume(name) is None:
                return
            async with self._state.change(desired.remove(Kind.VOLUME, name)):
                try:
                    await self._engine.remove_volume(name, force=force)
                except errors.FailedPrecondition as exc:
                    raise errors.FailedPrecondition(
                        f"volume {name} is in use by a container; remove that container first ({exc.message})"
                    ) from exc

    async def converge(self, name: str) -> str | None:
        """Recreate volume ``name`` from its journal record if the engine has lost it."""
        async with self._locks.hold(name):
            current = self._state.desired.of(Kind.VOLUME).get(name)  # a client may have removed it meanwhile
            if current is None or await self._engine.inspect_volume(name) is not None:
                return None
            await self._engine.create_volume(desired.volume_spec(current))
            return "recreated"

    async def roll_back(self, name: str) -> str | None:
        """Remove volume ``name`` if a crash cut its creation off before the outcome was recorded."""
        async with self._locks.hold(name):
            if name in self._state.desired.of(Kind.VOLUME) or await self._engine.inspect_volume(name) is None:
                return None
            await self._engine.remove_volume(name, force=True)
            return "removed"

    async def list(self, filters: Mapping[str, Sequence[str]]) -> list[VolumeSummary]:
        return sorted(await self._engine.list_volumes(filters), key=lambda v: v.name)
