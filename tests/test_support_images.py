"""The test-support builders in tests/support/images.py, checked against a real private engine."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import subprocess
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.images import (
    MEDIA_CONFIG,
    MEDIA_LAYER,
    MEDIA_MANIFEST,
    build_image_tar,
    build_plugin_rootfs_tar,
    build_volume_plugin,
    plugin_config_json,
)

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[1]
ENGINE_DIR = "/var/tmp/containerz-engine-support-test"
MIB = 1024 * 1024


def _engine(action: str) -> subprocess.CompletedProcess[str]:
    command = ["bash", str(ROOT / "scripts" / "engine.sh"), action, "--dir", ENGINE_DIR]
    return subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)


@pytest.fixture(scope="module")
def engine() -> Iterator[str]:
    """DOCKER_HOST of a private engine; stopped afterwards unless it was already running."""
    was_running = _engine("status").returncode == 0
    started = _engine("start")
    assert started.returncode == 0, "scripts/engine.sh start failed (its log is on stderr)"
    yield started.stdout.strip().splitlines()[-1].removeprefix("DOCKER_HOST=")
    if not was_running:
        _engine("stop")


@pytest.fixture
def name() -> str:
    return f"czsupport-{secrets.token_hex(3)}"


def docker(host: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_HOST": host}
    done = subprocess.run(["docker", *args], env=env, capture_output=True, text=True, check=False, timeout=120)
    if check and done.returncode != 0:
        pytest.fail(f"docker {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return done


@pytest.fixture
def images(engine: str) -> Iterator[list[str]]:
    """References to remove after the test."""
    references: list[str] = []
    yield references
    for reference in references:
        docker(engine, "image", "rm", "--force", reference, check=False)


def test_docker_format_loads_and_runs(tmp_path: Path, engine: str, name: str, images: list[str]) -> None:
    info = build_image_tar(tmp_path / "image.tar", name, "v1", cmd=["/bin/sh", "-c", "echo hello from $0"])
    images.append(info.repo_tag)

    loaded = docker(engine, "load", "--input", str(tmp_path / "image.tar"))

    assert f"Loaded image: {name}:v1" in loaded.stdout
    assert docker(engine, "image", "inspect", "--format", "{{.Id}}", info.repo_tag).stdout.strip() == info.image_id
    assert docker(engine, "run", "--rm", info.repo_tag).stdout == "hello from /bin/sh\n"
    host_network = docker(engine, "run", "--rm", "--network", "host", info.repo_tag, "ls", "/tmp")
    assert host_network.returncode == 0


def _read_oci_layout(path: Path) -> tuple[dict[str, bytes], Any]:
    """Check that path is a pure OCI image layout; return its blobs by digest and its index."""
    with tarfile.open(path) as archive:
        members = {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}  # type: ignore[union-attr]
    assert "manifest.json" not in members
    assert json.loads(members["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    blobs = {f"sha256:{n.removeprefix('blobs/sha256/')}": data for n, data in members.items() if n.startswith("blobs/")}
    for digest, data in blobs.items():
        assert digest == f"sha256:{hashlib.sha256(data).hexdigest()}"
    return blobs, json.loads(members["index.json"])


def test_oci_format_is_a_valid_layout_and_loads_if_the_engine_can(
    tmp_path: Path, engine: str, name: str, images: list[str]
) -> None:
    tarball = tmp_path / "image.tar"
    info = build_image_tar(tarball, name, "v2", cmd=["/bin/sh", "-c", "echo hello oci"], fmt="oci", env=["A=b"])
    images.append(info.repo_tag)

    blobs, index = _read_oci_layout(tarball)
    [reference] = index["manifests"]
    assert reference["annotations"] == {
        "org.opencontainers.image.ref.name": "v2",
        "io.containerd.image.name": info.repo_tag,
    }
    assert reference["mediaType"] == MEDIA_MANIFEST
    manifest = json.loads(blobs[reference["digest"]])
    assert manifest["config"]["mediaType"] == MEDIA_CONFIG
    assert manifest["config"]["digest"] == info.image_id
    assert [(x["mediaType"], x["digest"]) for x in manifest["layers"]] == [(MEDIA_LAYER, d) for d in info.layer_digests]
    config = json.loads(blobs[info.image_id])
    assert config["rootfs"]["diff_ids"] == list(info.layer_digests)
    assert config["config"]["Env"][1] == "A=b"

    loaded = docker(engine, "load", "--input", str(tarball), check=False)
    if loaded.returncode != 0:
        # Engines whose `docker load` only knows tarballs with a manifest.json (20.10 among them)
        # fall back to the pre-1.10 layout, look for per-layer "json" files and fail with
        # "open <data-root>/tmp/docker-import-NNN/blobs/json: no such file or directory".
        assert "blobs/json: no such file or directory" in loaded.stderr
        return
    assert docker(engine, "run", "--rm", info.repo_tag).stdout == "hello oci\n"


def test_filler_image_has_the_requested_size(tmp_path: Path, engine: str, name: str, images: list[str]) -> None:
    tarball = tmp_path / "big.tar"
    info = build_image_tar(tarball, name, cmd=["/bin/true"], filler_bytes=8 * MIB)
    images.append(info.repo_tag)

    assert info.size == tarball.stat().st_size
    assert 8 * MIB < info.size < 8 * MIB + 4 * MIB
    assert len(info.layer_digests) == 2
    with tarfile.open(tarball) as outer:
        layer = outer.extractfile(f"{info.layer_digests[1].removeprefix('sha256:')}/layer.tar")
        assert layer is not None
        with tarfile.open(fileobj=layer) as inner:
            filler = inner.extractfile("filler.bin")
            assert filler is not None
            sample = filler.read(MIB)
    assert len(zlib.compress(sample)) > 0.99 * len(sample)

    docker(engine, "load", "--input", str(tarball))
    size = int(docker(engine, "image", "inspect", "--format", "{{.Size}}", info.repo_tag).stdout)
    busybox = Path("/bin/busybox").stat().st_size
    assert 8 * MIB + busybox <= size < 8 * MIB + busybox + MIB
    assert docker(engine, "run", "--rm", info.repo_tag).returncode == 0


@pytest.fixture(scope="module")
def plugin_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `docker plugin create` context: config.json and rootfs/."""
    directory = tmp_path_factory.mktemp("plugin")
    tarball = directory / "rootfs.tar"
    build_plugin_rootfs_tar(tarball, build_volume_plugin(directory / "bin"))
    context = directory / "context"
    with tarfile.open(tarball) as archive:
        archive.extractall(context / "rootfs", filter="tar")
    (context / "config.json").write_text(plugin_config_json())
    return context


