"""Managed plugins: keep deployed plugin tarballs, and run them as Docker managed plugins.

A deployed plugin is the plugin's root filesystem as a tarball; StartPlugin pairs it
with the JSON config from the request to build Docker's plugin context (``config.json``
plus ``rootfs/``). Docker names the plugin ``<instance_name>:latest``.
"""

from __future__ import annotations

import asyncio
import io
import json
import secrets
import tarfile
from pathlib import Path

import structlog

from containerz import errors
from containerz.engine.base import Engine
from containerz.fsutil import discard, fsync_directory
from containerz.locks import KeyedLocks
from containerz.model import PluginSummary
from containerz.settings import Settings
from containerz.upload import PARTIAL_SUFFIX, Upload

log = structlog.get_logger(__name__)


def docker_plugin_name(instance_name: str) -> str:
    return instance_name if ":" in instance_name else f"{instance_name}:latest"


class PluginManager:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._tarballs = settings.plugins_dir
        self._scratch = settings.uploads_dir
        self._enable_timeout = settings.plugin_enable_timeout_seconds
        self._locks = KeyedLocks()

    def tarball(self, name: str) -> Path:
        return self._tarballs / f"{name}.tar"

    def receive(self, name: str, size: int) -> Upload:
        """An upload of ``size`` bytes kept, once complete, as the tarball of plugin ``name``."""
        return Upload(self._scratch, size, label=f"Deploy plugin {name}", keep_as=self.tarball(name))

    async def remove_tarball(self, name: str) -> None:
        path = self.tarball(name)
        if not path.exists():
            raise errors.NotFound(f"no deployed plugin tarball named {name}")
        path.unlink()
        await asyncio.to_thread(fsync_directory, path.parent)

    async def start(self, name: str, instance_name: str, config: str) -> str:
        tarball = self.tarball(name)
        if not tarball.exists():
            raise errors.NotFound(f"no deployed plugin named {name}; Deploy it with is_plugin set first")
        _check_config(config)
        plugin_name = docker_plugin_name(instance_name)
        async with self._locks.hold(plugin_name):
            if await self._find(plugin_name) is not None:
                raise errors.AlreadyExists(f"plugin instance {plugin_name} already exists")
            context = self._scratch / f"plugin-{secrets.token_hex(8)}{PARTIAL_SUFFIX}"
            try:
                await asyncio.to_thread(_build_plugin_context, tarball, config, context)
                await self._engine.create_plugin(plugin_name, context)
            finally:
                await discard(context)
            try:
                await self._engine.enable_plugin(plugin_name, self._enable_timeout)
            except errors.ContainerzError as exc:
                await self._engine.remove_plugin(plugin_name, force=True)
                raise errors.FailedPrecondition(
                    f"plugin {plugin_name} was created but failed to start, and was removed: {exc.message}"
                ) from exc
            return plugin_name

    async def stop(self, instance_name: str) -> None:
        """Disable a plugin; stopping one that does not exist is a no-op, as the proto says."""
        plugin = await self._find(docker_plugin_name(instance_name))
        if plugin is not None and plugin.enabled:
            await self._engine.disable_plugin(plugin.instance_name, force=True)

    async def remove(self, instance_name: str) -> None:
        """Remove a plugin; removing one that does not exist is a no-op, as the proto says."""
        plugin = await self._find(docker_plugin_name(instance_name))
        if plugin is not None:
            await self._engine.remove_plugin(plugin.instance_name, force=True)

    async def list(self, instance_name: str) -> list[PluginSummary]:
        plugins = await self._engine.list_plugins()
        if instance_name:
            wanted = docker_plugin_name(instance_name)
            plugins = [p for p in plugins if p.instance_name == wanted]
        return sorted(plugins, key=lambda p: p.instance_name)

    async def _find(self, plugin_name: str) -> PluginSummary | None:
        return next((p for p in await self._engine.list_plugins() if p.instance_name == plugin_name), None)


def _check_config(config: str) -> None:
    if not config:
        raise errors.InvalidArgument("config is empty: give the plugin's config.json as a JSON object")
    try:
        parsed = json.loads(config)
    except ValueError as exc:
        raise errors.InvalidArgument(f"config is not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise errors.InvalidArgument("config must be a JSON object (the plugin's config.json)")


def _build_plugin_context(rootfs_tarball: Path, config: str, destination: Path) -> None:
    """Write Docker's plugin-create context: config.json, and the root filesystem under rootfs/."""
    try:
        with tarfile.open(rootfs_tarball, "r:*") as source, tarfile.open(destination, "w") as context:
            config_bytes = config.encode()
            info = tarfile.TarInfo("config.json")
            info.size = len(config_bytes)
            info.mode = 0o644
            context.addfile(info, io.BytesIO(config_bytes))
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
