"""kill -9 of the active control processor in the middle of a stream of operations.

For each kind of operation, a client runs a series of them against the device's address while
the active control processor is killed at a random moment (the seed is in the test id, so a
failure can be replayed). Afterwards, on the new active: every acknowledged operation is there,
the one cut off is either complete or absent (never half-made), and the killed control
processor, restarted, is a standby that refuses writes.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc
from tests.conftest import ROOT, BusyboxImages
from tests.support.client import code_of, deploy_file, eventually
from tests.support.device import NAMES, Device, active_name, ready, status_on, switch

Stub = containerz_pb2_grpc.ContainerzStub
OPERATIONS = 8


@dataclass
class Outcomes:
    acknowledged: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def run_series(device: Device, keys: list[str], operation: Callable[[Stub, str], None], outcomes: Outcomes) -> None:
    for key in keys:
        try:
            with grpc.insecure_channel(device.service) as channel:
                operation(Stub(channel), key)
        except grpc.RpcError:
            outcomes.failed.append(key)
            time.sleep(0.2)  # the address is moving to the other control processor
        else:
            outcomes.acknowledged.append(key)


def images(address: str) -> set[str]:
    with grpc.insecure_channel(address) as channel:
        return {i.image_name for i in Stub(channel).ListImage(pb.ListImageRequest())}


def volumes(address: str) -> set[str]:
    with grpc.insecure_channel(address) as channel:
        return {v.name for v in Stub(channel).ListVolume(pb.ListVolumeRequest())}


def kill_active_during(
    device: Device, series: Callable[[], None], seed: int, switchover: bool = False
) -> tuple[str, str]:
    """Run ``series`` in a thread and kill -9 the active control processor during it (or, with
    ``switchover``, switch to the standby during it: CNTR-3.8 and 3.9)."""
    first = active_name(device.service)
    assert first is not None
    assert eventually(ready(device.service, first), timeout=30)
    second = next(n for n in NAMES if n != first)
    worker = threading.Thread(target=series)
    worker.start()
    time.sleep(random.Random(seed).uniform(0.05, 1.5))
    if switchover:
        switch(device.service, second)
    else:
        device.processes[first].kill()
    worker.join(timeout=120)
    assert not worker.is_alive(), "the client hung after the crash"
    assert eventually(lambda: active_name(device.service) == second, timeout=30)
    return first, second


def assert_old_active_refuses_writes(device: Device, old: str, unique: Callable[[str], str]) -> None:
    device.start(old)
    assert eventually(lambda: active_name(device.own(old)) not in (None, old), timeout=30)
    with grpc.insecure_channel(device.own(old)) as channel:
        code = code_of(lambda: Stub(channel).CreateVolume(pb.CreateVolumeRequest(name=unique("fenced"))))
    assert code is grpc.StatusCode.UNAVAILABLE


SEEDS = [11, 23]


@pytest.mark.parametrize("seed", SEEDS)
def test_deploys_cut_by_a_crash(
    device: Device, test_images: BusyboxImages, unique: Callable[[str], str], seed: int
) -> None:
    keys = [unique("crash-img") for _ in range(OPERATIONS)]
    outcomes = Outcomes()

    def deploy(stub: Stub, key: str) -> None:
        deploy_file(stub, test_images.long_running, key)

    old, _ = kill_active_during(device, lambda: run_series(device, keys, deploy, outcomes), seed)
    assert len(outcomes.acknowledged) + len(outcomes.failed) == OPERATIONS
    assert outcomes.acknowledged[-1:] == keys[-1:], "operations after the crash are served by the new active"
    listed = images(device.service)
    assert set(outcomes.acknowledged) <= listed, outcomes
    assert listed & set(keys) <= set(outcomes.acknowledged) | set(outcomes.failed)
    assert_old_active_refuses_writes(device, old, unique)


@pytest.mark.parametrize("seed", SEEDS)
def test_starts_cut_by_a_crash(
    device: Device, test_images: BusyboxImages, unique: Callable[[str], str], seed: int
) -> None:
    image = unique("crash-start-img")
    with grpc.insecure_channel(device.service) as channel:
        deploy_file(Stub(channel), test_images.long_running, image)
    keys = [unique("crash-start") for _ in range(OPERATIONS)]
    outcomes = Outcomes()

    def start(stub: Stub, key: str) -> None:
        stub.StartContainer(pb.StartContainerRequest(image_name=image, instance_name=key), timeout=30)

    old, _ = kill_active_during(device, lambda: run_series(device, keys, start, outcomes), seed)
    for key in outcomes.acknowledged:
        assert eventually(lambda key=key: status_on(device.service, key) == "RUNNING", timeout=30), key
    for key in outcomes.failed:  # complete, or absent: never created without running
        assert status_on(device.service, key) in ("RUNNING", None), key
    assert_old_active_refuses_writes(device, old, unique)


@pytest.mark.parametrize("seed", SEEDS)
def test_volume_creations_cut_by_a_crash(device: Device, unique: Callable[[str], str], seed: int) -> None:
    keys = [unique("crash-vol") for _ in range(OPERATIONS)]
    outcomes = Outcomes()

    def create(stub: Stub, key: str) -> None:
        stub.CreateVolume(pb.CreateVolumeRequest(name=key), timeout=30)

    old, _ = kill_active_during(device, lambda: run_series(device, keys, create, outcomes), seed)
    assert eventually(lambda: set(outcomes.acknowledged) <= volumes(device.service), timeout=30), outcomes
    assert_old_active_refuses_writes(device, old, unique)


@pytest.mark.parametrize("seed", SEEDS)
def test_removals_cut_by_a_crash(
    device: Device, test_images: BusyboxImages, unique: Callable[[str], str], seed: int
) -> None:
    image = unique("crash-rm-img")
    keys = [unique("crash-rm") for _ in range(OPERATIONS)]
    with grpc.insecure_channel(device.service) as channel:
        stub = Stub(channel)
        deploy_file(stub, test_images.long_running, image)
        for key in keys:
            stub.StartContainer(pb.StartContainerRequest(image_name=image, instance_name=key))
    outcomes = Outcomes()

    def remove(stub: Stub, key: str) -> None:
        stub.RemoveContainer(pb.RemoveContainerRequest(name=key, force=True), timeout=30)

    old, _ = kill_active_during(device, lambda: run_series(device, keys, remove, outcomes), seed)
    for key in outcomes.acknowledged:  # removed stays removed
        assert not eventually(lambda key=key: status_on(device.service, key) is not None, timeout=2), key
    for key in set(keys) - set(outcomes.acknowledged) - set(outcomes.failed):  # never attempted: still there
        assert eventually(lambda key=key: status_on(device.service, key) == "RUNNING", timeout=30), key
    assert_old_active_refuses_writes(device, old, unique)


@pytest.mark.parametrize("seed", SEEDS)
def test_starts_cut_by_a_switchover(
    device: Device, test_images: BusyboxImages, unique: Callable[[str], str], seed: int
) -> None:
    """CNTR-3.8: a StartContainer cut by a switchover leaves the container running or absent."""
    image = unique("sw-start-img")
    with grpc.insecure_channel(device.service) as channel:
        deploy_file(Stub(channel), test_images.long_running, image)
    keys = [unique("sw-start") for _ in range(OPERATIONS)]
    outcomes = Outcomes()

    def start(stub: Stub, key: str) -> None:
        stub.StartContainer(pb.StartContainerRequest(image_name=image, instance_name=key), timeout=30)

    kill_active_during(device, lambda: run_series(device, keys, start, outcomes), seed, switchover=True)
    for key in outcomes.acknowledged:
        assert eventually(lambda key=key: status_on(device.service, key) == "RUNNING", timeout=30), key
    for key in outcomes.failed:
        assert status_on(device.service, key) in ("RUNNING", None), key


@pytest.mark.parametrize("seed", SEEDS)
def test_volume_creations_cut_by_a_switchover(device: Device, unique: Callable[[str], str], seed: int) -> None:
    """CNTR-3.9: a CreateVolume cut by a switchover leaves the volume complete or absent, on
    both control processors alike."""
    keys = [unique("sw-vol") for _ in range(OPERATIONS)]
    outcomes = Outcomes()

    def create(stub: Stub, key: str) -> None:
        stub.CreateVolume(pb.CreateVolumeRequest(name=key), timeout=30)

    old, new = kill_active_during(device, lambda: run_series(device, keys, create, outcomes), seed, switchover=True)
    assert eventually(lambda: set(outcomes.acknowledged) <= volumes(device.service), timeout=30), outcomes
    assert eventually(ready(device.service, new), timeout=30)
    assert eventually(lambda: volumes(device.own(old)) & set(keys) == volumes(device.service) & set(keys), timeout=30)


@pytest.mark.parametrize("seed", SEEDS)
def test_starts_cut_by_the_active_engine_dying(
    device: Device,
    test_images: BusyboxImages,
    unique: Callable[[str], str],
    second_docker_host: str,
    seed: int,
) -> None:
    """kill -9 of the active's dockerd in the middle of StartContainers: the active steps down,
    acknowledged containers run on the new active, the cut-off one is complete or absent.
    Supervisor2 (on the test's second engine) is made active first, so the engine killed is
    not the one the rest of the suite shares."""
    if active_name(device.service) != NAMES[1]:
        assert eventually(ready(device.service, NAMES[0]), timeout=30)
        switch(device.service, NAMES[1])
        assert eventually(lambda: active_name(device.service) == NAMES[1], timeout=30)
    assert eventually(ready(device.service, NAMES[1]), timeout=30)
    image = unique("engine-ko-img")
    with grpc.insecure_channel(device.service) as channel:
        deploy_file(Stub(channel), test_images.long_running, image)
    keys = [unique("engine-ko") for _ in range(OPERATIONS)]
    outcomes = Outcomes()

    def start(stub: Stub, key: str) -> None:
        stub.StartContainer(pb.StartContainerRequest(image_name=image, instance_name=key), timeout=30)

    engine_dir = Path(second_docker_host.removeprefix("unix://")).parent
    worker = threading.Thread(target=lambda: run_series(device, keys, start, outcomes))
    worker.start()
    time.sleep(random.Random(seed).uniform(0.05, 1.0))
    os.kill(int((engine_dir / "docker.pid").read_text()), signal.SIGKILL)
    try:
        worker.join(timeout=120)
        assert not worker.is_alive(), "the client hung after the engine died"
        assert eventually(lambda: active_name(device.service) == NAMES[0], timeout=30)
        for key in outcomes.acknowledged:
            assert eventually(lambda key=key: status_on(device.service, key) == "RUNNING", timeout=30), key
        for key in outcomes.failed:
            assert status_on(device.service, key) in ("RUNNING", None), key
    finally:
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "engine.sh"), "start", "--dir", str(engine_dir)],
            check=True,
            capture_output=True,
        )