def test_managed_volume_plugin(plugin_context: Path, engine: str, name: str, images: list[str], tmp_path: Path) -> None:
    plugin = f"{name}-plugin:latest"
    volume = f"{name}-volume"
    try:
        docker(engine, "plugin", "create", plugin, str(plugin_context))
        docker(engine, "plugin", "enable", plugin)
        listed = docker(engine, "plugin", "ls", "--format", "{{.Name}} {{.Enabled}}").stdout.splitlines()
        assert f"{plugin} true" in listed

        # The plugin really serves volumes: data written through one container is read by the next.
        info = build_image_tar(tmp_path / "image.tar", name, cmd=["/bin/true"])
        images.append(info.repo_tag)
        docker(engine, "load", "--input", str(tmp_path / "image.tar"))
        docker(engine, "volume", "create", "--driver", plugin, volume)
        docker(engine, "run", "--rm", "-v", f"{volume}:/data", info.repo_tag, "sh", "-c", "echo kept > /data/f")
        assert (
            docker(engine, "run", "--rm", "-v", f"{volume}:/data", info.repo_tag, "cat", "/data/f").stdout == "kept\n"
        )
        docker(engine, "volume", "rm", volume)

        docker(engine, "plugin", "disable", plugin)
        assert f"{plugin} false" in docker(engine, "plugin", "ls", "--format", "{{.Name}} {{.Enabled}}").stdout
        docker(engine, "plugin", "rm", plugin)
        assert plugin not in docker(engine, "plugin", "ls", "--format", "{{.Name}}").stdout
    finally:
        docker(engine, "volume", "rm", "--force", volume, check=False)
        docker(engine, "plugin", "rm", "--force", plugin, check=False)


def test_registry_push_and_pull(tmp_path: Path, engine: str, name: str, images: list[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    registry = ["bash", str(ROOT / "scripts" / "registry.sh")]
    where = ["--dir", str(tmp_path / "registry"), "--port", str(port)]
    started = subprocess.run([*registry, "start", *where], stdout=subprocess.PIPE, text=True, check=True)
    assert started.stdout.splitlines()[-1] == f"REGISTRY=127.0.0.1:{port}"
    try:
        info = build_image_tar(tmp_path / "image.tar", name, cmd=["/bin/sh", "-c", "echo pulled"])
        remote = f"127.0.0.1:{port}/{name}:y"
        images.extend([info.repo_tag, remote])
        docker(engine, "load", "--input", str(tmp_path / "image.tar"))
        docker(engine, "tag", info.repo_tag, remote)
        docker(engine, "push", remote)  # plain HTTP: engines trust 127.0.0.0/8 registries by default
        docker(engine, "image", "rm", remote, info.repo_tag)
        docker(engine, "pull", remote)
        assert docker(engine, "run", "--rm", remote).stdout == "pulled\n"
    finally:
        subprocess.run([*registry, "stop", *where], check=True)
