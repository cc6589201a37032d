"""Deploy on the real engine: lock-step protocol, both tarball formats, and every way to get it wrong."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import docker
import grpc
import pytest

from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc
from tests.conftest import LONG_RUNNING_CMD, BusyboxImages
from tests.support.client import LockStepDeploy, deploy_file, eventually
from tests.support.images import build_image_tar
from tests.support.server import ServerProcess

pytestmark = pytest.mark.engine

Stub = containerz_pb2_grpc.ContainerzStub


def listed(stub: Stub, name: str) -> list[tuple[str, str]]:
    return [(i.image_name, i.tag) for i in stub.ListImage(pb.ListImageRequest()) if i.image_name == name]


def leftovers(server: ServerProcess) -> list[Path]:
    return sorted((server.data_dir / "uploads").iterdir())


def wait_for_no_leftovers(server: ServerProcess, timeout: float = 5) -> list[Path]:
    deadline = time.monotonic() + timeout
    while leftovers(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    return leftovers(server)


@pytest.mark.parametrize("fmt", ["docker", "oci"])
def test_deploy_loads_either_save_format_as_name_and_tag(
    stub: Stub, tmp_path: Path, unique: Callable[[str], str], fmt: str, docker_api: docker.APIClient
) -> None:
    tarball = tmp_path / "image.tar"
    build_image_tar(tarball, "saved-as-something-else", "old", cmd=LONG_RUNNING_CMD, fmt=fmt)  # type: ignore[arg-type]
    name = unique(f"fmt-{fmt}")
    outcome = deploy_file(stub, tarball, name, "v1")

    assert outcome.success is not None
    assert (outcome.success.name, outcome.success.tag, outcome.success.image_size) == (
        name,
        "v1",
        tarball.stat().st_size,
    )
    assert listed(stub, name) == [(name, "v1")]
    # The tag inside the tarball is not applied: only what the client asked for.
    assert not any("saved-as-something-else" in t for i in docker_api.images() for t in i.get("RepoTags") or ())


def test_one_progress_per_chunk_including_an_empty_last_one(
    stub: Stub, tmp_path: Path, unique: Callable[[str], str], test_images: BusyboxImages
) -> None:
    probe = deploy_file(stub, test_images.long_running, unique("probe"))
    chunk = probe.chunk_size
    assert 0 < chunk <= 4 * 1024 * 1024

    # Pad a tarball to an exact multiple of the chunk size: tar ignores data after its end blocks.
    exact = tmp_path / "exact.tar"
    data = test_images.long_running.read_bytes()
    exact.write_bytes(data + b"\0" * ((-len(data)) % chunk))
    size = exact.stat().st_size
    assert size % chunk == 0

    outcome = deploy_file(stub, exact, unique("exact"))
    assert outcome.progress == [*range(chunk, size + 1, chunk), size]  # the empty last chunk repeats the total


def test_big_image_streams_to_disk(
    stub: Stub, big_image: Path, unique: Callable[[str], str], server: ServerProcess
) -> None:
    name = unique("big")
    outcome = deploy_file(stub, big_image, name)
    assert outcome.progress[-1] == big_image.stat().st_size >= 64 * 1024 * 1024
    assert listed(stub, name) == [(name, "latest")]
    assert wait_for_no_leftovers(server) == []


def test_redeploy_replaces_the_tag_and_drops_the_orphan(
    stub: Stub, tmp_path: Path, unique: Callable[[str], str], docker_api: docker.APIClient
) -> None:
    name = unique("redeploy")
    first, second = tmp_path / "1.tar", tmp_path / "2.tar"
    build_image_tar(first, "x", cmd=["/bin/sh", "-c", "echo one"])
    build_image_tar(second, "x", cmd=["/bin/sh", "-c", "echo two"])
    deploy_file(stub, first, name)
    old_id = docker_api.inspect_image(f"{name}:latest")["Id"]
    deploy_file(stub, second, name)
    assert docker_api.inspect_image(f"{name}:latest")["Id"] != old_id
    assert old_id not in {i["Id"] for i in docker_api.images(all=True)}


def test_plugin_tarball_is_kept_not_loaded(
    stub: Stub, tmp_path: Path, unique: Callable[[str], str], server: ServerProcess
) -> None:
    payload = tmp_path / "rootfs.tar"
    payload.write_bytes(b"plugin bytes" * 1000)
    name = unique("plugin")
    outcome = deploy_file(stub, payload, name, is_plugin=True)
    assert outcome.success is not None and outcome.success.name == name
    stored = server.data_dir / "plugins" / f"{name}.tar"
    assert stored.read_bytes() == payload.read_bytes()
    assert listed(stub, name) == []


def _start_transfer(stub: Stub, name: str, size: int) -> LockStepDeploy:
    stream = LockStepDeploy(stub, timeout=30)
    stream.send(pb.DeployRequest(image_transfer=pb.ImageTransfer(name=name, tag="v1", image_size=size)))
    assert stream.receive().WhichOneof("response") == "image_transfer_ready"
    return stream


def _final_error(stream: LockStepDeploy) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        while True:
            stream.receive()
    return raised.value


def test_more_bytes_than_announced_is_invalid_argument(
    stub: Stub, unique: Callable[[str], str], server: ServerProcess
) -> None:
    name = unique("toomuch")
    stream = _start_transfer(stub, name, size=10)
    stream.send(pb.DeployRequest(content=b"x" * 11))
    error = _final_error(stream)
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "too much data" in (error.details() or "")
    assert listed(stub, name) == []
    assert wait_for_no_leftovers(server) == []


def test_fewer_bytes_than_announced_is_invalid_argument(
    stub: Stub, unique: Callable[[str], str], server: ServerProcess, test_images: BusyboxImages
) -> None:
    name = unique("tooshort")
    data = test_images.long_running.read_bytes()
    stream = _start_transfer(stub, name, size=len(data) + 100)
    stream.send(pb.DeployRequest(content=data))
    assert stream.receive().image_transfer_progress.bytes_received == len(data)
    stream.send(pb.DeployRequest(image_transfer_end=pb.ImageTransferEnd()))
    error = _final_error(stream)
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert f"after {len(data)} bytes" in (error.details() or "")
    assert listed(stub, name) == []
    assert wait_for_no_leftovers(server) == []


def test_stream_closed_before_end_discards_the_upload(
    stub: Stub, unique: Callable[[str], str], server: ServerProcess, test_images: BusyboxImages
) -> None:
    name = unique("noend")
    data = test_images.long_running.read_bytes()
    stream = _start_transfer(stub, name, size=len(data))
    stream.send(pb.DeployRequest(content=data))
    stream.receive()
    stream.close_send()
    error = _final_error(stream)
    assert error.code() is grpc.StatusCode.UNKNOWN
    assert "without ImageTransferEnd" in (error.details() or "")
    assert listed(stub, name) == []
    assert wait_for_no_leftovers(server) == []


def engine_imports(docker_api: docker.APIClient) -> list[Path]:
    """The engine's scratch directories for image loads in progress."""
    return sorted(Path(docker_api.info()["DockerRootDir"], "tmp").glob("docker-import-*"))


