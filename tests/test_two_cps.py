"""Two control processors on two real engines: roles, replication, switchover, failover, placement.

Each control processor is a server process with its own Docker engine; they contend for one
arbiter lock and share the device's service address. The CNTR-3 cases they stand in for are
named in each test.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import grpc
import pytest

from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc
from tests.conftest import BusyboxImages
from tests.support.client import LockStepDeploy, code_of, deploy_file, eventually, pygnmi
from tests.support.device import (
    NAMES,
    Device,
    active_name,
    components,
    has_image,
    read_file,
    ready,
    start_token_writer,
    status_on,
    switch,
)
from tests.support.images import plugin_config_json

Stub = containerz_pb2_grpc.ContainerzStub


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
        # A Deploy is refused before the client sends the image, not after.
        stream = LockStepDeploy(stub)
        stream.send(pb.DeployRequest(image_transfer=pb.ImageTransfer(name=unique("refused"), image_size=1 << 30)))
        assert code_of(stream.receive) is grpc.StatusCode.UNAVAILABLE
        stream.cancel()
        plugin = LockStepDeploy(stub)
        transfer = pb.ImageTransfer(name=unique("refused"), image_size=1 << 20, is_plugin=True)
        plugin.send(pb.DeployRequest(image_transfer=transfer))
        assert code_of(plugin.receive) is grpc.StatusCode.UNAVAILABLE
        plugin.cancel()
        list(stub.ListContainer(pb.ListContainerRequest(all=True)))  # reads work


def test_planned_switchover_keeps_image_volume_and_running_container(
    device: Device,
    test_images: BusyboxImages,
    unique: Callable[[str], str],
    engines: dict[str, docker.APIClient],
) -> None:
    """CNTR-3.1 to 3.4, then 3.10/3.11 (switch back)."""
    image, volume, name = unique("sw-img"), unique("sw-vol"), unique("sw-ctr")
    first, second = device.ready_roles()
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
    first, second = device.ready_roles()
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
    active, standby = device.ready_roles()
    image, name = unique("pl-img"), unique("pl-ctr")
    with grpc.insecure_channel(device.service) as channel:
        stub = Stub(channel)
        deploy_file(stub, test_images.long_running, image)
        stub.StartContainer(pb.StartContainerRequest(image_name=image, instance_name=name, location=location))
    expected = {active: "RUNNING" if on_active else None, standby: "RUNNING" if on_standby else None}
    assert eventually(lambda: {n: status_on(device.own(n), name) for n in NAMES} == expected, timeout=20)
    # The location labels say what was asked and where each copy runs.
    for cp, role in ((active, "L_PRIMARY"), (standby, "L_BACKUP")):
        if expected[cp] is None:
            continue
        with grpc.insecure_channel(device.own(cp)) as channel:
            (listed,) = [c for c in Stub(channel).ListContainer(pb.ListContainerRequest(all=True)) if c.name == name]
        intended = pb.StartContainerRequest.Location.Name(location)
        assert listed.labels["net.openconfig.containerz.location.intended"] == intended
        assert listed.labels["net.openconfig.containerz.location.actual"] == role


def test_volume_data_written_before_a_switchover_is_there_after_it(
    device: Device, test_images: BusyboxImages, unique: Callable[[str], str], engines: dict[str, docker.APIClient]
) -> None:
    """CNTR-3.22: the container writes a token only if its volume holds none; after the
    switchover the new active's container must read back the very same token."""
    image, volume, name = unique("vd-img"), unique("vd-vol"), unique("vd-ctr")
    first, second = device.ready_roles()
    with grpc.insecure_channel(device.service) as channel:
        stub = Stub(channel)
        start_token_writer(stub, test_images.long_running, image, volume, name)
    assert eventually(lambda: bool(read_file(engines[first], name, "/data/token")))
    token = read_file(engines[first], name, "/data/token")

    switch(device.service, second)
    assert eventually(lambda: active_name(device.service) == second, timeout=20)
    assert eventually(lambda: status_on(device.service, name) == "RUNNING", timeout=20)
    assert read_file(engines[second], name, "/data/token") == token


