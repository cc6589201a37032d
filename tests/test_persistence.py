"""The journal on one control processor: a cold reboot, drift and cut-off operations, on the real engine.

A cold reboot is simulated as the device would see it: the server is killed (SIGKILL, no
cleanup) and every container dies with it; the engine may also have lost containers. The
server then starts again on the same data directory.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import grpc
import pytest

from containerz import desired
from containerz.app import open_state
from containerz.model import ContainerSpec, ContainerState
from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc
from state import Kind
from tests.conftest import LONG_RUNNING_CMD, BusyboxImages
from tests.support.client import deploy_file, eventually
from tests.support.images import plugin_config_json
from tests.support.server import ServerProcess

Stub = containerz_pb2_grpc.ContainerzStub


class Device:
    """One control processor's server on a data directory that outlives each process."""

    def __init__(self, docker_host: str, data_dir: Path) -> None:
        self.docker_host = docker_host
        self.data_dir = data_dir
        self.process: ServerProcess | None = None
        self.channel: grpc.Channel | None = None

    def boot(self) -> Stub:
        self.process = ServerProcess(
            self.docker_host, self.data_dir, env={"CONTAINERZ_RECONCILE_INTERVAL": "1"}
        ).start()
        self.channel = grpc.insecure_channel(self.process.address)
        return Stub(self.channel)

    def crash(self) -> None:
        assert self.process is not None and self.channel is not None
        self.channel.close()
        self.process.kill()

    def shut_down(self) -> None:
        if self.channel is not None:
            self.channel.close()
        if self.process is not None:
            self.process.stop()


@pytest.fixture
def device(docker_host: str, tmp_path: Path) -> Iterator[Device]:
    made = Device(docker_host, tmp_path / "data")
    yield made
    made.shut_down()


def statuses(stub: Stub) -> dict[str, str]:
    return {
        c.name: pb.ListContainerResponse.Status.Name(c.status)
        for c in stub.ListContainer(pb.ListContainerRequest(all=True))
    }


def start(stub: Stub, image: str, name: str, **fields: object) -> None:
    reply = stub.StartContainer(
        pb.StartContainerRequest(image_name=image, tag="latest", instance_name=name, **fields)  # type: ignore[arg-type]
    )
    assert reply.WhichOneof("response") == "start_ok", reply


def test_a_cold_reboot_brings_back_exactly_what_was_acknowledged(
    device: Device, test_images: BusyboxImages, unique: Callable[[str], str], docker_api: docker.APIClient
) -> None:
    stub = device.boot()
    image, volume = unique("reboot-img"), unique("reboot-vol")
    running, lost, stopped, removed = (unique(stem) for stem in ("running", "lost", "stopped", "removed"))
    deploy_file(stub, test_images.long_running, image)
    stub.CreateVolume(pb.CreateVolumeRequest(name=volume))
    start(stub, image, running, volumes=[pb.Volume(name=volume, mount_point="/data")])
    for name in (lost, stopped, removed):
        start(stub, image, name)
    stub.StopContainer(pb.StopContainerRequest(instance_name=stopped, force=True))
    stub.RemoveContainer(pb.RemoveContainerRequest(name=removed, force=True))

    device.crash()
    # The power goes: every container dies; this engine even forgets one of them.
    for name in (running, lost):
        docker_api.kill(name)
    docker_api.remove_container(lost, force=True)

    stub = device.boot()
    expected = {running: "RUNNING", lost: "RUNNING", stopped: "STOPPED"}
    assert eventually(
        lambda: {n: s for n, s in statuses(stub).items() if n in (running, lost, stopped, removed)} == expected
    )
    mounts = docker_api.inspect_container(running)["Mounts"]
    assert [(m["Name"], m["Destination"]) for m in mounts] == [(volume, "/data")]
    assert removed not in statuses(stub)


def test_a_container_deleted_behind_the_servers_back_is_recreated(
    device: Device, test_images: BusyboxImages, unique: Callable[[str], str], docker_api: docker.APIClient
) -> None:
    stub = device.boot()
    image, name = unique("drift-img"), unique("drift")
    deploy_file(stub, test_images.long_running, image)
    start(stub, image, name)
    first_id = docker_api.inspect_container(name)["Id"]
    docker_api.remove_container(name, force=True)
    assert eventually(lambda: statuses(stub).get(name) == "RUNNING")
    assert docker_api.inspect_container(name)["Id"] != first_id


def test_a_container_that_exits_by_itself_is_left_to_its_restart_policy(
    device: Device, test_images: BusyboxImages, unique: Callable[[str], str]
) -> None:
    stub = device.boot()
    image, name = unique("exits-img"), unique("exits")
    deploy_file(stub, test_images.exits, image)
    start(stub, image, name)
    assert eventually(lambda: statuses(stub).get(name) == "STOPPED")
    # Several reconcile intervals later it has not been started again behind the client's back.
    assert not eventually(lambda: statuses(stub).get(name) == "RUNNING", timeout=3.5)


