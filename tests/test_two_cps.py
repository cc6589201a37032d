"""Two control processors on two real engines: roles, replication, switchover, failover, placement.

Each control processor is a server process with its own Docker engine; they contend for one
arbiter lock and share the device's service address. The CNTR-3 cases they stand in for are
named in each test.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import grpc
import pytest

from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc
from protos.gnoi.system import system_pb2 as spb
from protos.gnoi.system import system_pb2_grpc
from protos.gnoi.types import types_pb2
from tests.conftest import BusyboxImages
from tests.support.client import code_of, deploy_file, eventually
from tests.support.device import NAMES, Device, active_name, components, ready

Stub = containerz_pb2_grpc.ContainerzStub


@pytest.fixture
def device(docker_host: str, second_docker_host: str, tmp_path: Path) -> Iterator[Device]:
    made = Device((docker_host, second_docker_host), tmp_path).boot()
    assert eventually(lambda: active_name(made.service) is not None, timeout=20)
    yield made
    made.stop()


@pytest.fixture
def engines(docker_api: docker.APIClient, second_docker_host: str) -> Iterator[dict[str, docker.APIClient]]:
    second = docker.APIClient(base_url=second_docker_host, version="auto", timeout=60)
    yield {NAMES[0]: docker_api, NAMES[1]: second}
    second.close()


@pytest.fixture(autouse=True)
def _clean_engines(engines: dict[str, docker.APIClient], run_id: str) -> Iterator[None]:
    """Remove what the test made on either engine, and only that: the session's server journals
    its own objects and would recreate any removed behind its back."""
    before = {name: _ours(api, run_id) for name, api in engines.items()}
    yield
    for name, api in engines.items():
        containers, volumes, images = (now - then for now, then in zip(_ours(api, run_id), before[name], strict=True))
        for container in containers:
            api.remove_container(container, force=True)
        for volume in volumes:
            api.remove_volume(volume, force=True)
        for image in images:
            with contextlib.suppress(docker.errors.NotFound):
                api.remove_image(image, force=True)


def _ours(api: docker.APIClient, run_id: str) -> tuple[set[str], set[str], set[str]]:
    containers = {c["Names"][0].lstrip("/") for c in api.containers(all=True)}
    volumes = {v["Name"] for v in (api.volumes() or {}).get("Volumes") or []}
    images = {tag for image in api.images() for tag in image.get("RepoTags") or []}
    return tuple({n for n in names if n.startswith(run_id)} for names in (containers, volumes, images))  # type: ignore[return-value]


def status_on(address: str, name: str) -> str | None:
    with grpc.insecure_channel(address) as channel:
        try:
            listed = list(Stub(channel).ListContainer(pb.ListContainerRequest(all=True), timeout=5))
        except grpc.RpcError:
            return None
    return next((pb.ListContainerResponse.Status.Name(c.status) for c in listed if c.name == name), None)


def has_image(api: docker.APIClient, reference: str) -> bool:
    try:
        api.inspect_image(reference)
    except docker.errors.ImageNotFound:
        return False
    return True


def switch(address: str, to: str) -> spb.SwitchControlProcessorResponse:
    path = types_pb2.Path(
        origin="openconfig",
        elem=[types_pb2.PathElem(name="components"), types_pb2.PathElem(name="component", key={"name": to})],
    )
    with grpc.insecure_channel(address) as channel:
        return system_pb2_grpc.SystemStub(channel).SwitchControlProcessor(
            spb.SwitchControlProcessorRequest(control_processor=path), timeout=30
        )


def test_one_primary_one_secondary_and_the_standby_becomes_ready(device: Device) -> None:
    active = active_name(device.service)
    assert active in NAMES
    standby = next(n for n in NAMES if n != active)
    state = components(device.service)
    assert state[active]["redundant-role"] == "PRIMARY"
    assert state[standby]["redundant-role"] == "SECONDARY"
    assert all(s["type"] == "openconfig-platform-types:CONTROLLER_CARD" for s in state.values())
    assert eventually(ready(device.service, active), timeout=20)
    # Each control processor also answers on its own address, and both agree.
    assert eventually(lambda: active_name(device.own(standby)) == active)


def test_the_standby_refuses_writes_but_answers_reads(
    device: Device, test_images: BusyboxImages, unique: Callable[[str], str]
) -> None:
    active = active_name(device.service)
    standby = next(n for n in NAMES if n != active)
    with grpc.insecure_channel(device.own(standby)) as channel:
        stub = Stub(channel)
        code = code_of(lambda: stub.CreateVolume(pb.CreateVolumeRequest(name=unique("refused"))))
        assert code is grpc.StatusCode.UNAVAILABLE
        list(stub.ListContainer(pb.ListContainerRequest(all=True)))  # reads work


def test_planned_switchover_keeps_image_volume_and_running_container(
    device: Device,
    test_images: BusyboxImages,
    unique: Callable[[str], str],
    engines: dict[str, docker.APIClient],
) -> None:
    """CNTR-3.1 to 3.4, then 3.10/3.11 (switch back)."""
    image, volume, name = unique("sw-img"), unique("sw-vol"), unique("sw-ctr")
    first = active_name(device.service)
    assert first is not None
    second = next(n for n in NAMES if n != first)
    assert eventually(ready(device.service, first), timeout=20)
    with grpc.insecure_channel(device.service) as channel:
        stub = Stub(channel)
        deploy_file(stub, test_images.long_running, image)
        stub.CreateVolume(pb.CreateVolumeRequest(name=volume))
        stub.StartContainer(
            pb.StartContainerRequest(
                image_name=image, instance_name=name, volumes=[pb.Volume(name=volume, mount_point="/data")]
            )
        )
    # Acknowledged means on the standby already: the image is in its engine.
    assert has_image(engines[second], f"{image}:latest")

    reply = switch(device.service, second)
    assert reply.uptime > 0
    assert eventually(lambda: active_name(device.service) == second, timeout=20)
    assert eventually(lambda: status_on(device.service, name) == "RUNNING", timeout=20)
    assert engines[second].inspect_volume(volume)["Name"] == volume
    assert [m["Name"] for m in engines[second].inspect_container(name)["Mounts"]] == [volume]
    assert eventually(lambda: status_on(device.own(first), name) is None)  # it moved
    state = components(device.service)
    assert state[second]["last-switchover-reason/trigger"] == "openconfig-platform-types:USER_INITIATED"
    assert len(str(state[second]["last-switchover-time"])) == 19

    assert eventually(ready(device.service, second), timeout=30)
    switch(device.service, first)
    assert eventually(lambda: active_name(device.service) == first, timeout=20)
    assert eventually(lambda: status_on(device.service, name) == "RUNNING", timeout=20)


def test_switchover_refused_while_the_standby_is_not_ready(device: Device) -> None:
    active = active_name(device.service)
    assert active is not None
    standby = next(n for n in NAMES if n != active)
    device.processes[standby].stop()
    assert eventually(lambda: not ready(device.service, active)(), timeout=10)
    assert code_of(lambda: switch(device.service, standby)) is grpc.StatusCode.FAILED_PRECONDITION


def test_killing_the_active_fails_over_and_the_old_active_rejoins_as_standby(
    device: Device, test_images: BusyboxImages, unique: Callable[[str], str]
) -> None:
    image, name = unique("ko-img"), unique("ko-ctr")
    first = active_name(device.service)
    assert first is not None
    second = next(n for n in NAMES if n != first)
    assert eventually(ready(device.service, first), timeout=20)
    with grpc.insecure_channel(device.service) as channel:
        stub = Stub(channel)
        deploy_file(stub, test_images.long_running, image)
        stub.StartContainer(pb.StartContainerRequest(image_name=image, instance_name=name))

    device.processes[first].kill()
    started = time.monotonic()
    assert eventually(lambda: active_name(device.service) == second, timeout=20)
    assert eventually(lambda: status_on(device.service, name) == "RUNNING", timeout=20)
    assert time.monotonic() - started < 15
    assert components(device.service)[second]["last-switchover-reason/trigger"].endswith("SYSTEM_INITIATED")

    device.start(first)  # it comes back: as the standby, and it catches up by itself
    assert eventually(lambda: active_name(device.own(first)) == second, timeout=20)
    assert eventually(ready(device.service, second), timeout=30)
    with grpc.insecure_channel(device.own(first)) as channel:
        code = code_of(lambda: Stub(channel).CreateVolume(pb.CreateVolumeRequest(name=unique("late"))))
    assert code is grpc.StatusCode.UNAVAILABLE


PLACEMENTS = {
    "primary": (pb.StartContainerRequest.L_PRIMARY, True, False),
    "backup": (pb.StartContainerRequest.L_BACKUP, False, True),
    "all": (pb.StartContainerRequest.L_ALL, True, True),
}


@pytest.mark.parametrize("placement", sorted(PLACEMENTS))
def test_placement(device: Device, test_images: BusyboxImages, unique: Callable[[str], str], placement: str) -> None:
    """CNTR-3.15 to 3.17: each control processor's own address lists what runs on it."""
    location, on_active, on_standby = PLACEMENTS[placement]
    active = active_name(device.service)
    assert active is not None
    standby = next(n for n in NAMES if n != active)
    assert eventually(ready(device.service, active), timeout=20)
    image, name = unique("pl-img"), unique("pl-ctr")
    with grpc.insecure_channel(device.service) as channel:
        stub = Stub(channel)
        deploy_file(stub, test_images.long_running, image)
        stub.StartContainer(pb.StartContainerRequest(image_name=image, instance_name=name, location=location))
    expected = {active: "RUNNING" if on_active else None, standby: "RUNNING" if on_standby else None}
    assert eventually(lambda: {n: status_on(device.own(n), name) for n in NAMES} == expected, timeout=20)


