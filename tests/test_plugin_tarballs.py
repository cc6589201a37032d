"""Plugin tarballs as desired state, without an engine: kept atomically under the journal's
intent, checked by SHA-256, and put back when a Deploy fails after replacing one."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest

from containerz import errors
from containerz.engine.base import Engine
from containerz.plugins import PluginManager
from containerz.settings import Settings
from state import Kind, MemoryEpochStore, MemoryJournal, MemorySnapshotStore, StateStore


def manager(tmp_path: Path) -> tuple[PluginManager, StateStore]:
    settings = Settings(data_dir=tmp_path)
    settings.prepare_directories()
    store = StateStore(MemoryJournal(), MemorySnapshotStore(), MemoryEpochStore())
    return PluginManager(cast(Engine, None), settings, store), store  # tarballs never touch the engine


async def deploy(plugins: PluginManager, name: str, content: bytes) -> None:
    async with plugins.receive(name, len(content)) as upload:
        upload.admit(len(content))
        await upload.write(content)
        await upload.finish()


async def test_a_kept_tarball_is_recorded_with_its_checksum_and_size(tmp_path: Path) -> None:
    plugins, store = manager(tmp_path)
    await deploy(plugins, "vol", b"rootfs v1")
    sha = hashlib.sha256(b"rootfs v1").hexdigest()
    assert dict(store.desired.of(Kind.PLUGIN_TARBALL)) == {"vol": {"name": "vol", "sha256": sha, "size": 9}}
    assert plugins.tarball("vol").read_bytes() == b"rootfs v1"
    assert await plugins.checksum("vol") == sha
    assert not list((tmp_path / "uploads").iterdir())


async def test_a_deploy_the_standby_refuses_puts_the_previous_tarball_back(tmp_path: Path) -> None:
    plugins, store = manager(tmp_path)
    await deploy(plugins, "vol", b"rootfs v1")
    recorded = dict(store.desired.of(Kind.PLUGIN_TARBALL))

    async def refuse(name: str, sha256: str) -> None:
        raise errors.Unavailable(f"could not copy plugin tarball {name} to the standby")

    plugins.after_keep = refuse
    with pytest.raises(errors.Unavailable):
        await deploy(plugins, "vol", b"rootfs v2")
    with pytest.raises(errors.Unavailable):
        await deploy(plugins, "new", b"never acknowledged")
    assert plugins.tarball("vol").read_bytes() == b"rootfs v1"
    assert not plugins.tarball("new").exists()
    assert sorted(p.name for p in (tmp_path / "plugins").iterdir()) == ["vol.tar"]
    assert dict(store.desired.of(Kind.PLUGIN_TARBALL)) == recorded
    assert await plugins.checksum("vol") == hashlib.sha256(b"rootfs v1").hexdigest()


async def test_a_mirrored_tarball_is_kept_only_if_its_checksum_matches(tmp_path: Path) -> None:
    plugins, _ = manager(tmp_path)

    async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    with pytest.raises(errors.Internal, match="SHA-256"):
        await plugins.mirror_tarball("vol", chunks(b"root", b"fs"), hashlib.sha256(b"other").hexdigest())
    assert not plugins.tarball("vol").exists()
    await plugins.mirror_tarball("vol", chunks(b"root", b"fs"), hashlib.sha256(b"rootfs").hexdigest())
    assert plugins.tarball("vol").read_bytes() == b"rootfs"
    assert not list((tmp_path / "uploads").iterdir())


async def test_removing_a_tarball_is_recorded(tmp_path: Path) -> None:
    plugins, store = manager(tmp_path)
    await deploy(plugins, "vol", b"rootfs")
    await plugins.remove_tarball("vol")
    assert not plugins.tarball("vol").exists()
    assert dict(store.desired.of(Kind.PLUGIN_TARBALL)) == {}
    with pytest.raises(errors.NotFound):
        await plugins.remove_tarball("vol")
