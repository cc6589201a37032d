"""The featureprofiles CNTR-3 cases not covered by test_two_cps.py, on two control processors
with two real engines: removals, stops and placement across switchovers, and a transfer
interrupted by one. Each test names its case."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import docker
import grpc

from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc
from tests.conftest import BusyboxImages
from tests.support.client import LockStepDeploy, deploy_file, eventually
from tests.support.device import (
    NAMES,
    Device,
    active_name,
    has_image,
    read_file,
    ready,
    start_token_writer,
    status_on,
    switch,
)

Stub = containerz_pb2_grpc.ContainerzStub


def switch_and_wait(device: Device, to: str) -> None:
    switch(device.service, to)
    assert eventually(lambda: active_name(device.service) == to, timeout=20)
    assert eventually(ready(device.service, to), timeout=30)


def images_named(address: str, name: str) -> list[str]:
    with grpc.insecure_channel(address) as channel:
        return [
            f"{i.image_name}:{i.tag}" for i in Stub(channel).ListImage(pb.ListImageRequest()) if i.image_name == name
        ]


def test_3_5_a_removed_image_stays_removed(
    device: Device, test_images: BusyboxImages, unique: Callable[[str], str], engines: dict[str, docker.APIClient]
) -> None:
    image = unique("rm-img")
    _active, standby = device.ready_roles()
    with grpc.insecure_channel(device.service) as channel:
        stub = Stub(channel)
        deploy_file(stub, test_images.long_running, image)
        stub.RemoveImage(pb.RemoveImageRequest(name=image, tag="latest"))
    switch_and_wait(device, standby)
    assert images_named(device.service, image) == []
    assert not any(has_image(api, f"{image}:latest") for api in engines.values())


def test_3_6_a_removed_container_stays_removed(
    device: Device, test_images: BusyboxImages, unique: Callable[[str], str]
) -> None:
    image, name = unique("rmc-img"), unique("rmc")
    _active, standby = device.ready_roles()
    with grpc.insecure_channel(device.service) as channel:
        stub = Stub(channel)
        deploy_file(stub, test_images.long_running, image)
        stub.StartContainer(pb.StartContainerRequest(image_name=image, instance_name=name))
        stub.RemoveContainer(pb.RemoveContainerRequest(name=name, force=True))
    switch_and_wait(device, standby)
    assert not eventually(lambda: status_on(device.service, name) is not None, timeout=3)


def test_3_12_a_container_stopped_between_two_switchovers_stays_stopped(
    device: Device, test_images: BusyboxImages, unique: Callable[[str], str]
) -> None:
    image, name = unique("stop-img"), unique("stop")
    first, second = device.ready_roles()
    with grpc.insecure_channel(device.service) as channel:
        stub = Stub(channel)
        deploy_file(stub, test_images.long_running, image)
        stub.StartContainer(pb.StartContainerRequest(image_name=image, instance_name=name))
    switch_and_wait(device, second)
    assert eventually(lambda: status_on(device.service, name) == "RUNNING", timeout=20)
    with grpc.insecure_channel(device.service) as channel:
        Stub(channel).StopContainer(pb.StopContainerRequest(instance_name=name))
    assert status_on(device.service, name) == "STOPPED"
    switch_and_wait(device, first)
    assert eventually(lambda: status_on(device.service, name) is not None, timeout=20)
    assert not eventually(lambda: status_on(device.service, name) != "STOPPED", timeout=3)


def test_3_13_and_3_14_a_container_and_its_volume_survive_a_double_switchover_intact(
    device: Device, test_images: BusyboxImages, unique: Callable[[str], str], engines: dict[str, docker.APIClient]
) -> None:
    image, volume, name = unique("dbl-img"), unique("dbl-vol"), unique("dbl")
    first, second = device.ready_roles()
    with grpc.insecure_channel(device.service) as channel:
        start_token_writer(Stub(channel), test_images.long_running, image, volume, name)
    assert eventually(lambda: bool(read_file(engines[first], name, "/data/token")))
    token = read_file(engines[first], name, "/data/token")
    switch_and_wait(device, second)
    switch_and_wait(device, first)
    assert eventually(lambda: status_on(device.service, name) == "RUNNING", timeout=20)
    with grpc.insecure_channel(device.service) as channel:
        listed = {v.name: v.driver for v in Stub(channel).ListVolume(pb.ListVolumeRequest())}
    assert listed.get(volume) == "local"
    assert [m["Name"] for m in engines[first].inspect_container(name)["Mounts"]] == [volume]
    assert read_file(engines[first], name, "/data/token") == token  # intact, not written afresh


def test_3_18_to_3_20_placement_follows_the_roles_across_a_switchover(
    device: Device, test_images: BusyboxImages, unique: Callable[[str], str]
) -> None:
    image = unique("plf-img")
    first, second = device.ready_roles()
    names = {
        unique("on-primary"): pb.StartContainerRequest.L_PRIMARY,
        unique("on-backup"): pb.StartContainerRequest.L_BACKUP,
        unique("on-all"): pb.StartContainerRequest.L_ALL,
    }
    with grpc.insecure_channel(device.service) as channel:
        stub = Stub(channel)
        deploy_file(stub, test_images.long_running, image)
        for name, location in names.items():
            stub.StartContainer(pb.StartContainerRequest(image_name=image, instance_name=name, location=location))
    primary, backup, everywhere = names
    switch_and_wait(device, second)
    # Now `second` is the primary and `first` the backup.
    expected = {
        primary: {second: "RUNNING", first: None},
        backup: {second: None, first: "RUNNING"},
        everywhere: {second: "RUNNING", first: "RUNNING"},
    }
    assert eventually(
        lambda: {n: {cp: status_on(device.own(cp), n) for cp in NAMES} for n in names} == expected, timeout=30
    )


def test_3_7_a_transfer_cut_by_a_switchover_leaves_no_partial_image(
    device: Device, big_image: Path, unique: Callable[[str], str], engines: dict[str, docker.APIClient]
) -> None:
    image = unique("cut-img")
    _first, second = device.ready_roles()
    stream = LockStepDeploy(Stub(grpc.insecure_channel(device.service)), timeout=60)
    stream.send(
        pb.DeployRequest(image_transfer=pb.ImageTransfer(name=image, tag="v1", image_size=big_image.stat().st_size))
    )
    assert stream.receive().WhichOneof("response") == "image_transfer_ready"
    outcome: list[object] = []

    def push_rest() -> None:
        try:
            with big_image.open("rb") as source:
                while chunk := source.read(1 << 20):
                    stream.send(pb.DeployRequest(content=chunk))
                    stream.receive()
            stream.send(pb.DeployRequest(image_transfer_end=pb.ImageTransferEnd()))
            outcome.append(stream.receive())
        except grpc.RpcError as exc:
            outcome.append(exc)

    pushing = threading.Thread(target=push_rest)
    pushing.start()
    switch(device.service, second)
    pushing.join(timeout=60)
    assert eventually(lambda: active_name(device.service) == second, timeout=20)
    assert eventually(ready(device.service, second), timeout=30)
    # Either it completed everywhere, or it is nowhere: never half there.
    present = [has_image(api, f"{image}:v1") for api in engines.values()]
    listed = images_named(device.service, image)
    assert (present, listed) in (([True, True], [f"{image}:v1"]), ([False, False], [])), (present, listed, outcome)
