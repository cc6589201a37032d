"""The Dockerfile: built (on a Debian base made here with debootstrap, as no registry can be
reached), run on the engine it manages, and driven over gRPC like any other server."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc
from tests.conftest import ROOT, BusyboxImages
from tests.support.client import deploy_file, eventually
from tests.support.device import free_port

BASE = "containerz-base:bookworm"
IMAGE = "containerz-py:test"
# The host's CA bundle, for pip in the build: this machine reaches PyPI through a TLS-intercepting proxy.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def docker_cli(docker_host: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "-H", docker_host, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def built_image(docker_host: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "base_image.sh"), BASE],
        env={**os.environ, "DOCKER_HOST": docker_host},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    context = tmp_path_factory.mktemp("build-context")
    for item in ("pyproject.toml", "README.md", "server.py", "Dockerfile", ".dockerignore"):
        shutil.copy(ROOT / item, context / item)
    for package in ("containerz", "state", "protos"):
        shutil.copytree(ROOT / package, context / package, ignore=shutil.ignore_patterns("__pycache__"))
    if HOST_CA_BUNDLE.exists():
        shutil.copy(HOST_CA_BUNDLE, context / "extra-ca.pem")
    built = docker_cli(
        docker_host, "build", "--network", "host", "--build-arg", f"BASE={BASE}", "-t", IMAGE, str(context)
    )
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    return IMAGE


@pytest.fixture
def running_image(
    built_image: str, docker_host: str, unique: Callable[[str], str], docker_api: docker.APIClient
) -> Iterator[str]:
    name, port = unique("containerz-in-docker"), free_port()
    socket_path = docker_host.removeprefix("unix://")
    started = docker_cli(
        docker_host, "run", "-d", "--name", name, "--network", "host",
        "-v", f"{socket_path}:/var/run/docker.sock", "-v", f"{name}-data:/var/lib/containerz",
        built_image, "--listen", f"127.0.0.1:{port}",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        yield f"127.0.0.1:{port}"
    finally:
        docker_api.remove_container(name, force=True)
        docker_api.remove_volume(f"{name}-data", force=True)


def serving(address: str) -> bool:
    try:
        with grpc.insecure_channel(address) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
    except grpc.RpcError:
        return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def test_the_image_serves_containerz_on_the_engine_it_runs_on(
    running_image: str, test_images: BusyboxImages, unique: Callable[[str], str]
) -> None:
    assert eventually(lambda: serving(running_image), timeout=60)
    name = unique("from-the-image")
    with grpc.insecure_channel(running_image) as channel:
        stub = containerz_pb2_grpc.ContainerzStub(channel)
        outcome = deploy_file(stub, test_images.long_running, name, "v1")
        assert (outcome.success.name, outcome.success.tag) == (name, "v1")
        listed = [(i.image_name, i.tag) for i in stub.ListImage(pb.ListImageRequest()) if i.image_name == name]
    assert listed == [(name, "v1")]