@pytest.fixture
def syncing_device(docker_host: str, second_docker_host: str, tmp_path: Path, clean_engines: None) -> Iterator[Device]:
    """A device whose active copies changed volume contents to the standby every second."""
    made = Device((docker_host, second_docker_host), tmp_path, extra_args=("--volume-sync-interval", "1")).boot()
    yield made
    made.stop()


def test_volume_data_survives_a_crash_of_the_active_within_the_sync_interval(
    syncing_device: Device,
    test_images: BusyboxImages,
    unique: Callable[[str], str],
    engines: dict[str, docker.APIClient],
) -> None:
    """The crash RPO for volume contents: what a container wrote more than one sync interval
    (plus one copy) before the active dies is on the new active."""
    device = syncing_device
    assert eventually(lambda: active_name(device.service) is not None, timeout=20)
    first, second = device.ready_roles()
    image, volume, name = unique("rpo-img"), unique("rpo-vol"), unique("rpo-ctr")
    with grpc.insecure_channel(device.service) as channel:
        stub = Stub(channel)
        start_token_writer(stub, test_images.long_running, image, volume, name)
    assert eventually(lambda: bool(read_file(engines[first], name, "/data/token")))
    token = read_file(engines[first], name, "/data/token")

    def standby_copy() -> str | None:
        try:
            data = Path(engines[second].inspect_volume(volume)["Mountpoint"])
        except docker.errors.NotFound:
            return None
        return (data / "token").read_text() if (data / "token").exists() else None

    assert eventually(lambda: standby_copy() == token, timeout=10)

    device.processes[first].kill()
    assert eventually(lambda: active_name(device.service) == second, timeout=20)
    assert eventually(lambda: status_on(device.service, name) == "RUNNING", timeout=20)
    assert read_file(engines[second], name, "/data/token") == token


def test_pygnmi_finds_the_standby_and_reads_switchover_ready(device: Device) -> None:
    """What CNTR-3's findRPs and awaitSwitchoverReady do, through a gNMI client no one here wrote."""
    active = active_name(device.service)
    assert active is not None
    assert eventually(ready(device.service, active), timeout=30)

    def read() -> dict[str, dict[str, object]]:
        responses = pygnmi(device.service, "once", "/components/component[name=*]/state", encoding="proto")
        states: dict[str, dict[str, object]] = {}
        for response in responses[:-1]:
            for update in response["update"]["update"]:
                path = update["path"]  # components/component[name=X]/state/leaf
                name = path.split("[name=", 1)[1].split("]", 1)[0]
                states.setdefault(name, {})[path.rsplit("/", 1)[-1]] = update["val"]
        assert responses[-1] == {"sync_response": True}
        return states

    states = read()
    roles = {name: state["redundant-role"] for name, state in states.items()}
    standby = next(name for name, role in roles.items() if role == "SECONDARY")
    assert roles == {active: "PRIMARY", standby: "SECONDARY"}
    assert states[active]["switchover-ready"] is True


def plugin_enabled(api: docker.APIClient, plugin: str) -> bool | None:
    """Whether ``plugin`` is enabled on this engine; None if the engine does not have it."""
    try:
        return bool(api.inspect_plugin(plugin)["Enabled"])
    except docker.errors.NotFound:
        return None


