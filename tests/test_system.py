"""gNOI System on a single control processor: Time, SwitchControlProcessor, Reboot and its status."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import grpc
import pytest

from protos.gnoi.containerz import containerz_pb2 as cpb
from protos.gnoi.containerz import containerz_pb2_grpc
from protos.gnoi.system import system_pb2 as pb
from protos.gnoi.system import system_pb2_grpc
from protos.gnoi.types import types_pb2
from tests.conftest import BusyboxImages
from tests.support.client import code_of, deploy_file, eventually, pygnmi
from tests.support.server import ServerProcess

OWN = "Supervisor1"


@pytest.fixture(scope="module")
def system(channel: grpc.Channel) -> system_pb2_grpc.SystemStub:
    return system_pb2_grpc.SystemStub(channel)


@pytest.fixture
def own_server(docker_host: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of its own, for the tests that reboot it."""
    process = ServerProcess(docker_host, tmp_path / "data").start()
    yield process
    process.stop()


def component_path(name: str) -> types_pb2.Path:
    return types_pb2.Path(
        origin="openconfig",
        elem=[types_pb2.PathElem(name="components"), types_pb2.PathElem(name="component", key={"name": name})],
    )


def test_time_is_now_in_nanoseconds(system: system_pb2_grpc.SystemStub) -> None:
    before = time.time_ns()
    reported = system.Time(pb.TimeRequest()).time
    assert before - 1_000_000_000 <= reported <= time.time_ns() + 1_000_000_000
    assert len(str(reported)) == 19


@pytest.mark.parametrize(
    "path",
    [component_path(OWN), types_pb2.Path(elem=[types_pb2.PathElem(name=OWN)])],
    ids=["components-path", "subcomponent-path"],
)
def test_switching_to_the_active_processor_is_a_no_op_that_echoes_the_path(
    system: system_pb2_grpc.SystemStub, path: types_pb2.Path
) -> None:
    reply = system.SwitchControlProcessor(pb.SwitchControlProcessorRequest(control_processor=path))
    assert reply.control_processor == path
    assert reply.version
    assert reply.uptime > 0


@pytest.mark.parametrize(
    ("path", "code"),
    [
        (component_path("Supervisor9"), grpc.StatusCode.NOT_FOUND),
        (types_pb2.Path(elem=[types_pb2.PathElem(name="components")] * 3), grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_switching_to_an_unknown_processor_is_refused(
    system: system_pb2_grpc.SystemStub, path: types_pb2.Path, code: grpc.StatusCode
) -> None:
    assert (
        code_of(lambda: system.SwitchControlProcessor(pb.SwitchControlProcessorRequest(control_processor=path))) is code
    )


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (pb.RebootRequest(), grpc.StatusCode.INVALID_ARGUMENT),
        (pb.RebootRequest(method=pb.WARM), grpc.StatusCode.INVALID_ARGUMENT),
        (pb.RebootRequest(method=pb.COLD, subcomponents=[component_path("Nowhere")]), grpc.StatusCode.NOT_FOUND),
    ],
)
def test_bad_reboot_requests_are_refused_and_nothing_is_scheduled(
    system: system_pb2_grpc.SystemStub, request_: pb.RebootRequest, code: grpc.StatusCode
) -> None:
    assert code_of(lambda: system.Reboot(request_)) is code
    assert system.RebootStatus(pb.RebootStatusRequest()).active is False


def test_a_delayed_reboot_is_reported_refuses_another_and_can_be_cancelled(own_server: ServerProcess) -> None:
    with grpc.insecure_channel(own_server.address) as channel:
        system = system_pb2_grpc.SystemStub(channel)
        delay = 600 * 1_000_000_000
        system.Reboot(pb.RebootRequest(method=pb.COLD, delay=delay, message="maintenance window"))
        status = system.RebootStatus(pb.RebootStatusRequest())
        assert status.active is True
        assert status.reason == "maintenance window"
        assert 0 < status.wait <= delay
        assert status.method == pb.COLD
        assert abs(status.when - (time.time_ns() + status.wait)) < 5_000_000_000
        assert code_of(lambda: system.Reboot(pb.RebootRequest(method=pb.COLD))) is grpc.StatusCode.FAILED_PRECONDITION
        system.CancelReboot(pb.CancelRebootRequest(message="not today"))
        assert system.RebootStatus(pb.RebootStatusRequest()).active is False
        system.CancelReboot(pb.CancelRebootRequest())  # nothing pending: still fine


def status_of(stub: containerz_pb2_grpc.ContainerzStub, name: str) -> str | None:
    for container in stub.ListContainer(cpb.ListContainerRequest(all=True)):
        if container.name == name:
            return cpb.ListContainerResponse.Status.Name(container.status)
    return None


def boot_time(address: str) -> int | None:
    try:
        reply = pygnmi(address, "get", "/system/state/boot-time")
    except subprocess.SubprocessError:  # down while it reboots: not yet
        return None
    return int(reply["notification"][0]["update"][0]["val"])


def test_a_cold_reboot_replies_first_then_brings_back_what_ran(
    own_server: ServerProcess,
    test_images: BusyboxImages,
    unique: Callable[[str], str],
    docker_api: docker.APIClient,
) -> None:
    image, running, stopped = unique("reboot-img"), unique("reboot-run"), unique("reboot-stopped")
    before = boot_time(own_server.address)
    assert before is not None
    with grpc.insecure_channel(own_server.address) as channel:
        stub = containerz_pb2_grpc.ContainerzStub(channel)
        deploy_file(stub, test_images.long_running, image)
        for name in (running, stopped):
            stub.StartContainer(cpb.StartContainerRequest(image_name=image, instance_name=name))
        stub.StopContainer(cpb.StopContainerRequest(instance_name=stopped, force=True))
        started_before = docker_api.inspect_container(running)["State"]["StartedAt"]
        system = system_pb2_grpc.SystemStub(channel)
        system.Reboot(
            pb.RebootRequest(method=pb.COLD, message="persistence check", force=True), timeout=5
        )  # it answers before going down

    assert eventually(lambda: (boot_time(own_server.address) or before) > before, timeout=30)
    with grpc.insecure_channel(own_server.address) as channel:
        stub = containerz_pb2_grpc.ContainerzStub(channel)
        assert eventually(lambda: status_of(stub, running) == "RUNNING")
        assert status_of(stub, stopped) == "STOPPED"
        status = system_pb2_grpc.SystemStub(channel).RebootStatus(pb.RebootStatusRequest())
        assert (status.active, status.count, status.reason) == (False, 1, "persistence check")
        assert status.status.status == pb.RebootStatus.STATUS_SUCCESS
    # It was killed with the device and started again from the journal (it has no restart policy).
    assert docker_api.inspect_container(running)["State"]["StartedAt"] != started_before
