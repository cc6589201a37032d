"""Assemble and run the gRPC server: Containerz, gNOI System, gNMI, health and reflection on one endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from containerz import errors
from containerz.engine.base import Engine
from containerz.engine.docker import DockerEngine
from containerz.gnmi.servicer import GnmiServicer
from containerz.managers import Managers
from containerz.peer.client import channel_options as peer_channel_options
from containerz.peer.service import PeerServicer
from containerz.platform import Platform
from containerz.reconciler import Reconciler
from containerz.redundancy import Redundancy
from containerz.server.servicer import ContainerzServicer
from containerz.settings import Settings
from containerz.standalone import StandaloneControl
from containerz.system.control import ControlPlane
from containerz.system.reboot import RebootHistory, RebootScheduler
from containerz.system.servicer import SystemServicer
from containerz.upload import remove_stale_uploads
from protos.containerz import peer_pb2_grpc
from protos.gnmi.proto.gnmi import gnmi_pb2, gnmi_pb2_grpc
from protos.gnoi.containerz import containerz_pb2, containerz_pb2_grpc
from protos.gnoi.system import system_pb2, system_pb2_grpc
from state import FileEpochStore, FileJournal, FileSnapshotStore, Ledger, NoStandby, StateStore
from state.desired import DesiredState

log = structlog.get_logger(__name__)

CONTAINERZ_SERVICE = containerz_pb2.DESCRIPTOR.services_by_name["Containerz"].full_name
SYSTEM_SERVICE = system_pb2.DESCRIPTOR.services_by_name["System"].full_name
GNMI_SERVICE = gnmi_pb2.DESCRIPTOR.services_by_name["gNMI"].full_name
_ENGINE_CHECK_SECONDS = 2.0
_STEP_DOWN_AFTER_FAILED_CHECKS = 2
# Room for a full chunk plus the message framing around it.
_MESSAGE_HEADROOM = 1024 * 1024


class ContainerzServer:
    """One control processor's server: its gRPC endpoint(s) on its engine.

    Alone (the default) it is the whole device. Given an arbiter and a peer, it is one of two
    control processors (:mod:`containerz.redundancy`): it then also serves the Peer protocol,
    and the device's shared address while it is the active one.
    """

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine: Engine = engine or DockerEngine(settings.docker_host)
        settings.prepare_directories()
        self.redundancy: Redundancy | None = None
        self.ledger = open_ledger(settings.state_dir, on_applied=self._on_applied)
        self.managers = Managers.on(self.engine, settings, self.ledger)
        self.reconciler = Reconciler(self.ledger, self.managers)
        self.control: ControlPlane
        self.standalone: StandaloneControl | None = None
        self.peer_grpc: grpc.aio.Server | None = None
        redundant = settings.redundancy
        if redundant is None:
            # Intents open now were cut off by a crash; the takeover settles them.
            self._cut_off = dict(self.ledger.desired.open_intents)
            self.ledger.become_active(self.ledger.epoch + 1, NoStandby())
            self.platform = Platform.standalone(settings.name)
            self.standalone = StandaloneControl(self.platform, self.engine, self.ledger)
            self.control = self.standalone
        else:
            self._cut_off = {}
            self.redundancy = Redundancy(
                settings.name,
                config=redundant,
                ledger=self.ledger,
                managers=self.managers,
                engine=self.engine,
                reconciler=self.reconciler,
                start_service=self._start_service,
                scratch=settings.uploads_dir,
            )
            self.platform = self.redundancy.platform
            self.control = self.redundancy
        self.reboots = RebootScheduler(RebootHistory(settings.state_dir / "reboots.json"), self.control.cold_reboot)
        self.health = health.aio.HealthServicer()
        self.grpc = self._new_server()
        self._services = [
            CONTAINERZ_SERVICE,
            SYSTEM_SERVICE,
            GNMI_SERVICE,
            health.SERVICE_NAME,
            reflection.SERVICE_NAME,
        ]
        self._watcher: asyncio.Task[None] | None = None
        self._roles: asyncio.Task[None] | None = None
        self.port = 0

    def _on_applied(self, desired: DesiredState) -> None:
        if self.redundancy is not None:
            self.redundancy.on_applied(desired)

    def _new_server(self) -> grpc.aio.Server:
        """A gRPC server with every client-facing service on it (not yet bound)."""
        max_message = self.settings.chunk_size + _MESSAGE_HEADROOM
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", max_message),
                ("grpc.max_send_message_length", max_message),
                # Two processes must never share a port: the service address moves, it is not balanced.
                ("grpc.so_reuseport", 0),
            ]
        )
        containerz_pb2_grpc.add_ContainerzServicer_to_server(  # type: ignore[no-untyped-call]
            ContainerzServicer(self.managers, self.settings.chunk_size), server
        )
        system_pb2_grpc.add_SystemServicer_to_server(  # type: ignore[no-untyped-call]
            SystemServicer(self.control, self.reboots), server
        )
        gnmi_pb2_grpc.add_gNMIServicer_to_server(GnmiServicer(self.platform), server)  # type: ignore[no-untyped-call]
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        return server

    async def _start_service(self, listen: str) -> grpc.aio.Server:
        """Serve the device's shared address (while this control processor is active)."""
        server = self._new_server()
        reflection.enable_server_reflection(self._services, server)
        _bind(server, listen)
        await server.start()
        log.info("service.bound", listen=listen)
        return server

    async def start(self) -> int:
        stale = remove_stale_uploads(self.settings.uploads_dir)
        if stale:
            log.info("uploads.stale_removed", count=stale)
        reflection.enable_server_reflection(self._services, self.grpc)
        # The health servicer starts out SERVING; nothing is served until the engine answers.
        for service in ("", CONTAINERZ_SERVICE):
            await self.health.set(service, health_pb2.HealthCheckResponse.NOT_SERVING)
        self.port = _bind(self.grpc, self.settings.listen)
        await self.grpc.start()
        redundant = self.settings.redundancy
        if self.redundancy is not None and redundant is not None:
            self.peer_grpc = grpc.aio.server(options=peer_channel_options())
            peer_pb2_grpc.add_PeerServicer_to_server(  # type: ignore[no-untyped-call]
                PeerServicer(self.ledger, self.managers, self.redundancy),
                self.peer_grpc,
            )
            _bind(self.peer_grpc, redundant.peer_listen)
            await self.peer_grpc.start()
            self._roles = asyncio.create_task(self.redundancy.run())
        self._watcher = asyncio.create_task(self._watch_engine())
        log.info(
            "server.started",
            name=self.settings.name,
            listen=self.settings.listen,
            port=self.port,
            docker_host=self.settings.docker_host,
            data_dir=str(self.settings.data_dir),
            redundant=redundant is not None,
        )
        return self.port

    async def stop(self, grace_seconds: float = 5.0) -> None:
        for task in (self._watcher, self._roles):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.redundancy is not None:
            await self.redundancy.close()
        if self.peer_grpc is not None:
            await self.peer_grpc.stop(grace_seconds)
        await self.grpc.stop(grace_seconds)
        self.ledger.close()
        log.info("server.stopped")

    async def _watch_engine(self) -> None:
        """Report the engine's reachability through the health service, and log each change.

        The first time the engine answers, the journal's desired state is restored on it
        (the takeover); after that, every reconcile interval, whatever it lost is recreated.
        Health says SERVING only once the takeover is done.
        """
        reachable: bool | None = None
        taken_over = False
        next_reconcile = 0.0
        failed_checks = 0
        loop = asyncio.get_running_loop()
        while True:
            try:
                await asyncio.wait_for(self.engine.ping(), timeout=_ENGINE_CHECK_SECONDS + 1)
                now_reachable, reason = True, ""
                failed_checks = 0
            except (errors.ContainerzError, TimeoutError) as exc:
                now_reachable, reason = False, getattr(exc, "message", "no answer to a ping")
                failed_checks += 1
            if failed_checks == _STEP_DOWN_AFTER_FAILED_CHECKS and self.redundancy is not None:
                # An active control processor without an engine runs nothing: let the standby.
                await self.redundancy.step_down(f"the engine does not answer: {reason}")
            if now_reachable and not taken_over:
                taken_over = await self._take_over()
                next_reconcile = loop.time() + self.settings.reconcile_interval_seconds
            elif now_reachable and self.ledger.active and loop.time() >= next_reconcile:
                await self._reconcile_drift()
                next_reconcile = loop.time() + self.settings.reconcile_interval_seconds
            serving = now_reachable and taken_over
            if serving != reachable:
                status = (
                    health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
                )
                for service in ("", CONTAINERZ_SERVICE):
                    await self.health.set(service, status)
                if serving:
                    log.info("engine.reachable", docker_host=self.engine.endpoint)
                elif not now_reachable:
                    log.warning("engine.unreachable", docker_host=self.engine.endpoint, reason=reason)
                reachable = serving
            await asyncio.sleep(_ENGINE_CHECK_SECONDS)

    async def _take_over(self) -> bool:
        if self.redundancy is not None:
            return True  # the role loop takes over when this control processor becomes active
        try:
            await self.reconciler.take_over(self._cut_off)
        except errors.ContainerzError as exc:
            log.warning("reconcile.takeover_failed", reason=exc.message)
            return False
        self._cut_off = {}
        return True

    async def _reconcile_drift(self) -> None:
        try:
            await self.reconciler.converge(bring_up=False)
        except errors.ContainerzError as exc:
            log.warning("reconcile.failed", reason=exc.message)


