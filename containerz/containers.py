"""Containers: start, stop, update, remove, list and read logs, on the engine."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import secrets
import socket
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, aclosing

import structlog

from containerz import desired, errors
from containerz.engine.base import Engine
from containerz.locks import KeyedLocks
from containerz.model import (
    LABEL_PREFIX,
    PORTS_LABEL,
    ContainerSpec,
    ContainerState,
    ContainerSummary,
)
from containerz.placement import Placer, single_card
from containerz.settings import Settings
from state import Kind, StateWriter

log = structlog.get_logger(__name__)

PREVIOUS_SUFFIX = "-containerz-previous"


def generated_instance_name(image: str) -> str:
    base = image.rsplit("/", 1)[-1].replace("_", "-")
    return f"{base}-{secrets.token_hex(4)}"


def declared_ports(labels: Mapping[str, str]) -> set[int]:
    text = labels.get(PORTS_LABEL, "")
    return {int(pair.split(":")[1]) for pair in text.split(",") if ":" in pair}


class ContainerManager:
    def __init__(self, engine: Engine, settings: Settings, state: StateWriter) -> None:
        self._engine = engine
        self._state = state
        # Where each location runs; the redundancy manager replaces it as roles change.
        self.place: Placer = single_card
        self._grace_seconds = settings.stop_grace_seconds
        self._locks = KeyedLocks()
        self._updates: set[str] = set()
        self._background: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ start

    async def start(self, spec: ContainerSpec) -> str:
        """Create and start a new container from ``spec``."""
        name = spec.instance_name
        async with self._locks.hold(name):
            existing = await self._engine.inspect_container(name)
            if existing is not None:
                if existing.state is ContainerState.RUNNING:
                    raise errors.AlreadyExists(f"container {name} is already running")
                raise errors.AlreadyExists(
                    f"container {name} already exists ({existing.state.value}); send StartContainer with only "
                    "instance_name to start it again, or RemoveContainer it first"
                )
            await self._check_dependencies(spec)
            runs_here = self.place(spec.location).runs_here
            if runs_here:
                await self._check_ports_declared(spec, replacing=None)
                await self._check_ports_free(spec)
            async with self._state.change(desired.put_container(spec, ContainerState.RUNNING)):
                if runs_here:  # otherwise the standby starts it when the record reaches it
                    await self._create_and_start(spec)
            return name

    async def start_existing(self, name: str) -> str:
        """Start a stopped container again (StartContainer with only ``instance_name``)."""
        async with self._locks.hold(name):
            existing = await self._engine.inspect_container(name)
            if existing is None:
                raise errors.NotFound(f"no container named {name}; give image_name (and tag) to create one")
            if existing.state is ContainerState.RUNNING:
                raise errors.AlreadyExists(f"container {name} is already running")
            async with self._recording(name, ContainerState.RUNNING):
                try:
                    await self._engine.start_container(name)
                except errors.ContainerzError as exc:
                    raise _start_error(exc) from exc
            return name

    def _placed_elsewhere(self, name: str) -> bool:
        """Recorded, but meant to run on the other control processor."""
        recorded = self._state.desired.of(Kind.CONTAINER).get(name)
        return recorded is not None and not self.place(desired.container_spec(recorded).location).runs_here

    def _recording(self, name: str, wanted: ContainerState) -> AbstractAsyncContextManager[object]:
        """Journal ``name``'s new desired state around the engine work, if the journal knows it."""
        recorded = self._state.desired.of(Kind.CONTAINER).get(name)
        if recorded is None:  # created before the journal existed, or by someone else
            return contextlib.nullcontext()
        return self._state.change(desired.put_container(desired.container_spec(recorded), wanted))

    async def _check_dependencies(self, spec: ContainerSpec) -> None:
        if await self._engine.inspect_image(spec.image_ref) is None:
            raise errors.NotFound(f"image {spec.image_ref} not found; Deploy it first (ListImage shows what is there)")
        for mount in spec.volumes:
            if await self._engine.inspect_volume(mount.volume) is None:
                raise errors.NotFound(f"volume {mount.volume} not found; create it with CreateVolume first")

    async def _check_ports_declared(self, spec: ContainerSpec, replacing: str | None) -> None:
        wanted = {p.external for p in spec.ports}
        if not wanted:
            return
        for other in await self._engine.list_containers(all=False, filters={}):
            if other.name in (replacing, spec.instance_name):
                continue
            clash = wanted & declared_ports(other.labels)
            if clash:
                raise errors.Unavailable(f"host port(s) {sorted(clash)} are used by running container {other.name}")

    async def _check_ports_free(self, spec: ContainerSpec) -> None:
        busy = [p.external for p in spec.ports if not await asyncio.to_thread(_host_port_free, p.external)]
        if busy:
            raise errors.Unavailable(f"host port(s) {busy} are already in use on the device")

    def _labels(self, spec: ContainerSpec) -> dict[str, str]:
        labels = dict(spec.labels)
        labels.update(self.place(spec.location).labels(spec.location))
        if spec.ports:
            labels[PORTS_LABEL] = ",".join(f"{p.internal}:{p.external}" for p in spec.ports)
        return labels

    async def _create_and_start(self, spec: ContainerSpec) -> None:
        """Create then start; a container that fails to start is removed, never left half-made."""
        await self._engine.create_container(spec, self._labels(spec))
        try:
            await self._engine.start_container(spec.instance_name)
        except errors.ContainerzError as exc:
            await self._remove_quietly(spec.instance_name)
            raise _start_error(exc) from exc

    async def _remove_quietly(self, name: str) -> None:
        try:
            await self._engine.remove_container(name, force=True)
        except errors.ContainerzError as exc:
            log.warning("container.cleanup_failed", instance=name, reason=exc.message)

    # ------------------------------------------------------------------ stop / remove

    async def stop(self, name: str, force: bool, restart: bool) -> None:
        async with self._locks.hold(name):
            existing = await self._engine.inspect_container(name)
            if existing is None and self._placed_elsewhere(name):
                async with self._recording(name, ContainerState.RUNNING if restart else ContainerState.STOPPED):
                    return
            if existing is None:
                raise errors.NotFound(f"no container named {name}")
            if existing.state is not ContainerState.RUNNING:
                raise errors.FailedPrecondition(f"container {name} is not running ({existing.state.value})")
            # A stop with no grace period is a kill that Docker also records as a user stop,
            # so restart policies do not bring the container straight back.
            async with self._recording(name, ContainerState.RUNNING if restart else ContainerState.STOPPED):
                await self._engine.stop_container(name, grace_seconds=0 if force else self._grace_seconds)
                if restart:
                    await self._engine.start_container(name)

    async def remove(self, name: str, force: bool) -> None:
        async with self._locks.hold(name):
            existing = await self._engine.inspect_container(name)
            if existing is None and self._placed_elsewhere(name):
                async with self._state.change(desired.remove(Kind.CONTAINER, name)):
                    return
            if existing is None:
                raise errors.NotFound(f"no container named {name}")
            if existing.state is ContainerState.RUNNING and not force:
                raise errors.FailedPrecondition(
                    f"container {name} is running; StopContainer it first or set force to remove it anyway"
                )
            async with self._state.change(desired.remove(Kind.CONTAINER, name)):
                await self._engine.remove_container(name, force=force)

    # ------------------------------------------------------------------ update

    async def update(self, spec: ContainerSpec, run_async: bool) -> bool:
        """Replace a container with one built from ``spec``; return True when it runs in the background."""
        name = spec.instance_name
        if name in self._updates:
            raise errors.Unavailable(f"an update of {name} is already in progress; retry when it has finished")
        existing = await self._engine.inspect_container(name)
        if existing is None:
            raise errors.NotFound(f"no container named {name} to update")
        await self._check_dependencies(spec)
        await self._check_ports_declared(spec, replacing=name)
        self._updates.add(name)
        if not run_async:
            try:
                await self._replace_recorded(existing, spec)
            finally:
                self._updates.discard(name)
            return False
        task = asyncio.create_task(self._replace_in_background(existing, spec))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return True

    async def _replace_recorded(self, existing: ContainerSummary, spec: ContainerSpec) -> None:
        async with self._state.change(desired.put_container(spec, ContainerState.RUNNING)):
            await self._replace(existing, spec)

    async def _replace_in_background(self, existing: ContainerSummary, spec: ContainerSpec) -> None:
        try:
            await self._replace_recorded(existing, spec)
            log.info("container.update_done", instance=spec.instance_name, image=spec.image_ref)
        except errors.ContainerzError as exc:  # nobody awaits this task: the log is the report
            log.error("container.update_failed", instance=spec.instance_name, reason=exc.message)  # noqa: TRY400
        finally:
            self._updates.discard(spec.instance_name)

    async def _replace(self, existing: ContainerSummary, spec: ContainerSpec) -> None:
        """Break before make: stop and set aside the old container, start the new, restore on failure."""
        name = spec.instance_name
        previous = f"{name}{PREVIOUS_SUFFIX}"
        async with self._locks.hold(name):
            if await self._engine.inspect_container(previous) is not None:
                await self._engine.remove_container(previous, force=True)
            was_running = existing.state is ContainerState.RUNNING
            if was_running:
                await self._engine.stop_container(name, grace_seconds=self._grace_seconds)
            await self._engine.rename_container(name, previous)
            try:
                await self._check_ports_free(spec)
                await self._create_and_start(spec)
            except errors.ContainerzError as exc:
                await self._restore(name, previous, was_running)
                if isinstance(exc, errors.Unavailable):
                    raise
                raise type(exc)(f"update of {name} failed, previous container restored: {exc.message}") from exc
            await self._remove_quietly(previous)

    async def _restore(self, name: str, previous: str, was_running: bool) -> None:
        if await self._engine.inspect_container(name) is not None:
            await self._remove_quietly(name)
        await self._engine.rename_container(previous, name)
        if was_running:
            await self._engine.start_container(name)

    # ------------------------------------------------------------------ reconcile

    async def converge(self, name: str, bring_up: bool) -> str | None:
        """Make container ``name`` match its journal record; say what was done, if anything.

        A missing container is always recreated. Starting or stopping an existing one to
        match only happens with ``bring_up`` (at boot or takeover): between those, a container
        that exits by itself is left to its restart policy, as the client asked.
        """
        async with self._locks.hold(name):
            # Read again under the lock: a client may have changed or removed it meanwhile.
            current = self._state.desired.of(Kind.CONTAINER).get(name)
            if current is None:
                return None
            spec = desired.container_spec(current)
            wanted = desired.desired_container_state(current)
            existing = await self._engine.inspect_container(name)
            if not self.place(spec.location).runs_here:
                if existing is None:
                    return None
                await self._engine.remove_container(name, force=True)
                return "removed: it runs on the other control processor"
            if existing is None:
                if await self._engine.inspect_image(spec.image_ref) is None:
                    raise errors.NotFound(f"cannot recreate container {name}: image {spec.image_ref} is missing")
                await self._engine.create_container(spec, self._labels(spec))
                if wanted is ContainerState.RUNNING:
                    await self._engine.start_container(name)
                return f"recreated ({wanted.value})"
            running = existing.state is ContainerState.RUNNING
            if bring_up and wanted is ContainerState.RUNNING and not running:
                await self._engine.start_container(name)
                return "started"
            if bring_up and wanted is ContainerState.STOPPED and running:
                await self._engine.stop_container(name, grace_seconds=self._grace_seconds)
                return "stopped"
            return None

    def placed_as_recorded(self, name: str, present: set[str]) -> bool:
        """Whether container ``name`` is on this engine (``present`` lists what is) exactly
        when its recorded location says it runs here."""
        record = self._state.desired.of(Kind.CONTAINER).get(name)
        if record is None:
            return True
        return (name in present) == self.place(desired.container_spec(record).location).runs_here

    async def discard(self, name: str) -> None:
        """Remove container ``name`` from this engine if it is there."""
        async with self._locks.hold(name):
            if await self._engine.inspect_container(name) is not None:
                await self._engine.remove_container(name, force=True)

    async def roll_back(self, name: str) -> str | None:
        """Undo a start or update of ``name`` that a crash cut off before its outcome was recorded."""
        previous = f"{name}{PREVIOUS_SUFFIX}"
        async with self._locks.hold(name):
            if await self._engine.inspect_container(previous) is not None:
                if await self._engine.inspect_container(name) is not None:
                    await self._engine.remove_container(name, force=True)
                await self._engine.rename_container(previous, name)
                return "previous container restored"
            if await self._engine.inspect_container(name) is not None:
                # Not recorded as made: remove it; converge recreates the recorded one, if any.
                await self._engine.remove_container(name, force=True)
                return "removed"
            return None

    # ------------------------------------------------------------------ read

    async def list(self, all: bool, limit: int, filters: Mapping[str, Sequence[str]]) -> list[ContainerSummary]:
        found = sorted(await self._engine.list_containers(all=all, filters=filters), key=lambda c: c.name)
        found = [self._as_recorded(c) for c in found]
        return found[:limit] if limit > 0 else found

    def _as_recorded(self, container: ContainerSummary) -> ContainerSummary:
        """A container recreated from the journal as stopped was created but never started:
        the engine says PRESENT, the client stopped it, so it is STOPPED."""
        if container.state is not ContainerState.PRESENT:
            return container
        recorded = self._state.desired.of(Kind.CONTAINER).get(container.name)
        if recorded is None or desired.desired_container_state(recorded) is not ContainerState.STOPPED:
            return container
        return dataclasses.replace(container, state=ContainerState.STOPPED)

    async def logs(self, name: str, follow: bool) -> AsyncGenerator[str, None]:
        """The container's output, one line at a time, each with its newline (as clients print it)."""
        if await self._engine.inspect_container(name) is None:
            raise errors.NotFound(f"no container named {name}")
        pending = b""
        async with aclosing(self._engine.container_logs(name, follow)) as chunks:
            async for chunk in chunks:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", "replace") + "\n"
        if pending:
            yield pending.decode("utf-8", "replace")


def reserved_labels(labels: Mapping[str, str]) -> list[str]:
    return sorted(key for key in labels if key.startswith(LABEL_PREFIX))


def _host_port_free(port: int) -> bool:
    for family, address in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind((address, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return False
                if exc.errno != errno.EADDRNOTAVAIL:  # no IPv6 on this host is not a clash
                    raise
    return True


def _start_error(exc: errors.ContainerzError) -> errors.ContainerzError:
    """Re-classify the engine's start failures into the codes the proto documents."""
    text = exc.message.lower()
    if "port is already allocated" in text or "address already in use" in text:
        return errors.Unavailable(exc.message)
    if "unable to find user" in text or "no matching entries in passwd" in text or "invalid user" in text:
        return errors.FailedPrecondition(f"run_as: {exc.message}")
    if "executable file not found" in text or "no such file or directory" in text:
        return errors.InvalidArgument(f"cmd: {exc.message}")
    return exc
