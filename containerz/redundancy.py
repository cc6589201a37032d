"""One of two control processors: standby until it holds mastership, then active until it hands over.

The arbiter (an exclusive lock both control processors can see) decides who is active. The
standby follows the active's journal over the Peer link and mirrors it on its own engine
(:mod:`containerz.mirror`): images and plugin tarballs fetched from the active, plugins,
volumes, and the containers placed on it (L_BACKUP, L_ALL). The active takes writes, replicates
each record (and the content it names) before answering (see :mod:`state.replication`), copies
changed volume contents to the standby (:mod:`containerz.volumecopy`), binds the device's shared
service address and runs what is placed on it. A planned switchover holds writes, stops the
containers that move, copies every volume, releases mastership and lets the standby take it; a
crash releases it too (the kernel drops the lock).
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
from containerz import errors
from containerz.engine.base import Engine
from containerz.managers import Managers
from containerz.mirror import StandbyMirror
from containerz.model import Location
from containerz.peer.client import PeerClient, PeerError
from containerz.placement import Placement, on_active, on_standby
from containerz.platform import ControlProcessor, Platform, Role, SwitchoverTrigger
from containerz.reconciler import Reconciler
from containerz.settings import RedundancySettings
from containerz.volumecopy import VolumeCopier
from protos.containerz import peer_pb2 as pb
from state import FileArbiter, Kind, Ledger, StandbyLink
from state.arbiter import OutdatedMark
from state.desired import DesiredState

log = structlog.get_logger(__name__)

_PEER_POLL_SECONDS = 1.0
_BIND_RETRY_SECONDS = 0.05
_BIND_ATTEMPTS = 200
# How long a control processor that handed over waits for the other to take mastership.
_HANDOVER_SECONDS = 10.0


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
        self._arbiter = FileArbiter(config.arbiter)
        self._outdated = OutdatedMark(config.arbiter.with_name(config.arbiter.name + ".outdated"))
        self._peer = PeerClient(config.peer_address)
        self._link: StandbyLink | None = None
        self._service: grpc.aio.Server | None = None
        self._handed_over = asyncio.Event()
        self._yielding = False
        self.reboot_requested = asyncio.Event()
        self._mirror = StandbyMirror(ledger, managers, reconciler, self._peer)
        self._volumes = VolumeCopier(ledger, managers, self._peer, scratch)
        # On the active: what the standby last said of its content.
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
            content_complete=self._mirror.content_complete,
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
            self._loop.call_soon_threadsafe(self._mirror.wake)

    async def _serve_as_standby(self) -> int:
        self._ledger.become_standby()
        self._managers.containers.place = on_standby
        self._me.role = Role.SECONDARY
        self._set_ready(False)
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
        mirror = asyncio.create_task(self._mirror.run())
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
            copying = self._volumes.copy_changed_every(self._config.volume_sync_seconds, self._standby_ready)
            background.append(asyncio.create_task(copying))
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
            await self._volumes.copy_all()
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

    async def receive_volume_data(self, epoch: int, name: str, chunks: AsyncIterator[bytes]) -> None:
        """On the standby: replace volume ``name``'s contents with the active's."""
        self._check_from_active("volume data", epoch)
        await self._volumes.receive(name, chunks)

    # ------------------------------------------------------------------ content (images, tarballs)

    async def prefetch_plugin_tarball(self, epoch: int, name: str, sha256: str) -> None:
        """The active asks (before it records a plugin tarball as deployed) that we hold it already."""
        self._check_from_active("prefetch", epoch)
        await self._mirror.fetch_plugin_tarball(name, sha256)

    def _check_from_active(self, what: str, epoch: int) -> None:
        if self.active:
            raise errors.FailedPrecondition(f"{what} reached the active control processor")
        if epoch < self._ledger.epoch:
            raise errors.FailedPrecondition(f"{what} from epoch {epoch}, older than {self._ledger.epoch}")

    async def _replicate_plugin_tarball(self, name: str, sha256: str) -> None:
        """On the active: the standby must hold a plugin tarball before the record saying it is
        deployed (as for images, see :meth:`_replicate_image`)."""
        await self._replicate(
            f"plugin tarball {name}", self._peer.prefetch_plugin_tarball(self._ledger.epoch, name, sha256)
        )

    async def prefetch(self, epoch: int, reference: str) -> None:
        """The active asks (before it records an image as deployed) that we hold it already."""
        self._check_from_active("prefetch", epoch)
        await self._mirror.fetch_image(reference)

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
