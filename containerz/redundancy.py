"""One of two control processors: standby until it holds mastership, then active until it hands over.

The arbiter (an exclusive lock both control processors can see) decides who is active. The
standby follows the active's journal over the Peer link and mirrors it on its own engine:
images (fetched from the active), volumes, and the containers placed on it (L_BACKUP, L_ALL).
The active takes writes, replicates each record before answering (see
:mod:`state.replication`), binds the device's shared service address and runs what is placed
on it. A planned switchover holds writes, stops the containers that move, releases mastership
and lets the standby take it; a crash releases it too (the kernel drops the lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import grpc
import structlog

from containerz import desired as recorded
from containerz import errors, volumedata
from containerz.engine.base import Engine
from containerz.fsutil import discard
from containerz.managers import Managers
from containerz.model import Location, VolumeSummary
from containerz.peer.client import PeerClient, PeerError
from containerz.placement import Placement, on_active, on_standby
from containerz.platform import ControlProcessor, Platform, Role, SwitchoverTrigger
from containerz.reconciler import Reconciler
from containerz.settings import RedundancySettings
from protos.containerz import peer_pb2 as pb
from state import FileArbiter, Kind, Ledger, StandbyLink
from state.arbiter import OutdatedMark
from state.desired import DesiredState

log = structlog.get_logger(__name__)

_PEER_POLL_SECONDS = 1.0
_MIRROR_SECONDS = 5.0
_BIND_RETRY_SECONDS = 0.05
_BIND_ATTEMPTS = 200
# How long a control processor that handed over waits for the other to take mastership.
_HANDOVER_SECONDS = 10.0
# Removals are mirrored in this order: what uses an object goes before the object it uses.
_USERS_FIRST = (Kind.CONTAINER, Kind.VOLUME, Kind.PLUGIN, Kind.IMAGE, Kind.PLUGIN_TARBALL)


ServiceStarter = Callable[[str], Awaitable[grpc.aio.Server]]


class Redundancy:
    def __init__(
        self,
        name: str,
        *,
        config: RedundancySettings,
        ledger: Ledger,
        managers: Managers,
        engine: Engine,
        reconciler: Reconciler,
        start_service: ServiceStarter,
        scratch: Path,
    ) -> None:
        self.name = name
        self._config = config
        self._ledger = ledger
        self._managers = managers
        self._engine = engine
        self._start_service = start_service
        self._reconciler = reconciler
        self._scratch = scratch
        self._arbiter = FileArbiter(config.arbiter)
        self._outdated = OutdatedMark(config.arbiter.with_name(config.arbiter.name + ".outdated"))
        self._peer = PeerClient(config.peer_address)
        self._link: StandbyLink | None = None
        self._service: grpc.aio.Server | None = None
        self._handed_over = asyncio.Event()
        self._yielding = False
        self.reboot_requested = asyncio.Event()
        self._mirror_wanted = asyncio.Event()
        self._volume_copy = asyncio.Lock()  # one volume copy to the standby at a time
        # On the standby: every image and plugin tarball the journal records is here.
        self._content_complete = False
        # On the active: what the standby last said of itself.
        self._standby_content_complete = False
        self._me = ControlProcessor(name, Role.SECONDARY)
        self._other = ControlProcessor(config.peer_name, Role.PRIMARY, up=False)
        self._platform = Platform(processors=sorted([self._me, self._other], key=lambda cp: cp.name))
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ ControlPlane

    @property
    def platform(self) -> Platform:
        return self._platform

    @property
    def active(self) -> bool:
        return self._ledger.active

    async def switch_to(self, name: str) -> None:
        if not self.active:
            raise errors.FailedPrecondition(
                f"{self.name} is the standby; send SwitchControlProcessor to the active control processor"
            )
        if name == self.name:
            return  # already active: the no-op the proto asks for
        if not self._standby_ready():
            raise errors.FailedPrecondition(
                f"{name} is not switchover-ready (its state is not in sync yet); "
                "wait for /components/component[name=" + self.name + "]/state/switchover-ready"
            )
        # Answer first: the handover closes the very address the request may have come in on
        # (its grace period lets this answer go out).
        asyncio.get_running_loop().call_later(0.05, lambda: asyncio.ensure_future(self._hand_over()))

    async def cold_reboot(self) -> None:
        """Hand the power cycle to the chassis: it kills every container on both control
        processors and starts both again; the journal brings back what ran."""
        if self._config.reboot_exit_code is None:
            raise errors.Unimplemented(
                "this control processor runs without a chassis to power-cycle the device; "
                "run the device with 'server.py device' for cold reboots"
            )
        if not self.active:
            raise errors.FailedPrecondition(f"{self.name} is the standby; send Reboot to the active control processor")
        log.info("reboot.device", name=self.name)
        self.reboot_requested.set()

    async def close(self) -> None:
        if self._service is not None:
            await self._service.stop(1)
        self._arbiter.release()
        await self._peer.close()

    def status(self) -> pb.StatusReply:
        return pb.StatusReply(
            name=self.name,
            active=self.active,
            epoch=self._ledger.epoch,
            boot_time_ns=self._me.boot_time_ns,
            software_version=self._platform.software_version,
            switchover_ready=self._me.switchover_ready,
            last_switchover_time_ns=self._me.last_switchover_time_ns,
            last_switchover_trigger=self._me.last_switchover_trigger.value if self._me.last_switchover_trigger else "",
            content_complete=self._content_complete,
        )

    # ------------------------------------------------------------------ the role loop

    async def run(self) -> None:
        """Forever: serve as standby until mastership comes, then as active until handed over."""
        self._loop = asyncio.get_running_loop()
        watcher = asyncio.create_task(self._watch_peer())
        try:
            while True:
                epoch = await self._serve_as_standby()
                trigger = (
                    SwitchoverTrigger.USER_INITIATED
                    if self._arbiter.handed_over
                    else SwitchoverTrigger.SYSTEM_INITIATED
                )
                await self._serve_as_active(epoch, trigger)
        finally:
            watcher.cancel()
            self._arbiter.release()

    def on_applied(self, _: DesiredState) -> None:
        """Called (from a worker thread) when the standby has applied records from the active."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._mirror_wanted.set)

    async def _serve_as_standby(self) -> int:
        self._ledger.become_standby()
        self._managers.containers.place = on_standby
        self._me.role = Role.SECONDARY
        self._set_ready(False)
        self._content_complete = False  # until the first mirror pass has checked
        if self._other.up:
            self._other.role = Role.PRIMARY
        await self._platform.announce()
        log.info("role.standby", name=self.name)
        # Operations this control processor left unfinished when it was active are undone here
        # (once their engine work has ended); the new active settles the same intents for the device.
        if not await self._ledger.drained(_HANDOVER_SECONDS):
            log.warning("handover.operations_still_running", waited_seconds=_HANDOVER_SECONDS)
        for change in list(self._ledger.desired.open_intents.values()):
            with contextlib.suppress(errors.ContainerzError):
                await self._reconciler.undo(change)
        mirror = asyncio.create_task(self._mirror())
        try:
            if self._yielding:
                await self._let_peer_take_over()
            while True:
                await self._wait_until_current()
                epoch = await self._arbiter.acquire(self.name)
                if not self._outdated.outdated(self.name):
                    return epoch
                # Marked outdated while we waited: the last active acknowledged writes we lack.
                self._arbiter.release(handed_over=False)
        finally:
            mirror.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await mirror

    async def _serve_as_active(self, epoch: int, trigger: SwitchoverTrigger) -> None:
        cut_off = dict(self._ledger.desired.open_intents)
        link = StandbyLink(
            self._peer,
            lambda: self._ledger.epoch,
            outdate=lambda outdated: self._outdated.set(self._config.peer_name, outdated),
        )
        self._link = link
        self._standby_content_complete = False  # until the standby says otherwise
        self._ledger.become_active(epoch, link)
        self._managers.containers.place = self._place_on_active
        self._managers.images.after_load = self._replicate_image
        self._managers.plugins.after_keep = self._replicate_plugin_tarball
        self._me.role, self._other.role = Role.PRIMARY, Role.SECONDARY
        self._set_ready(False)  # until this side's own standby is in sync
        self._me.last_switchover_time_ns = time.time_ns()
        self._me.last_switchover_trigger = trigger
        await self._platform.announce()
        log.info("role.active", name=self.name, epoch=epoch, trigger=trigger.value)
        if self._config.service_listen:
            self._service = await self._bind_service(self._config.service_listen)
        await self._reconciler.take_over(cut_off)
        background = [asyncio.create_task(self._keep_standby_in_sync(link))]
        if self._config.volume_sync_seconds > 0:
            background.append(asyncio.create_task(self._copy_changed_volume_data(self._config.volume_sync_seconds)))
        self._handed_over.clear()
        try:
            await self._handed_over.wait()
        finally:
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._managers.images.after_load = None
            self._managers.plugins.after_keep = None
            self._link = None

    async def _wait_until_current(self) -> None:
        """An outdated standby never takes over: the active acknowledged writes it does not
        have. It waits for the active to bring it back in sync (or to come back itself)."""
        warned = False
        while True:
            if not self._outdated.outdated(self.name):  # a file the active writes: polled
                return
            if not warned:
                log.warning("standby.outdated", name=self.name, action="not taking over until in sync again")
                warned = True
            await asyncio.sleep(_BIND_RETRY_SECONDS * 2)

    async def _let_peer_take_over(self) -> None:
        """After handing over, keep out of the arbiter until the other control processor holds it
        (or plainly cannot: then the device must not stay without an active one)."""
        self._yielding = False
        deadline = asyncio.get_running_loop().time() + _HANDOVER_SECONDS
        while asyncio.get_running_loop().time() < deadline:
            holder = self._arbiter.holder()
            if holder is not None and holder[0] != self.name:
                return
            await asyncio.sleep(_BIND_RETRY_SECONDS)
        log.warning("handover.not_taken", to=self._config.peer_name, waited_seconds=_HANDOVER_SECONDS)

    def _set_ready(self, ready: bool) -> None:
        """Both control processors report the pair's readiness: whether the standby is in sync."""
        self._me.switchover_ready = self._other.switchover_ready = ready

    def _standby_ready(self) -> bool:
        """The standby could take over now: its journal is in sync and it holds every image and
        plugin tarball that journal records."""
        return self._link is not None and self._link.in_sync and self._standby_content_complete

    def _place_on_active(self, location: Location) -> Placement:
        return on_active(self._link is not None and self._link.in_sync)(location)

    async def _keep_standby_in_sync(self, link: StandbyLink) -> None:
        placed_with_standby = False  # how take_over placed the containers
        while True:
            link.changed.clear()
            await link.sync(self._ledger.store)
            ready = self._standby_ready()
            if ready != self._me.switchover_ready:
                self._set_ready(ready)
                await self._platform.announce()
            if link.in_sync != placed_with_standby:
                placed_with_standby = link.in_sync
                # L_BACKUP containers move to or from this control processor.
                await self._reconciler.converge(bring_up=True)
            if link.in_sync:
                await link.changed.wait()  # also set when the standby's content changes
            else:
                await asyncio.sleep(_PEER_POLL_SECONDS)

    async def _bind_service(self, listen: str) -> grpc.aio.Server:
        """The old active may still hold the address for a moment: retry until it lets go."""
        for _ in range(_BIND_ATTEMPTS):
            try:
                return await self._start_service(listen)
            except OSError:
                await asyncio.sleep(_BIND_RETRY_SECONDS)
        raise OSError(f"cannot bind the service address {listen}: something else holds it")

    async def step_down(self, reason: str) -> bool:
        """Hand over because this control processor cannot do its job (its engine is gone), if
        the standby is ready to take it; return whether it did."""
        if not self.active or not self._standby_ready():
            return False
        log.warning("handover.step_down", name=self.name, reason=reason)
        await self._hand_over(planned=False)
        return True

    async def _hand_over(self, planned: bool = True) -> None:
        """Hold writes, stop what moves, let go of mastership. Planned, the next holder sees a
        user-initiated switchover; a step-down shows as system-initiated."""
        log.info("handover.start", name=self.name, to=self._config.peer_name, planned=planned)
        async with self._ledger.frozen():
            if self._service is not None:
                await self._service.stop(0.5)
                self._service = None
            await self._stop_containers_that_move()
            await self._copy_volume_data()
            self._yielding = True
            self._arbiter.release(handed_over=planned)
            self._ledger.become_standby()
        self._handed_over.set()
        log.info("handover.done", name=self.name)

    async def _stop_containers_that_move(self) -> None:
        async def remove(name: str) -> None:
            with contextlib.suppress(errors.ContainerzError):
                await self._engine.remove_container(name, force=True)

        moving = [
            name
            for name, record in self._ledger.desired.of(Kind.CONTAINER).items()
            if not on_standby(recorded.container_spec(record).location).runs_here  # L_ALL and L_BACKUP stay
        ]
        await asyncio.gather(*(remove(name) for name in moving))

    async def _copy_volume_data(self) -> None:
        """Give the standby this side's volume contents: what the moving containers wrote."""
        for name in list(self._ledger.desired.of(Kind.VOLUME)):
            await self._copy_volume(name, "handover")

    async def _copy_changed_volume_data(self, interval: float) -> None:
        """Every ``interval`` seconds while the standby is ready, copy it the volumes whose
        contents changed: what a crash of this control processor can lose of them is bounded
        by the interval plus one copy. Volumes that containers use on the standby too (L_ALL,
        L_BACKUP) keep the standby's own contents until a planned switchover."""
        copied: dict[str, str] = {}  # volume: signature of the contents last copied
        while True:
            await asyncio.sleep(interval)
            if not self._standby_ready():
                copied.clear()  # the standby may have missed copies: start over when it is back
                continue
            shared = self._volumes_used_on_standby()
            for name in list(self._ledger.desired.of(Kind.VOLUME)):
                if name not in shared:
                    signature = await self._copy_volume(name, "volume_sync", unless=copied.get(name))
                    if signature is not None:
                        copied[name] = signature

    def _volumes_used_on_standby(self) -> set[str]:
        return {
            mount.volume
            for record in self._ledger.desired.of(Kind.CONTAINER).values()
            for spec in [recorded.container_spec(record)]
            if on_standby(spec.location).runs_here
            for mount in spec.volumes
        }

    async def _copy_volume(self, name: str, why: str, unless: str | None = None) -> str | None:
        """Copy volume ``name``'s contents to the standby, unless their signature is ``unless``;
        return the signature of what the standby now holds (None if nothing was copied)."""
        try:
            volume = await self._engine.inspect_volume(name)
        except errors.ContainerzError as exc:  # the engine is gone: its volumes stay where they are
            log.warning(f"{why}.volume_not_copied", volume=name, reason=exc.message)
            return None
        data = await _local_data(volume) if volume is not None and volume.holds_its_own_data else None
        if data is None:
            return None
        async with self._volume_copy:
            archive = self._scratch / f"volume-{name}.tar"
            try:
                signature = await asyncio.to_thread(volumedata.signature, data)
                if signature == unless:
                    return signature
                await asyncio.to_thread(volumedata.pack, data, archive)
                await self._peer.put_volume_data(self._ledger.epoch, name, volumedata.read_chunks(archive))
                log.info(f"{why}.volume_copied", volume=name)
                return signature
            except (ConnectionError, PeerError, OSError, errors.ContainerzError) as exc:
                log.warning(f"{why}.volume_not_copied", volume=name, reason=str(exc))
                return None
            finally:
                await discard(archive)

    async def receive_volume_data(self, epoch: int, name: str, chunks: AsyncIterator[bytes]) -> None:
        """On the standby: replace volume ``name``'s contents with the active's."""
        if self.active:
            raise errors.FailedPrecondition("volume data reached the active control processor")
        if epoch < self._ledger.epoch:
            raise errors.FailedPrecondition(f"volume data from epoch {epoch}, older than {self._ledger.epoch}")
        record = self._ledger.desired.of(Kind.VOLUME).get(name)
        if record is None:
            raise errors.NotFound(f"volume {name} is not in the journal")
        await self._managers.volumes.converge(name)
        volume = await self._engine.inspect_volume(name)
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

    # ------------------------------------------------------------------ mirroring (standby)

    def _journaled(self) -> dict[Kind, set[str]]:
        """What the journal has, and what it is being asked to make (an image may reach the
        standby before its outcome is recorded), per kind."""
        desired = self._ledger.desired
        known = {kind: set(desired.of(kind)) for kind in Kind}
        for change in desired.open_intents.values():
            known[change.kind].add(change.key)
        return known

    async def _mirror(self) -> None:
        mirrored = self._journaled()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._mirror_wanted.wait(), _MIRROR_SECONDS)
            self._mirror_wanted.clear()
            try:
                now = self._journaled()
                # Removed, or never made after all: gone from this engine too.
                for kind in _USERS_FIRST:
                    for key in sorted(mirrored[kind] - now[kind]):
                        await self._reconciler.forget(kind, key)
                mirrored = now
                await self._fetch_missing_images()
                await self._fetch_missing_plugin_tarballs()
                self._content_complete = True
                await self._reconciler.converge(bring_up=True)
            except (errors.ContainerzError, ConnectionError) as exc:
                log.warning("mirror.failed", reason=str(exc), content_complete=self._content_complete)

    async def _fetch_missing_images(self) -> None:
        """Fetch each recorded image this engine lacks, or holds in another version than the
        journal records (a name:tag deployed again while this standby was away)."""
        changing = self._being_changed(Kind.IMAGE)
        for reference, record in list(self._ledger.desired.of(Kind.IMAGE).items()):
            if reference in changing:
                continue  # the active is deploying it again and sends it before the outcome
            expected = recorded.image_id(record)
            local = await self._engine.inspect_image(reference)
            if local is None or (expected is not None and local.id != expected):
                self._content_complete = False
                await self.fetch_image(reference, expected)

    def _being_changed(self, kind: Kind) -> set[str]:
        return {change.key for change in self._ledger.desired.open_intents.values() if change.kind is kind}

    async def fetch_image(self, reference: str, expected_id: str | None = None) -> None:
        """Load ``reference`` into this engine from the other control processor's."""
        name, _, tag = reference.rpartition(":")
        chunks = self._peer.fetch_image(reference)
        image = await self._managers.images.mirror(name, tag, chunks, expected_id)
        log.info("mirror.image_fetched", image=reference, id=image.id)

    async def _fetch_missing_plugin_tarballs(self) -> None:
        changing = self._being_changed(Kind.PLUGIN_TARBALL)
        for name, record in list(self._ledger.desired.of(Kind.PLUGIN_TARBALL).items()):
            if name in changing:
                continue
            expected = str(record.get("sha256", ""))
            if expected and await self._managers.plugins.checksum(name) != expected:
                self._content_complete = False
                await self.fetch_plugin_tarball(name, expected)

    async def fetch_plugin_tarball(self, name: str, sha256: str) -> None:
        """Keep plugin tarball ``name`` as the other control processor has it."""
        await self._managers.plugins.mirror_tarball(name, self._peer.fetch_plugin_tarball(name), sha256)
        log.info("mirror.plugin_tarball_fetched", plugin=name, sha256=sha256)

    async def prefetch_plugin_tarball(self, epoch: int, name: str, sha256: str) -> None:
        """The active asks (before it records a plugin tarball as deployed) that we hold it already."""
        self._check_prefetch(epoch)
        await self.fetch_plugin_tarball(name, sha256)

    def _check_prefetch(self, epoch: int) -> None:
        if self.active:
            raise errors.FailedPrecondition("prefetch reached the active control processor")
        if epoch < self._ledger.epoch:
            raise errors.FailedPrecondition(f"prefetch from epoch {epoch}, older than {self._ledger.epoch}")

    async def _replicate_plugin_tarball(self, name: str, sha256: str) -> None:
        """On the active: the standby must hold a plugin tarball before the record saying it is
        deployed (as for images, see :meth:`_replicate_image`)."""
        await self._replicate(
            f"plugin tarball {name}", self._peer.prefetch_plugin_tarball(self._ledger.epoch, name, sha256)
        )

    async def prefetch(self, epoch: int, reference: str) -> None:
        """The active asks (before it records an image as deployed) that we hold it already."""
        self._check_prefetch(epoch)
        await self.fetch_image(reference)

    async def _replicate_image(self, reference: str) -> None:
        """On the active: the standby must hold an image before the record saying it is deployed.
        A standby that cannot be reached drops to degraded (it fetches the image when back); one
        that is reached but cannot get the image fails the Deploy, which is then undone."""
        await self._replicate(reference, self._peer.prefetch(self._ledger.epoch, reference))

    async def _replicate(self, what: str, prefetch: Coroutine[Any, Any, None]) -> None:
        if self._link is None or not self._link.in_sync:
            prefetch.close()
            return
        try:
            await prefetch
        except ConnectionError as exc:
            log.warning("standby.prefetch_failed", what=what, reason=str(exc))
            self._link.drop(f"could not reach the standby to give it {what}")
        except PeerError as exc:
            raise errors.Unavailable(f"could not copy {what} to the standby ({exc.message}); retry") from exc

    # ------------------------------------------------------------------ the other one

    def _note_standby_content(self, complete: bool) -> None:
        if complete != self._standby_content_complete:
            self._standby_content_complete = complete
            if self._link is not None:
                self._link.changed.set()  # readiness may change: re-evaluate it now

    async def _watch_peer(self) -> None:
        while True:
            try:
                status = await self._peer.status()
            except Exception:  # any failure means it is not there
                changed = self._other.up
                self._other.up = False
                self._note_standby_content(False)
                if self._link is not None and self._link.in_sync:
                    self._link.drop("the standby does not answer")
            else:
                role = Role.PRIMARY if status.active else Role.SECONDARY
                changed = (not self._other.up) or self._other.role is not role
                self._other.up, self._other.role = True, role
                self._other.boot_time_ns = status.boot_time_ns
                self._other.last_switchover_time_ns = status.last_switchover_time_ns
                if status.last_switchover_trigger:
                    self._other.last_switchover_trigger = SwitchoverTrigger(status.last_switchover_trigger)
                if status.active and self._me.switchover_ready != status.switchover_ready:
                    self._set_ready(status.switchover_ready)
                    changed = True
                if not status.active:
                    self._note_standby_content(status.content_complete)
            if not self._other.up:
                # Not there to say: it is whatever we are not.
                role = Role.SECONDARY if self.active else Role.PRIMARY
                changed = changed or self._other.role is not role
                self._other.role = role
            if changed:
                await self._platform.announce()
            await asyncio.sleep(_PEER_POLL_SECONDS)


__all__ = ["Redundancy", "RedundancySettings"]


async def _local_data(volume: VolumeSummary) -> Path | None:
    """The volume's data directory, if the engine keeps it on this machine."""
    if not volume.mountpoint:
        return None
    path = Path(volume.mountpoint)
    return path if await asyncio.to_thread(path.is_dir) else None
