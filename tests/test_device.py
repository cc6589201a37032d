"""`server.py device`: the whole simulated device as an operator starts it — two control
processors on two private engines behind one address — through a cold reboot and a kill -9."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from containerz.netns import Topology
from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc
from protos.gnoi.system import system_pb2 as spb
from protos.gnoi.system import system_pb2_grpc
from tests.conftest import ROOT, BusyboxImages
from tests.support.client import deploy_file, eventually
from tests.support.device import NAMES, active_name, components, free_port, ready

Stub = containerz_pb2_grpc.ContainerzStub


class RunningDevice:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        base = free_port()
        self.address = f"127.0.0.1:{base}"
        self.log = directory.parent / "device.log"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "server.py"), "device", "--listen", self.address,
                 "--data-dir", str(directory), "--cp-base-port", str(free_port()),
                 "--log-format", "json", "--reconcile-interval", "1"],
                stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
            )  # fmt: skip

    def pid_of(self, name: str) -> int:
        return int((self.directory / name / "pid").read_text())

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        for name in NAMES:
            subprocess.run(
                ["bash", str(ROOT / "scripts" / "engine.sh"), "stop", "--dir", str(self.directory / name / "engine")],
                check=False, capture_output=True,
            )  # fmt: skip


@pytest.fixture(scope="module")
def device(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDevice]:
    running = RunningDevice(tmp_path_factory.mktemp("device") / "data")
    try:
        assert eventually(lambda: active_name(running.address) is not None, timeout=90), running.log.read_text()
        yield running
    finally:
        running.stop()


def status_of(address: str, name: str) -> str | None:
    try:
        with grpc.insecure_channel(address) as channel:
            listed = list(Stub(channel).ListContainer(pb.ListContainerRequest(all=True), timeout=5))
    except grpc.RpcError:
        return None
    return next((pb.ListContainerResponse.Status.Name(c.status) for c in listed if c.name == name), None)


def boot_times(address: str) -> dict[str, object]:
    try:
        return {name: state["boot-time"] for name, state in components(address).items()}
    except grpc.RpcError:
        return {}


def test_the_device_serves_one_address_with_a_primary_and_a_ready_secondary(device: RunningDevice) -> None:
    active = active_name(device.address)
    assert active in NAMES
    assert eventually(ready(device.address, active), timeout=30)


def test_a_cold_reboot_of_the_device_brings_back_what_ran(
    device: RunningDevice, test_images: BusyboxImages, unique: Callable[[str], str]
) -> None:
    """CNTR-1.8, CNTR-3.8 / 3.21: a container with no restart policy runs again after the reboot."""
    image, volume, running, stopped = unique("dev-img"), unique("dev-vol"), unique("dev-run"), unique("dev-stop")
    assert eventually(ready(device.address, active_name(device.address) or ""), timeout=30)
    with grpc.insecure_channel(device.address) as channel:
        stub = Stub(channel)
        deploy_file(stub, test_images.long_running, image)
        stub.CreateVolume(pb.CreateVolumeRequest(name=volume))
        stub.StartContainer(
            pb.StartContainerRequest(
                image_name=image, instance_name=running, volumes=[pb.Volume(name=volume, mount_point="/data")]
            )
        )
        stub.StartContainer(pb.StartContainerRequest(image_name=image, instance_name=stopped))
        stub.StopContainer(pb.StopContainerRequest(instance_name=stopped, force=True))
    before = boot_times(device.address)
    with grpc.insecure_channel(device.address) as channel:
        system_pb2_grpc.SystemStub(channel).Reboot(
            spb.RebootRequest(method=spb.COLD, message="device reboot", force=True), timeout=10
        )
    # Both control processors restart: every boot time moves on.
    assert eventually(
        lambda: (
            (after := boot_times(device.address)).keys() == before.keys() and all(after[n] != before[n] for n in before)
        ),
        timeout=60,
    )
    assert eventually(lambda: status_of(device.address, running) == "RUNNING", timeout=60)
    assert status_of(device.address, stopped) == "STOPPED"
    with grpc.insecure_channel(device.address) as channel:
        volumes = [v.name for v in Stub(channel).ListVolume(pb.ListVolumeRequest())]
    assert volume in volumes


def test_killing_the_active_control_processor(
    device: RunningDevice, test_images: BusyboxImages, unique: Callable[[str], str]
) -> None:
    image, name = unique("dev-ko-img"), unique("dev-ko")
    first = active_name(device.address)
    assert first is not None
    assert eventually(ready(device.address, first), timeout=30)
    with grpc.insecure_channel(device.address) as channel:
        stub = Stub(channel)
        deploy_file(stub, test_images.long_running, image)
        stub.StartContainer(pb.StartContainerRequest(image_name=image, instance_name=name))
    os.kill(device.pid_of(first), signal.SIGKILL)
    second = next(n for n in NAMES if n != first)
    assert eventually(lambda: active_name(device.address) == second, timeout=30)
    assert eventually(lambda: status_of(device.address, name) == "RUNNING", timeout=30)
    # The chassis restarts the dead control processor; it rejoins as the standby and catches up.
    assert eventually(ready(device.address, second), timeout=60)


def topology(device: RunningDevice) -> Topology:
    return Topology.for_device(device.directory)


def own_address(device: RunningDevice, name: str) -> str:
    namespace = topology(device).namespaces[NAMES.index(name)]
    return f"{namespace.own_address}:9339"


def volume_names(address: str) -> set[str]:
    with grpc.insecure_channel(address) as channel:
        return {v.name for v in Stub(channel).ListVolume(pb.ListVolumeRequest(), timeout=5)}


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
def test_cutting_the_replication_link_never_makes_two_actives(
    device: RunningDevice, unique: Callable[[str], str]
) -> None:
    active = active_name(device.address)
    assert active is not None
    standby = next(n for n in NAMES if n != active)
    assert eventually(ready(device.address, active), timeout=30)
    volume = unique("cut-link")
    topology(device).set_link(up=False)
    try:
        assert eventually(lambda: not ready(device.address, active)(), timeout=15)  # degraded, and says so
        with grpc.insecure_channel(device.address) as channel:
            Stub(channel).CreateVolume(pb.CreateVolumeRequest(name=volume), timeout=15)  # still served
        # The standby does not take over: mastership is the arbiter's, not the link's.
        assert not eventually(lambda: active_name(own_address(device, standby)) == standby, timeout=4)
        assert active_name(device.address) == active
        assert volume not in volume_names(own_address(device, standby))
    finally:
        topology(device).set_link(up=True)
    assert eventually(ready(device.address, active), timeout=30)  # it catches up by itself
    assert eventually(lambda: volume in volume_names(own_address(device, standby)), timeout=30)


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
def test_l_all_with_the_same_host_port_on_both_control_processors(
    device: RunningDevice, test_images: BusyboxImages, unique: Callable[[str], str]
) -> None:
    image, name = unique("same-port-img"), unique("same-port")
    port = 18080
    assert eventually(ready(device.address, active_name(device.address) or ""), timeout=30)
    with grpc.insecure_channel(device.address) as channel:
        stub = Stub(channel)
        deploy_file(stub, test_images.long_running, image)
        stub.StartContainer(
            pb.StartContainerRequest(
                image_name=image,
                instance_name=name,
                cmd=f"/bin/sh -c 'while true; do echo hello-from-$(hostname) | nc -l -p {port}; done'",
                location=pb.StartContainerRequest.L_ALL,
            )
        )

    def answers(cp: str) -> bool:
        host = topology(device).namespaces[NAMES.index(cp)].own_address
        try:
            with socket.create_connection((host, port), timeout=2) as connection:
                return connection.recv(64).startswith(b"hello-from-")
        except OSError:
            return False

    # Host networking in each control processor's own namespace: the same port on both.
    assert eventually(lambda: all(answers(cp) for cp in NAMES), timeout=30)


def test_killing_the_active_engine_hands_over_to_the_standby(
    device: RunningDevice, test_images: BusyboxImages, unique: Callable[[str], str]
) -> None:
    """kill -9 of the active control processor's dockerd: a control processor without an engine
    runs nothing, so it steps down and the standby takes over. (Last in this module: it leaves
    that engine to be started again.)"""
    image, name = unique("dockerd-ko-img"), unique("dockerd-ko")
    first = active_name(device.address)
    assert first is not None
    second = next(n for n in NAMES if n != first)
    assert eventually(ready(device.address, first), timeout=30)
    with grpc.insecure_channel(device.address) as channel:
        stub = Stub(channel)
        deploy_file(stub, test_images.long_running, image)
        stub.StartContainer(pb.StartContainerRequest(image_name=image, instance_name=name))
    engine_dir = device.directory / first / "engine"
    os.kill(int((engine_dir / "docker.pid").read_text()), signal.SIGKILL)
    assert eventually(lambda: active_name(device.address) == second, timeout=30)
    assert eventually(lambda: status_of(device.address, name) == "RUNNING", timeout=30)
    trigger = components(device.address)[second]["last-switchover-reason/trigger"]
    assert str(trigger).endswith("SYSTEM_INITIATED")
    netns = ["--netns", topology(device).namespaces[NAMES.index(first)].name] if os.geteuid() == 0 else []
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "engine.sh"), "start", "--dir", str(engine_dir), *netns],
        check=True,
        capture_output=True,
    )
    assert eventually(ready(device.address, second), timeout=60)