def read_file(api: docker.APIClient, container: str, path: str) -> str | None:
    try:
        stream, _ = api.get_archive(container, path)
    except docker.errors.NotFound:
        return None
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
        (member,) = archive.getmembers()
        extracted = archive.extractfile(member)
        assert extracted is not None
        return extracted.read().decode()


def test_volume_data_written_before_a_switchover_is_there_after_it(
    device: Device, test_images: BusyboxImages, unique: Callable[[str], str], engines: dict[str, docker.APIClient]
) -> None:
    """CNTR-3.22: the container writes a token only if its volume holds none; after the
    switchover the new active's container must read back the very same token."""
    image, volume, name = unique("vd-img"), unique("vd-vol"), unique("vd-ctr")
    first = active_name(device.service)
    assert first is not None
    second = next(n for n in NAMES if n != first)
    assert eventually(ready(device.service, first), timeout=20)
    with grpc.insecure_channel(device.service) as channel:
        stub = Stub(channel)
        deploy_file(stub, test_images.long_running, image)
        stub.CreateVolume(pb.CreateVolumeRequest(name=volume))
        stub.StartContainer(
            pb.StartContainerRequest(
                image_name=image,
                instance_name=name,
                cmd="/bin/sh -c '[ -f /data/token ] || cat /proc/sys/kernel/random/uuid > /data/token; "
                "while true; do sleep 1; done'",
                volumes=[pb.Volume(name=volume, mount_point="/data")],
            )
        )
    assert eventually(lambda: bool(read_file(engines[first], name, "/data/token")))
    token = read_file(engines[first], name, "/data/token")

    switch(device.service, second)
    assert eventually(lambda: active_name(device.service) == second, timeout=20)
    assert eventually(lambda: status_on(device.service, name) == "RUNNING", timeout=20)
    assert read_file(engines[second], name, "/data/token") == token
