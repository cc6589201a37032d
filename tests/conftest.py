"""Shared fixtures: a real Docker engine, the real server as a subprocess, test images.

The engine is started by scripts/engine.sh (a private dockerd) unless
CONTAINERZ_TEST_DOCKER_HOST names one. Every object a test creates carries this
session's prefix, so parallel sessions on one engine never touch each other's objects.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import secrets
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import grpc
import pytest

from protos.gnoi.containerz import containerz_pb2_grpc
from tests.support.client import deploy_file, eventually
from tests.support.device import NAMES, Device, active_name
from tests.support.images import build_image_tar, build_plugin_rootfs_tar, build_volume_plugin
from tests.support.server import ROOT, ServerProcess

ENGINE_DIR = os.environ.get("CONTAINERZ_TEST_ENGINE_DIR", "/var/tmp/containerz-engine")


@pytest.fixture(scope="session")
def docker_host() -> str:
    configured = os.environ.get("CONTAINERZ_TEST_DOCKER_HOST")
    if configured:
        return configured
    started = subprocess.run(
        ["bash", str(ROOT / "scripts" / "engine.sh"), "start", "--dir", ENGINE_DIR],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return started.stdout.strip().splitlines()[-1].split("=", 1)[1]


@pytest.fixture(scope="session")
def second_docker_host(run_id: str) -> str:
    """A second private engine: the other control processor's, for the two-CP tests."""
    configured = os.environ.get("CONTAINERZ_TEST_DOCKER_HOST_2")
    if configured:
        return configured
    started = subprocess.run(
        ["bash", str(ROOT / "scripts" / "engine.sh"), "start", "--dir", f"{ENGINE_DIR}-cp2"],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    host = started.stdout.strip().splitlines()[-1].split("=", 1)[1]
    with docker.APIClient(base_url=host, version="auto", timeout=120) as api:
        _remove_objects(api, _of_a_cut_off_run(run_id))
    return host


@pytest.fixture(scope="session")
def docker_api(docker_host: str, run_id: str) -> Iterator[docker.APIClient]:
    api = docker.APIClient(base_url=docker_host, version="auto", timeout=120)
    _remove_objects(api, _of_a_cut_off_run(run_id))
    yield api
    api.close()


RUN_PREFIX = re.compile(r"t[0-9a-f]{6}-")


@pytest.fixture(scope="session")
def run_id() -> str:
    """Lowercase, so it is valid in image repository names too."""
    return f"t{secrets.token_hex(3)}"


@pytest.fixture(scope="session")
def unique(run_id: str) -> Callable[[str], str]:
    counter = itertools.count()

    def make(stem: str) -> str:
        return f"{run_id}-{stem}-{next(counter)}"

    return make


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def server(
    docker_host: str, tmp_path_factory: pytest.TempPathFactory, docker_api: docker.APIClient, run_id: str
) -> Iterator[ServerProcess]:
    process = ServerProcess(docker_host, tmp_path_factory.mktemp("server") / "data").start()
    yield process
    process.stop()
    _remove_session_objects(docker_api, run_id)


def _remove_session_objects(api: docker.APIClient, run_id: str) -> None:
    _remove_objects(api, lambda name: name.startswith(f"{run_id}-"))


def _of_a_cut_off_run(run_id: str) -> Callable[[str], bool]:
    """Names made by an earlier test run that was killed before it could clean up (a test
    engine serves one run at a time)."""
    return lambda name: RUN_PREFIX.match(name) is not None and not name.startswith(f"{run_id}-")


def _remove_objects(api: docker.APIClient, made_by_the_run: Callable[[str], bool]) -> None:
    for container in api.containers(all=True):
        if any(made_by_the_run(name.lstrip("/")) for name in container["Names"]):
            api.remove_container(container["Id"], force=True)
    for volume in api.volumes().get("Volumes") or []:
        if made_by_the_run(volume["Name"]):
            api.remove_volume(volume["Name"], force=True)
    for plugin in api.plugins():
        if made_by_the_run(plugin["Name"]):
            api.remove_plugin(plugin["Name"], force=True)
    for image in api.images():
        for tag in image.get("RepoTags") or ():
            if made_by_the_run(tag):
                # By tag: the same image (same ID) may be tagged by others too.
                api.remove_image(tag, force=True)


@pytest.fixture(scope="session")
def plugin_tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The root filesystem of a real managed volume plugin, built from tests/support/volplugin."""
    directory = tmp_path_factory.mktemp("plugin")
    binary = build_volume_plugin(directory)
    tarball = directory / "rootfs.tar"
    build_plugin_rootfs_tar(tarball, binary)
    return tarball


@pytest.fixture(scope="session")
def channel(server: ServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.address) as opened:
        grpc.channel_ready_future(opened).result(timeout=10)
        yield opened


@pytest.fixture(scope="session")
def stub(channel: grpc.Channel) -> containerz_pb2_grpc.ContainerzStub:
    return containerz_pb2_grpc.ContainerzStub(channel)


@dataclass(frozen=True)
class BusyboxImages:
    """Tarballs built FROM scratch with busybox, and the session's deployed copy of each."""

    directory: Path
    long_running: Path
    exits: Path
    traps_term: Path
    repo: str  # deployed name of long_running, tag "latest"

    @property
    def ref(self) -> str:
        return f"{self.repo}:latest"


LONG_RUNNING_CMD = ["/bin/sh", "-c", "echo started; while true; do echo tick; sleep 1; done"]
EXITS_CMD = ["/bin/sh", "-c", "echo bye; exit 3"]
TRAPS_TERM_CMD = ["/bin/sh", "-c", "trap 'echo got TERM; exit 0' TERM; echo waiting; while true; do sleep 0.2; done"]


@pytest.fixture(scope="session")
def test_images(
    tmp_path_factory: pytest.TempPathFactory, stub: containerz_pb2_grpc.ContainerzStub, run_id: str
) -> BusyboxImages:
    directory = tmp_path_factory.mktemp("images")
    long_running = directory / "long-running.tar"
    build_image_tar(long_running, "busybox-long", cmd=LONG_RUNNING_CMD)
    exits = directory / "exits.tar"
    build_image_tar(exits, "busybox-exits", cmd=EXITS_CMD)
    traps = directory / "traps-term.tar"
    build_image_tar(traps, "busybox-traps", cmd=TRAPS_TERM_CMD)
    repo = f"{run_id}-busybox"
    deploy_file(stub, long_running, repo)
    return BusyboxImages(directory, long_running, exits, traps, repo)


@pytest.fixture(scope="session")
def big_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An image tarball of at least 64 MiB, mostly incompressible."""
    path = tmp_path_factory.mktemp("big") / "big.tar"
    build_image_tar(path, "busybox-big", cmd=LONG_RUNNING_CMD, filler_bytes=64 * 1024 * 1024)
    return path


# ---------------------------------------------------------------------- two control processors


@pytest.fixture
def device(docker_host: str, second_docker_host: str, tmp_path: Path, clean_engines: None) -> Iterator[Device]:
    """Two control processors on two engines, booted, one of them active; what the test made
    on either engine is removed afterwards."""
    made = Device((docker_host, second_docker_host), tmp_path).boot()
    assert eventually(lambda: active_name(made.service) is not None, timeout=20)
    yield made
    made.stop()


@pytest.fixture
def engines(docker_api: docker.APIClient, second_docker_host: str) -> Iterator[dict[str, docker.APIClient]]:
    second = docker.APIClient(base_url=second_docker_host, version="auto", timeout=60)
    yield {NAMES[0]: docker_api, NAMES[1]: second}
    second.close()


@pytest.fixture
def clean_engines(engines: dict[str, docker.APIClient], run_id: str) -> Iterator[None]:
    """Remove what the test made on either engine, and only that: the session's server journals
    its own objects and would recreate any removed behind its back."""
    before = {name: _ours(api, run_id) for name, api in engines.items()}
    yield
    for name, api in engines.items():
        made = (now - then for now, then in zip(_ours(api, run_id), before[name], strict=True))
        containers, volumes, plugins, images = made
        for container in containers:
            api.remove_container(container, force=True)
        for volume in volumes:
            api.remove_volume(volume, force=True)
        for plugin in plugins:
            api.remove_plugin(plugin, force=True)
        for image in images:
            with contextlib.suppress(docker.errors.NotFound):
                api.remove_image(image, force=True)


def _ours(api: docker.APIClient, run_id: str) -> tuple[set[str], set[str], set[str], set[str]]:
    containers = {c["Names"][0].lstrip("/") for c in api.containers(all=True)}
    volumes = {v["Name"] for v in (api.volumes() or {}).get("Volumes") or []}
    plugins = {p["Name"] for p in api.plugins()}
    images = {tag for image in api.images() for tag in image.get("RepoTags") or []}
    kinds = (containers, volumes, plugins, images)
    return tuple({n for n in names if n.startswith(run_id)} for names in kinds)  # type: ignore[return-value]