def open_ledger(directory: Path, on_applied: Callable[[DesiredState], None] | None = None) -> Ledger:
    return Ledger(
        FileJournal(directory / "journal"), FileSnapshotStore(directory), FileEpochStore(directory), on_applied
    )


def open_state(directory: Path) -> StateStore:
    """Open the journal as the only control processor: a new epoch, before serving."""
    ledger = open_ledger(directory)
    return ledger.become_active(ledger.epoch + 1, NoStandby())


def _bind(server: grpc.aio.Server, listen: str) -> int:
    try:
        port: int = server.add_insecure_port(listen)
    except RuntimeError as exc:  # grpcio raises where older versions returned 0
        raise OSError(f"cannot listen on {listen}: address in use or not available ({exc})") from exc
    if port == 0:
        raise OSError(f"cannot listen on {listen}: address in use or not available")
    return port


@dataclass(frozen=True)
class Outcome:
    """How serving ended: stopped, or to be restarted (a cold reboot) on ``listen``."""

    reboot: bool
    listen: str


async def serve(settings: Settings, ready_file: Path | None = None) -> Outcome:
    """Run until SIGINT or SIGTERM, or until a cold reboot asks for a restart."""
    server = ContainerzServer(settings)
    port = await server.start()
    if ready_file is not None:
        await asyncio.to_thread(ready_file.write_text, f"{port}\n")
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    rebooting = server.control.reboot_requested
    waits = [asyncio.ensure_future(stopping.wait()), asyncio.ensure_future(rebooting.wait())]
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for wait in waits:
        wait.cancel()
    await server.stop()
    host = settings.listen.rsplit(":", 1)[0]
    return Outcome(reboot=rebooting.is_set(), listen=f"{host}:{port}")