def test_cancelled_stream_leaves_nothing_behind(
    stub: Stub, unique: Callable[[str], str], server: ServerProcess, big_image: Path, docker_api: docker.APIClient
) -> None:
    name = unique("cancelled")
    stream = _start_transfer(stub, name, size=big_image.stat().st_size)
    with big_image.open("rb") as source:
        stream.send(pb.DeployRequest(content=source.read(1024 * 1024)))
    stream.receive()
    # The upload streams into the engine's image load while the transfer runs.
    assert eventually(lambda: len(engine_imports(docker_api)) == 1)
    stream.cancel()
    assert eventually(lambda: engine_imports(docker_api) == [])
    assert wait_for_no_leftovers(server) == []
    assert listed(stub, name) == []


def test_a_redeploy_cut_short_leaves_the_deployed_image_in_place(
    stub: Stub, unique: Callable[[str], str], test_images: BusyboxImages, big_image: Path, docker_api: docker.APIClient
) -> None:
    name = unique("redeploy-cut")
    deploy_file(stub, test_images.long_running, name, "v1")
    before = docker_api.inspect_image(f"{name}:v1")["Id"]
    stream = _start_transfer(stub, name, size=big_image.stat().st_size)
    with big_image.open("rb") as source:
        for _ in range(12):  # 48 of its 64 MiB have gone into the engine's load
            stream.send(pb.DeployRequest(content=source.read(4 * 1024 * 1024)))
            stream.receive()
    stream.cancel()
    assert eventually(lambda: engine_imports(docker_api) == [])
    assert docker_api.inspect_image(f"{name}:v1")["Id"] == before
    assert listed(stub, name) == [(name, "v1")]


@pytest.mark.parametrize(
    ("first", "code"),
    [
        (pb.DeployRequest(content=b"abc"), grpc.StatusCode.INVALID_ARGUMENT),
        (pb.DeployRequest(image_transfer_end=pb.ImageTransferEnd()), grpc.StatusCode.INVALID_ARGUMENT),
        (pb.DeployRequest(), grpc.StatusCode.INVALID_ARGUMENT),
        (pb.DeployRequest(image_transfer=pb.ImageTransfer(name="x", image_size=0)), grpc.StatusCode.INVALID_ARGUMENT),
        (pb.DeployRequest(image_transfer=pb.ImageTransfer(name="", image_size=9)), grpc.StatusCode.INVALID_ARGUMENT),
        (
            pb.DeployRequest(image_transfer=pb.ImageTransfer(name="../etc", image_size=9)),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            pb.DeployRequest(image_transfer=pb.ImageTransfer(name="a/b", image_size=9, is_plugin=True)),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            pb.DeployRequest(image_transfer=pb.ImageTransfer(name="x", tag="-bad", image_size=9)),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            pb.DeployRequest(image_transfer=pb.ImageTransfer(name="huge", image_size=1 << 62)),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
        ),
    ],
)
def test_bad_first_messages_are_refused_before_any_transfer(
    stub: Stub, server: ServerProcess, first: pb.DeployRequest, code: grpc.StatusCode
) -> None:
    stream = LockStepDeploy(stub, timeout=10)
    stream.send(first)
    error = _final_error(stream)
    assert error.code() is code
    assert error.details()
    assert wait_for_no_leftovers(server) == []


def test_second_image_transfer_mid_stream_is_refused(stub: Stub, unique: Callable[[str], str]) -> None:
    stream = _start_transfer(stub, unique("twice"), size=100)
    stream.send(pb.DeployRequest(image_transfer=pb.ImageTransfer(name="other", image_size=5)))
    assert _final_error(stream).code() is grpc.StatusCode.INVALID_ARGUMENT


def test_a_tarball_that_is_not_an_image_is_refused_and_nothing_is_loaded(
    stub: Stub, tmp_path: Path, unique: Callable[[str], str], server: ServerProcess
) -> None:
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"definitely not a tar archive" * 50)
    name = unique("garbage")
    with pytest.raises(grpc.RpcError) as raised:
        deploy_file(stub, garbage, name)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert listed(stub, name) == []
    assert wait_for_no_leftovers(server) == []