def test_operations_cut_off_by_a_crash_are_rolled_back_or_completed(
    device: Device, test_images: BusyboxImages, unique: Callable[[str], str], docker_api: docker.APIClient
) -> None:
    stub = device.boot()
    image, half_started, half_removed = unique("cut-img"), unique("half-started"), unique("half-removed")
    deploy_file(stub, test_images.long_running, image)
    start(stub, image, half_removed)
    device.shut_down()

    # What the journal and the engine hold when a crash strikes in the middle of two operations:
    # a StartContainer that had started the container but not recorded it, and a
    # RemoveContainer that had removed the container but not recorded it.
    spec = ContainerSpec(image=image, tag="latest", instance_name=half_started, command=tuple(LONG_RUNNING_CMD))

    async def cut_off() -> None:
        state = open_state(device.data_dir / "state")
        await state.begin(desired.put_container(spec, ContainerState.RUNNING))
        await state.begin(desired.remove(Kind.CONTAINER, half_removed))
        state.close()

    asyncio.run(cut_off())
    docker_api.create_container(f"{image}:latest", command=LONG_RUNNING_CMD, name=half_started)
    docker_api.start(half_started)
    docker_api.remove_container(half_removed, force=True)

    stub = device.boot()
    assert eventually(lambda: half_started not in [c["Names"][0].lstrip("/") for c in docker_api.containers(all=True)])
    # The removal is complete as it stands: not resurrected, then or at the next reconcile.
    assert not eventually(lambda: half_removed in statuses(stub), timeout=3)


def plugin_states(api: docker.APIClient, plugins: tuple[str, ...]) -> dict[str, bool]:
    return {p["Name"]: p["Enabled"] for p in api.plugins() if p["Name"] in plugins}


def test_plugins_come_back_as_acknowledged_after_a_cold_reboot(
    device: Device, plugin_tarball: Path, unique: Callable[[str], str], docker_api: docker.APIClient
) -> None:
    stub = device.boot()
    tarball = unique("reboot-plug")
    enabled, disabled, removed = (f"{unique(stem)}:latest" for stem in ("plug-on", "plug-off", "plug-gone"))
    deploy_file(stub, plugin_tarball, tarball, is_plugin=True)
    for plugin in (enabled, disabled, removed):
        stub.StartPlugin(pb.StartPluginRequest(name=tarball, instance_name=plugin, config=plugin_config_json()))
    stub.StopPlugin(pb.StopPluginRequest(instance_name=disabled))
    stub.RemovePlugin(pb.RemovePluginRequest(instance_name=removed))

    device.crash()
    # The engine comes back without its plugins.
    for plugin in (enabled, disabled):
        docker_api.remove_plugin(plugin, force=True)

    device.boot()
    everything = (enabled, disabled, removed)
    assert eventually(lambda: plugin_states(docker_api, everything) == {enabled: True, disabled: False})
    assert not eventually(lambda: removed in plugin_states(docker_api, everything), timeout=2.5)


def test_a_plugin_tarball_deploy_cut_off_by_a_crash_is_rolled_back(
    device: Device, plugin_tarball: Path, unique: Callable[[str], str]
) -> None:
    stub = device.boot()
    redeployed, new = unique("cut-plug"), unique("cut-new-plug")
    deploy_file(stub, plugin_tarball, redeployed, is_plugin=True)
    device.shut_down()
    plugins = device.data_dir / "plugins"
    kept, set_aside = plugins / f"{redeployed}.tar", plugins / f"{redeployed}.tar.previous"
    original = kept.read_bytes()

    async def cut_off() -> None:
        state = open_state(device.data_dir / "state")
        await state.begin(desired.put_plugin_tarball(redeployed))
        await state.begin(desired.put_plugin_tarball(new))
        state.close()

    # A crash in the middle of two Deploys: one had replaced the tarball (the old one set
    # aside), the other had put a new one in place; neither had recorded its outcome.
    asyncio.run(cut_off())
    os.link(kept, set_aside)
    incoming = plugins / "incoming"
    incoming.write_bytes(b"the tarball of the deploy that was cut off")
    os.replace(incoming, kept)
    (plugins / f"{new}.tar").write_bytes(b"a plugin never acknowledged")

    stub = device.boot()
    assert eventually(lambda: kept.read_bytes() == original)
    assert not set_aside.exists()
    assert not (plugins / f"{new}.tar").exists()
    # The restored tarball is the one StartPlugin uses.
    plugin = f"{unique('cut-plug-on')}:latest"
    stub.StartPlugin(pb.StartPluginRequest(name=redeployed, instance_name=plugin, config=plugin_config_json()))
    stub.RemovePlugin(pb.RemovePluginRequest(instance_name=plugin))


def test_a_plugin_removed_behind_the_servers_back_is_made_again(
    device: Device, plugin_tarball: Path, unique: Callable[[str], str], docker_api: docker.APIClient
) -> None:
    stub = device.boot()
    tarball, plugin = unique("drift-plug"), f"{unique('drift-plug-on')}:latest"
    deploy_file(stub, plugin_tarball, tarball, is_plugin=True)
    stub.StartPlugin(pb.StartPluginRequest(name=tarball, instance_name=plugin, config=plugin_config_json()))
    first_id = docker_api.inspect_plugin(plugin)["Id"]
    docker_api.remove_plugin(plugin, force=True)
    assert eventually(lambda: plugin_states(docker_api, (plugin,)) == {plugin: True})
    assert docker_api.inspect_plugin(plugin)["Id"] != first_id
    stub.RemovePlugin(pb.RemovePluginRequest(instance_name=plugin))