def sha256_of(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def test_plugins_are_on_both_control_processors_and_survive_a_switchover(
    device: Device, plugin_tarball: Path, unique: Callable[[str], str], engines: dict[str, docker.APIClient]
) -> None:
    first, second = device.ready_roles()
    tarball, plugin, volume = unique("plug-tar"), f"{unique('plug')}:latest", unique("plug-vol")
    kept = {cp: device.directory / cp / "plugins" / f"{tarball}.tar" for cp in NAMES}
    with grpc.insecure_channel(device.service) as channel:
        stub = Stub(channel)
        deploy_file(stub, plugin_tarball, tarball, is_plugin=True)
        # Acknowledged means on the standby already, byte for byte.
        assert sha256_of(kept[second]) == sha256_of(plugin_tarball)
        stub.StartPlugin(pb.StartPluginRequest(name=tarball, instance_name=plugin, config=plugin_config_json()))
        custom = pb.CustomOptions(options={"driver": plugin})
        stub.CreateVolume(pb.CreateVolumeRequest(name=volume, driver=pb.DS_CUSTOM, custom_options=custom))
    # The plugin extends both engines: the standby runs it too, and makes the volume with it.
    assert eventually(lambda: plugin_enabled(engines[second], plugin) is True, timeout=20)
    assert eventually(lambda: engines[second].inspect_volume(volume)["Driver"] == plugin, timeout=20)

    switch(device.service, second)
    assert eventually(lambda: active_name(device.service) == second, timeout=20)
    with grpc.insecure_channel(device.service) as channel:
        stub = Stub(channel)
        listed = [p.instance_name for p in stub.ListPlugins(pb.ListPluginsRequest(instance_name=plugin)).plugins]
        assert listed == [plugin]
        stub.RemoveVolume(pb.RemoveVolumeRequest(name=volume))
        stub.StopPlugin(pb.StopPluginRequest(instance_name=plugin))
        assert plugin_enabled(engines[second], plugin) is False
        assert eventually(lambda: plugin_enabled(engines[first], plugin) is False, timeout=20)
        stub.RemovePlugin(pb.RemovePluginRequest(instance_name=plugin))
        assert eventually(lambda: plugin_enabled(engines[first], plugin) is None, timeout=20)
        stub.RemovePluginTar(pb.RemovePluginTarRequest(name=tarball))
    assert not kept[second].exists()
    assert eventually(lambda: not kept[first].exists(), timeout=20)


def test_a_plugin_tarball_deployed_while_the_standby_was_away_reaches_it_when_back(
    device: Device, plugin_tarball: Path, unique: Callable[[str], str], tmp_path: Path
) -> None:
    first, second = device.ready_roles()
    tarball = unique("late-tar")
    kept = device.directory / second / "plugins" / f"{tarball}.tar"
    with grpc.insecure_channel(device.service) as channel:
        deploy_file(Stub(channel), plugin_tarball, tarball, is_plugin=True)
        device.processes[second].stop()
        # Deployed again, with other content, while the standby is away.
        changed = tmp_path / "changed.tar"
        changed.write_bytes(plugin_tarball.read_bytes() + bytes(10240))
        deploy_file(Stub(channel), changed, tarball, is_plugin=True)
    assert sha256_of(kept) == sha256_of(plugin_tarball)
    device.start(second)
    assert eventually(ready(device.service, first), timeout=30)
    assert eventually(lambda: sha256_of(kept) == sha256_of(changed), timeout=20)


def test_an_image_deployed_again_while_the_standby_was_away_is_replaced_there(
    device: Device, test_images: BusyboxImages, unique: Callable[[str], str], engines: dict[str, docker.APIClient]
) -> None:
    first, second = device.ready_roles()
    image = unique("redeployed")
    with grpc.insecure_channel(device.service) as channel:
        deploy_file(Stub(channel), test_images.long_running, image, "v1")
        old_id = engines[second].inspect_image(f"{image}:v1")["Id"]
        device.processes[second].stop()
        deploy_file(Stub(channel), test_images.exits, image, "v1")  # same name:tag, other content
    new_id = engines[first].inspect_image(f"{image}:v1")["Id"]
    assert new_id != old_id
    device.start(second)
    assert eventually(ready(device.service, first), timeout=30)
    # Switchover-ready means the standby holds the image the journal records, not just its name.
    assert engines[second].inspect_image(f"{image}:v1")["Id"] == new_id
