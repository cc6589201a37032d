"""The standby's copy of the device: its engine and disk made to match the journal it follows.

Records reach the standby one by one (:mod:`state.replication`); the content they name does
not. The mirror fetches images and plugin tarballs from the active (checked against the image ID
and SHA-256 the journal records), removes what the journal no longer has, and converges
plugins, volumes and the containers placed on the standby.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from containerz import desired as recorded
from containerz import errors
from containerz.managers import Managers
from containerz.peer.client import PeerClient
from containerz.reconciler import Reconciler
from state import Kind, Ledger

log = structlog.get_logger(__name__)

_MIRROR_SECONDS = 5.0
# Removals are mirrored in this order: what uses an object goes before the object it uses.
_USERS_FIRST = (Kind.CONTAINER, Kind.VOLUME, Kind.PLUGIN, Kind.IMAGE, Kind.PLUGIN_TARBALL)


class StandbyMirror:
    def __init__(self, ledger: Ledger, managers: Managers, reconciler: Reconciler, peer: PeerClient) -> None:
        self._ledger = ledger
        self._managers = managers
        self._reconciler = reconciler
        self._peer = peer
        self._wanted = asyncio.Event()
        # Every image and plugin tarball the journal records is here: the standby could take
        # over with everything (the active counts it in switchover-ready).
        self.content_complete = False

    def wake(self) -> None:
        """The journal changed: mirror now rather than at the next poll."""
        self._wanted.set()

    async def run(self) -> None:
        """For as long as this control processor is the standby."""
        self.content_complete = False  # until a first pass has checked
        mirrored = self._journaled()
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wanted.wait(), _MIRROR_SECONDS)
                self._wanted.clear()
                try:
                    now = self._journaled()
                    # Removed, or never made after all: gone from this engine too.
                    for kind in _USERS_FIRST:
                        for key in sorted(mirrored[kind] - now[kind]):
                            await self._reconciler.forget(kind, key)
                    mirrored = now
                    await self._fetch_missing_images()
                    await self._fetch_missing_plugin_tarballs()
                    self.content_complete = True
                    await self._reconciler.converge(bring_up=True)
                except (errors.ContainerzError, ConnectionError) as exc:
                    log.warning("mirror.failed", reason=str(exc), content_complete=self.content_complete)
        finally:
            self.content_complete = False

    async def fetch_image(self, reference: str, expected_id: str | None = None) -> None:
        """Load ``reference`` into this engine from the other control processor's."""
        name, _, tag = reference.rpartition(":")
        image = await self._managers.images.mirror(name, tag, self._peer.fetch_image(reference), expected_id)
        log.info("mirror.image_fetched", image=reference, id=image.id)

    async def fetch_plugin_tarball(self, name: str, sha256: str) -> None:
        """Keep plugin tarball ``name`` as the other control processor has it."""
        await self._managers.plugins.mirror_tarball(name, self._peer.fetch_plugin_tarball(name), sha256)
        log.info("mirror.plugin_tarball_fetched", plugin=name, sha256=sha256)

    def _journaled(self) -> dict[Kind, set[str]]:
        """What the journal has, and what it is being asked to make (an image may reach the
        standby before its outcome is recorded), per kind."""
        desired = self._ledger.desired
        known = {kind: set(desired.of(kind)) for kind in Kind}
        for change in desired.open_intents.values():
            known[change.kind].add(change.key)
        return known

    def _being_changed(self, kind: Kind) -> set[str]:
        return {change.key for change in self._ledger.desired.open_intents.values() if change.kind is kind}

    async def _fetch_missing_images(self) -> None:
        """Fetch each recorded image this engine lacks, or holds in another version than the
        journal records (a name:tag deployed again while this standby was away)."""
        changing = self._being_changed(Kind.IMAGE)
        for reference, record in list(self._ledger.desired.of(Kind.IMAGE).items()):
            if reference in changing:
                continue  # the active is deploying it again and sends it before the outcome
            expected = recorded.image_id(record)
            local = await self._managers.engine.inspect_image(reference)
            if local is None or (expected is not None and local.id != expected):
                self.content_complete = False
                await self.fetch_image(reference, expected)

    async def _fetch_missing_plugin_tarballs(self) -> None:
        changing = self._being_changed(Kind.PLUGIN_TARBALL)
        for name, record in list(self._ledger.desired.of(Kind.PLUGIN_TARBALL).items()):
            if name in changing:
                continue
            expected = str(record.get("sha256", ""))
            if expected and await self._managers.plugins.checksum(name) != expected:
                self.content_complete = False
                await self.fetch_plugin_tarball(name, expected)
