"""Volume contents from the active to the standby: every volume on a planned switchover (while
writes are held, so nothing is lost), and each volume that changed every so often while both
run, which bounds what a crash of the active can lose of them.

Only plain local volumes are copied (see :mod:`containerz.volumedata`). Volumes that containers
use on the standby too (L_ALL, L_BACKUP) keep the standby's own contents until a planned
switchover: copying under a running container would pull its files away from it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import structlog

from containerz import desired as recorded
from containerz import errors, volumedata
from containerz.fsutil import discard, read_chunks
from containerz.managers import Managers
from containerz.model import VolumeSummary
from containerz.peer.client import PeerClient, PeerError
from containerz.placement import on_standby
from state import Kind, Ledger

log = structlog.get_logger(__name__)


class VolumeCopier:
    def __init__(self, ledger: Ledger, managers: Managers, peer: PeerClient, scratch: Path) -> None:
        self._ledger = ledger
        self._managers = managers
        self._peer = peer
        self._scratch = scratch
        self._one_at_a_time = asyncio.Lock()

    async def copy_all(self) -> None:
        """On the active handing over: give the standby what the moving containers wrote."""
        for name in list(self._ledger.desired.of(Kind.VOLUME)):
            data = await self._local_data_of(name, "handover")
            if data is not None:
                await self._send(name, data, "handover")

    async def copy_changed_every(self, interval: float, standby_ready: Callable[[], bool]) -> None:
        """On the active, forever: every ``interval`` seconds while the standby is ready, copy
        it the volumes whose contents changed since their last copy."""
        copied: dict[str, str] = {}  # volume: signature of the contents last copied
        while True:
            await asyncio.sleep(interval)
            if not standby_ready():
                copied.clear()  # the standby may have missed copies: start over when it is back
                continue
            shared = self._used_on_standby()
            for name in list(self._ledger.desired.of(Kind.VOLUME)):
                data = None if name in shared else await self._local_data_of(name, "volume_sync")
                if data is None:
                    continue
                try:
                    signature = await asyncio.to_thread(volumedata.signature, data)
                except OSError as exc:
                    log.warning("volume_sync.volume_not_copied", volume=name, reason=str(exc))
                    continue
                if signature != copied.get(name) and await self._send(name, data, "volume_sync"):
                    copied[name] = signature

    async def receive(self, name: str, chunks: AsyncIterator[bytes]) -> None:
        """On the standby: replace volume ``name``'s contents with the active's."""
        if name not in self._ledger.desired.of(Kind.VOLUME):
            raise errors.NotFound(f"volume {name} is not in the journal")
        await self._managers.volumes.converge(name)
        volume = await self._managers.engine.inspect_volume(name)
        data = await _local_data(volume) if volume is not None else None
        if data is None:
            raise errors.FailedPrecondition(f"volume {name} has no local data directory on this engine")
        archive = self._scratch / f"volume-{name}.incoming.tar"
        try:
            await volumedata.write_chunks(chunks, archive)
            await asyncio.to_thread(volumedata.unpack, archive, data)
        finally:
            await discard(archive)
        log.info("standby.volume_data_received", volume=name)

    def _used_on_standby(self) -> set[str]:
        return {
            mount.volume
            for record in self._ledger.desired.of(Kind.CONTAINER).values()
            for spec in [recorded.container_spec(record)]
            if on_standby(spec.location).runs_here
            for mount in spec.volumes
        }

    async def _local_data_of(self, name: str, why: str) -> Path | None:
        """Volume ``name``'s data directory, if it is a plain local volume of this engine."""
        try:
            volume = await self._managers.engine.inspect_volume(name)
        except errors.ContainerzError as exc:  # the engine is gone: its volumes stay where they are
            log.warning(f"{why}.volume_not_copied", volume=name, reason=exc.message)
            return None
        return await _local_data(volume) if volume is not None and volume.holds_its_own_data else None

    async def _send(self, name: str, data: Path, why: str) -> bool:
        """Replace the standby's contents of volume ``name`` with ``data``; return whether it did."""
        async with self._one_at_a_time:
            archive = self._scratch / f"volume-{name}.tar"
            try:
                await asyncio.to_thread(volumedata.pack, data, archive)
                await self._peer.put_volume_data(self._ledger.epoch, name, read_chunks(archive, volumedata.CHUNK_BYTES))
            except (ConnectionError, PeerError, OSError, errors.ContainerzError) as exc:
                log.warning(f"{why}.volume_not_copied", volume=name, reason=str(exc))
                return False
            finally:
                await discard(archive)
        log.info(f"{why}.volume_copied", volume=name)
        return True


async def _local_data(volume: VolumeSummary) -> Path | None:
    """The volume's data directory, if the engine keeps it on this machine."""
    if not volume.mountpoint:
        return None
    path = Path(volume.mountpoint)
    return path if await asyncio.to_thread(path.is_dir) else None
