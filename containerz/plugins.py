"""Managed plugins: keep deployed plugin tarballs, and run them as Docker managed plugins.

A deployed plugin is the plugin's root filesystem as a tarball; StartPlugin pairs it
with the JSON config from the request to build Docker's plugin context (``config.json``
plus ``rootfs/``). Docker names the plugin ``<instance_name>:latest``.

Both are desired state: a tarball is journaled with its SHA-256 and reaches the standby before
its Deploy is acknowledged; a plugin instance is journaled with its config and whether it is
enabled. Plugins extend the engine (volume drivers, log drivers...), so like volumes they are
made on both control processors' engines.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import io
import json
import os
import secrets
import tarfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from pathlib import Path

import aiofiles
import structlog

from containerz import desired, errors
from containerz.engine.base import Engine
from containerz.fsutil import atomic_replace, discard, finish_despite_cancellation, fsync_directory, read_chunks
from containerz.locks import KeyedLocks
from containerz.model import PluginSummary
from containerz.settings import Settings
from containerz.upload import PARTIAL_SUFFIX, Upload
from state import Kind, StateWriter

log = structlog.get_logger(__name__)

_PREVIOUS_SUFFIX = ".previous"
_INSTANCE_FILE = ".containerz-instance"
_READ_CHUNK_BYTES = 4 << 20


def docker_plugin_name(instance_name: str) -> str:
    return instance_name if ":" in instance_name else f"{instance_name}:latest"


class PluginManager:
    def __init__(self, engine: Engine, settings: Settings, state: StateWriter) -> None:
        self._engine = engine
        self._state = state
        self._tarballs = settings.plugins_dir
        self._scratch = settings.uploads_dir
        self._enable_timeout = settings.plugin_enable_timeout_seconds
        self._locks = KeyedLocks()
        # Run after a tarball is in place and before it is recorded as deployed: the active
        # uses it to get the tarball onto the standby first.
        self.after_keep: Callable[[str, str], Awaitable[None]] | None = None
        self._checksums: dict[Path, tuple[tuple[int, int, int], str]] = {}

    # ------------------------------------------------------------------ tarballs

    def tarball(self, name: str) -> Path:
        return self._tarballs / f"{name}.tar"

    def receive(self, name: str, size: int) -> Upload:
        """An upload of ``size`` bytes kept, once complete, as the tarball of plugin ``name``."""
        self._state.check_writable()
        return Upload(self._scratch, size, label=f"Deploy plugin {name}", keep=functools.partial(self._keep, name))

    async def _keep(self, name: str, received: Path, sha256: str) -> None:
        """Put a received tarball in place under the journal's intent. The tarball it replaces
        is set aside until the outcome is recorded, so a failure or a crash can put it back."""
        target = self.tarball(name)
        size = (await asyncio.to_thread(received.stat)).st_size
        async with self._locks.hold(_tarball_key(name)):
            async with self._state.change(desired.put_plugin_tarball(name)) as operation:
                await asyncio.to_thread(_set_aside, target)
                try:
                    await asyncio.to_thread(atomic_replace, received, target)
                    if self.after_keep is not None:
                        await self.after_keep(name, sha256)
                except BaseException:
                    await finish_despite_cancellation(self._put_back(name))
                    raise
                operation.facts.update(desired.tarball_facts(sha256, size))
            await discard(_previous(target))
        log.info("plugin.tarball_kept", plugin=name, sha256=sha256, size=size)

    async def _put_back(self, name: str) -> str | None:
        target = self.tarball(name)
        previous = _previous(target)
        if await asyncio.to_thread(previous.exists):
            await asyncio.to_thread(atomic_replace, previous, target)
            return "restored"
        return await self._remove_unless_recorded(name)

    async def _remove_unless_recorded(self, name: str) -> str | None:
        path = self.tarball(name)
        if name in self._state.desired.of(Kind.PLUGIN_TARBALL) or not await asyncio.to_thread(path.exists):
            return None
        await asyncio.to_thread(_unlink_durably, path)
        return "removed"

    async def roll_back_tarball(self, name: str) -> str | None:
        """Put back the tarball a Deploy cut off by a crash replaced (or remove it, if it was new)."""
        async with self._locks.hold(_tarball_key(name)):
            return await self._put_back(name)

    async def remove_tarball(self, name: str) -> None:
        path = self.tarball(name)
        async with self._locks.hold(_tarball_key(name)):
            if not await asyncio.to_thread(path.exists):
                raise errors.NotFound(f"no deployed plugin tarball named {name}")
            async with self._state.change(desired.remove(Kind.PLUGIN_TARBALL, name)):
                await asyncio.to_thread(_unlink_durably, path)

    async def discard_tarball(self, name: str) -> str | None:
        """Delete tarball ``name`` from this control processor (the standby mirroring a removal)."""
        async with self._locks.hold(_tarball_key(name)):
            return await self._remove_unless_recorded(name)

    async def checksum(self, name: str) -> str | None:
        """The SHA-256 of tarball ``name`` here, or None if there is none (cached per file version)."""
        path = self.tarball(name)
        try:
            info = await asyncio.to_thread(path.stat)
        except FileNotFoundError:
            return None
        version = (info.st_ino, info.st_size, info.st_mtime_ns)
        cached = self._checksums.get(path)
        if cached is not None and cached[0] == version:
            return cached[1]
        digest = await asyncio.to_thread(_sha256_of, path)
        self._checksums[path] = (version, digest)
        return digest

    async def read_tarball(self, name: str) -> AsyncIterator[bytes]:
        """Tarball ``name``'s bytes, for the other control processor."""
        path = self.tarball(name)
        if not await asyncio.to_thread(path.exists):
            raise errors.NotFound(f"no deployed plugin tarball named {name}")
        async with aclosing(read_chunks(path, _READ_CHUNK_BYTES)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def mirror_tarball(self, name: str, chunks: AsyncIterator[bytes], expected_sha256: str) -> None:
        """Keep tarball ``name`` as the other control processor sent it, if it is the one expected."""
        partial = self._scratch / f"plugin-{secrets.token_hex(8)}{PARTIAL_SUFFIX}"
        digest = hashlib.sha256()
        try:
            async with aiofiles.open(partial, "wb") as sink:
                async for chunk in chunks:
                    digest.update(chunk)
                    await sink.write(chunk)
                await sink.flush()
                await asyncio.to_thread(os.fsync, sink.fileno())
            if digest.hexdigest() != expected_sha256:
                raise errors.Internal(
                    f"plugin tarball {name} from the other control processor has SHA-256 {digest.hexdigest()}, "
                    f"not {expected_sha256}"
                )
            async with self._locks.hold(_tarball_key(name)):
                await asyncio.to_thread(atomic_replace, partial, self.tarball(name))
        finally:
            await discard(partial)

    # ------------------------------------------------------------------ plugin instances

    async def start(self, name: str, instance_name: str, config: str) -> str:
        tarball = self.tarball(name)
        if not tarball.exists():
            raise errors.NotFound(f"no deployed plugin named {name}; Deploy it with is_plugin set first")
        _check_config(config)
        plugin_name = docker_plugin_name(instance_name)
        async with self._locks.hold(plugin_name):
            if await self._find(plugin_name) is not None:
                raise errors.AlreadyExists(f"plugin instance {plugin_name} already exists")
            async with self._state.change(desired.put_plugin(plugin_name, name, config, enabled=True)):
                await self._create(plugin_name, tarball, config)
                try:
                    await self._engine.enable_plugin(plugin_name, self._enable_timeout)
                except errors.ContainerzError as exc:
                    await self._engine.remove_plugin(plugin_name, force=True)
                    raise errors.FailedPrecondition(
                        f"plugin {plugin_name} was created but failed to start, and was removed: {exc.message}"
                    ) from exc
            return plugin_name

    async def _create(self, plugin_name: str, tarball: Path, config: str) -> None:
        context = self._scratch / f"plugin-{secrets.token_hex(8)}{PARTIAL_SUFFIX}"
        try:
            await asyncio.to_thread(_build_plugin_context, tarball, config, plugin_name, context)
            await self._engine.create_plugin(plugin_name, context)
        finally:
            await discard(context)

    async def stop(self, instance_name: str) -> None:
        """Disable a plugin; stopping one that does not exist is a no-op, as the proto says."""
        plugin_name = docker_plugin_name(instance_name)
        async with self._locks.hold(plugin_name):
            plugin = await self._find(plugin_name)
            running = plugin is not None and plugin.enabled
            record = self._state.desired.of(Kind.PLUGIN).get(plugin_name)
            if record is not None and record["enabled"]:
                async with self._state.change(desired.with_plugin_enabled(record, plugin_name, enabled=False)):
                    if running:
                        await self._engine.disable_plugin(plugin_name, force=True)
            elif running:
                await self._engine.disable_plugin(plugin_name, force=True)

    async def remove(self, instance_name: str) -> None:
        """Remove a plugin; removing one that does not exist is a no-op, as the proto says."""
        plugin_name = docker_plugin_name(instance_name)
        async with self._locks.hold(plugin_name):
            plugin = await self._find(plugin_name)
            if plugin is None and plugin_name not in self._state.desired.of(Kind.PLUGIN):
                return
            async with self._state.change(desired.remove(Kind.PLUGIN, plugin_name)):
                if plugin is not None:
                    await self._engine.remove_plugin(plugin_name, force=True)

    async def list(self, instance_name: str) -> list[PluginSummary]:
        plugins = await self._engine.list_plugins()
        if instance_name:
            wanted = docker_plugin_name(instance_name)
            plugins = [p for p in plugins if p.instance_name == wanted]
        return sorted(plugins, key=lambda p: p.instance_name)

    async def exists(self, plugin_name: str) -> bool:
        return await self._find(plugin_name) is not None

    async def converge(self, plugin_name: str, bring_up: bool) -> str | None:
        """Make plugin ``plugin_name`` on this engine what its journal record says: created from
        its tarball if the engine lacks it, and enabled if recorded so. With ``bring_up`` (a
        takeover, not drift repair) an existing plugin is also enabled or disabled to match."""
        async with self._locks.hold(plugin_name):
            record = self._state.desired.of(Kind.PLUGIN).get(plugin_name)
            if record is None:
                return None
            plugin = await self._find(plugin_name)
            done: list[str] = []
            if plugin is None:
                tarball = self.tarball(record["tarball"])
                if not await asyncio.to_thread(tarball.exists):
                    raise errors.FailedPrecondition(
                        f"plugin {plugin_name} cannot be made here: its tarball {record['tarball']} is not "
                        "deployed on this control processor (RemovePluginTar removed it); Deploy it again"
                    )
                await self._create(plugin_name, tarball, record["config"])
                done.append("created")
            elif not bring_up:
                return None
            enabled = plugin is not None and plugin.enabled
            if record["enabled"] and not enabled:
                await self._engine.enable_plugin(plugin_name, self._enable_timeout)
                done.append("enabled")
            elif not record["enabled"] and enabled:
                await self._engine.disable_plugin(plugin_name, force=True)
                done.append("disabled")
            return " and ".join(done) or None

    async def roll_back(self, plugin_name: str) -> str | None:
        """Remove plugin ``plugin_name`` from this engine unless the journal records it (a
        StartPlugin cut off by a crash, or a removal being mirrored)."""
        async with self._locks.hold(plugin_name):
            if plugin_name in self._state.desired.of(Kind.PLUGIN) or await self._find(plugin_name) is None:
                return None
            await self._engine.remove_plugin(plugin_name, force=True)
            return "removed"

    async def _find(self, plugin_name: str) -> PluginSummary | None:
        return next((p for p in await self._engine.list_plugins() if p.instance_name == plugin_name), None)


def _tarball_key(name: str) -> str:
    return f"tarball/{name}"


def _previous(target: Path) -> Path:
    return target.with_name(target.name + _PREVIOUS_SUFFIX)


def _set_aside(target: Path) -> None:
    """Keep the tarball about to be replaced beside it, as a hard link (no copy)."""
    previous = _previous(target)
    previous.unlink(missing_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.link(target, previous)
    fsync_directory(target.parent)


def _unlink_durably(path: Path) -> None:
    path.unlink(missing_ok=True)
    fsync_directory(path.parent)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(_READ_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _check_config(config: str) -> None:
    if not config:
        raise errors.InvalidArgument("config is empty: give the plugin's config.json as a JSON object")
    try:
        parsed = json.loads(config)
    except ValueError as exc:
        raise errors.InvalidArgument(f"config is not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise errors.InvalidArgument("config must be a JSON object (the plugin's config.json)")


def _build_plugin_context(rootfs_tarball: Path, config: str, plugin_name: str, destination: Path) -> None:
    """Write Docker's plugin-create context: config.json, and the root filesystem under rootfs/.

    The root filesystem also gets a file naming the instance: Docker stores a plugin's layer and
    config by content, and refuses to create a second plugin whose content is identical to one
    it has ("content sha256:...: already exists"), so two instances of one tarball must differ."""
    try:
        with tarfile.open(rootfs_tarball, "r:*") as source, tarfile.open(destination, "w") as context:
            _add_bytes(context, "config.json", config.encode())
            _add_bytes(context, f"rootfs/{_INSTANCE_FILE}", f"{plugin_name}\n".encode())
            for member in source:
                relative = member.name.lstrip("/").removeprefix("./")
                if not relative or relative == "." or ".." in relative.split("/"):
                    continue
                member.name = f"rootfs/{relative}"
                if member.islnk():
                    member.linkname = f"rootfs/{member.linkname.lstrip('/').removeprefix('./')}"
                context.addfile(member, source.extractfile(member) if member.isfile() else None)
    except tarfile.TarError as exc:
        raise errors.InvalidArgument(f"the deployed plugin is not a readable tar archive: {exc}") from exc


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(data))
