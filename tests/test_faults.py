"""Faults in the middle of a stream of operations, on two control processors with two engines.

For each kind of operation (Deploy, StartContainer, CreateVolume, RemoveContainer), a client
runs a series of them against the device's address while, at a random moment (the seed is in
the test id, so a failure can be replayed), the active control processor is killed (kill -9),
or its dockerd is, or a switchover is asked for. Afterwards, on the new active: every
acknowledged operation is there, the one cut off is either complete or absent (never
half-made), the series carried on against the new active, and a killed control processor,
restarted, is a standby that refuses writes. The standby is also restarted again and again at
random moments (some in the middle of its bulk sync) and must end up in sync.
"""

from __future__ import annotations

import enum
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
from grpc_health.v1 import health_pb2, health_pb2_grpc

from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc
from tests.conftest import ROOT, BusyboxImages
from tests.support.client import code_of, deploy_file, eventually
from tests.support.device import NAMES, Device, active_name, ready, status_on, switch

Stub = containerz_pb2_grpc.ContainerzStub
OPERATIONS = 20  # at most: the series stops once the new active has served a few
AFTER_RECOVERY = 2  # operations acknowledged after the fault, before the series stops


class Fault(enum.Enum):
    KILL = "kill"  # kill -9 of the active control processor's server
    ENGINE = "engine"  # kill -9 of the active control processor's dockerd
    SWITCHOVER = "switchover"  # a planned switchover (CNTR-3.8, 3.9)


@dataclass
class Outcomes:
    acknowledged: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def images(address: str) -> set[str]:
    with grpc.insecure_channel(address) as channel:
        return {i.image_name for i in Stub(channel).ListImage(pb.ListImageRequest())}


def volumes(address: str) -> set[str]:
    with grpc.insecure_channel(address) as channel:
        return {v.name for v in Stub(channel).ListVolume(pb.ListVolumeRequest())}


@dataclass
class Workload:
    """A series of operations of one kind, what to set up first and what must hold afterwards."""

    prepare: Callable[[Stub, list[str]], None]
    operation: Callable[[Stub, str], None]
    check: Callable[[Device, list[str], Outcomes], None]
    # At most this many; enough that the series outlasts the fault and the recovery.
    operations: int = OPERATIONS


def deploys(test_images: BusyboxImages, image: str) -> Workload:
    def check(device: Device, keys: list[str], outcomes: Outcomes) -> None:
        listed = images(device.service)
        assert set(outcomes.acknowledged) <= listed, outcomes
        assert listed & set(keys) <= set(outcomes.acknowledged) | set(outcomes.failed)

    def deploy(stub: Stub, key: str) -> None:
        deploy_file(stub, test_images.long_running, key)

    return Workload(prepare=lambda stub, keys: None, operation=deploy, check=check)


def starts(test_images: BusyboxImages, image: str) -> Workload:
    def check(device: Device, keys: list[str], outcomes: Outcomes) -> None:
        for key in outcomes.acknowledged:
            assert eventually(lambda key=key: status_on(device.service, key) == "RUNNING", timeout=30), key
        for key in outcomes.failed:  # complete, or absent: never created without running
            assert status_on(device.service, key) in ("RUNNING", None), key

    return Workload(
        prepare=lambda stub, keys: deploy_file(stub, test_images.long_running, image) and None,
        operation=lambda stub, key: (
            stub.StartContainer(pb.StartContainerRequest(image_name=image, instance_name=key), timeout=30) and None
        ),
        check=check,
    )


def volume_creations(test_images: BusyboxImages, image: str) -> Workload:
    def check(device: Device, keys: list[str], outcomes: Outcomes) -> None:
        assert eventually(lambda: set(outcomes.acknowledged) <= volumes(device.service), timeout=30), outcomes

    def create(stub: Stub, key: str) -> None:
        stub.CreateVolume(pb.CreateVolumeRequest(name=key), timeout=30)

    return Workload(prepare=lambda stub, keys: None, operation=create, check=check, operations=60)


def removals(test_images: BusyboxImages, image: str) -> Workload:
    def prepare(stub: Stub, keys: list[str]) -> None:
        deploy_file(stub, test_images.long_running, image)
        for key in keys:
            stub.StartContainer(pb.StartContainerRequest(image_name=image, instance_name=key))

    def check(device: Device, keys: list[str], outcomes: Outcomes) -> None:
        for key in outcomes.acknowledged:  # removed stays removed
            assert not eventually(lambda key=key: status_on(device.service, key) is not None, timeout=2), key
        for key in set(keys) - set(outcomes.acknowledged) - set(outcomes.failed):  # never attempted: still there
            assert eventually(lambda key=key: status_on(device.service, key) == "RUNNING", timeout=30), key

    return Workload(
        prepare=prepare,
        operation=lambda stub, key: (
            stub.RemoveContainer(pb.RemoveContainerRequest(name=key, force=True), timeout=30) and None
        ),
        check=check,
    )


WORKLOADS = {"deploy": deploys, "start": starts, "create-volume": volume_creations, "remove": removals}


def serving(address: str) -> bool:
    """Health says SERVING and a read goes through (an active whose engine is gone fails it)."""
    try:
        with grpc.insecure_channel(address) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
            list(Stub(channel).ListVolume(pb.ListVolumeRequest(), timeout=2))
    except grpc.RpcError:
        return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def run_series(
    device: Device,
    keys: list[str],
    operation: Callable[[Stub, str], None],
    outcomes: Outcomes,
    fault_done: threading.Event,
) -> None:
    """One operation after the other, as a client would (after a failure, wait until the device
    serves again), until a few have been acknowledged after the fault."""
    after = 0
    for key in keys:
        if fault_done.is_set() and after >= AFTER_RECOVERY:
            return
        counted = fault_done.is_set()
        try:
            with grpc.insecure_channel(device.service) as channel:
                operation(Stub(channel), key)
        except grpc.RpcError as exc:
            outcomes.failed.append(key)
            outcomes.errors.append(f"{key}: {exc.code().name} {exc.details()}")
            time.sleep(0.5)
            eventually(lambda: serving(device.service), timeout=30)
        else:
            outcomes.acknowledged.append(key)
            after += counted


def make_active(device: Device, name: str) -> None:
    if active_name(device.service) != name:
        other = next(n for n in NAMES if n != name)
        assert eventually(ready(device.service, other), timeout=30)
        switch(device.service, name)
        assert eventually(lambda: active_name(device.service) == name, timeout=30)
    assert eventually(ready(device.service, name), timeout=30)


def disrupt(device: Device, fault: Fault, first: str, second: str, engine_dir: Path) -> None:
    if fault is Fault.SWITCHOVER:
        switch(device.service, second)
    elif fault is Fault.KILL:
        device.processes[first].kill()
    else:
        os.kill(int((engine_dir / "docker.pid").read_text()), signal.SIGKILL)


CASES = [
    (fault, workload, seed)
    for fault in Fault
    for workload in WORKLOADS
    for seed in ([11, 23] if fault is Fault.KILL else [17])
    if fault is not Fault.SWITCHOVER or workload in ("start", "create-volume")
]


@pytest.mark.parametrize("case", CASES, ids=[f"{f.value}-{w}-{s}" for f, w, s in CASES])
def test_operations_cut_by_a_fault(
    device: Device,
    test_images: BusyboxImages,
    unique: Callable[[str], str],
    second_docker_host: str,
    case: tuple[Fault, str, int],
) -> None:
    fault, workload, seed = case
    # The engine killed is always the test's second one (Supervisor2's), never the one the rest
    # of the suite shares: Supervisor2 is made the active one first.
    make_active(device, NAMES[1])
    first, second = NAMES[1], NAMES[0]
    engine_dir = Path(second_docker_host.removeprefix("unix://")).parent
    work = WORKLOADS[workload](test_images, unique("fault-img"))
    keys = [unique(f"fault-{workload}") for _ in range(work.operations)]
    with grpc.insecure_channel(device.service) as channel:
        work.prepare(Stub(channel), keys)
    outcomes = Outcomes()
    fault_done = threading.Event()
    worker = threading.Thread(target=run_series, args=(device, keys, work.operation, outcomes, fault_done))
    worker.start()
    # The fault lands a few operations in, at a random moment within one.
    rng = random.Random(seed)
    settled = rng.randint(2, 5)
    assert eventually(lambda: len(outcomes.acknowledged) >= settled, timeout=60), outcomes.errors
    time.sleep(rng.uniform(0.0, 0.3))
    try:
        disrupt(device, fault, first, second, engine_dir)
        fault_done.set()
        worker.join(timeout=180)
        assert not worker.is_alive(), "the client hung after the fault"
        assert eventually(lambda: active_name(device.service) == second, timeout=30)
        last = max(outcomes.acknowledged + outcomes.failed, key=keys.index)
        assert last in outcomes.acknowledged, f"the new active serves what follows: {outcomes.errors}"
        work.check(device, keys, outcomes)
    finally:
        if fault is Fault.ENGINE:
            subprocess.run(
                ["bash", str(ROOT / "scripts" / "engine.sh"), "start", "--dir", str(engine_dir)],
                check=True,
                capture_output=True,
            )
    if fault is Fault.KILL:
        # The killed control processor comes back as a standby, and refuses writes.
        device.start(first)
        assert eventually(lambda: active_name(device.own(first)) == second, timeout=30)
        with grpc.insecure_channel(device.own(first)) as channel:
            code = code_of(lambda: Stub(channel).CreateVolume(pb.CreateVolumeRequest(name=unique("fenced"))))
        assert code is grpc.StatusCode.UNAVAILABLE


def test_a_standby_restarted_again_and_again_ends_up_in_sync(
    device: Device, test_images: BusyboxImages, unique: Callable[[str], str]
) -> None:
    """Restarted (kill -9) at random moments, some of them in the middle of its bulk sync, the
    standby catches up by itself, and can then take over with everything."""
    active = active_name(device.service)
    assert active is not None
    standby = next(n for n in NAMES if n != active)
    names = [unique("resync-vol") for _ in range(20)]
    rng = random.Random(5)
    with grpc.insecure_channel(device.service) as channel:
        stub = Stub(channel)
        for index, name in enumerate(names):
            stub.CreateVolume(pb.CreateVolumeRequest(name=name))
            if index % 5 == 4:  # a restart every few writes
                device.processes[standby].kill()
                device.start(standby)
                time.sleep(rng.uniform(0.0, 1.2))
    assert eventually(ready(device.service, active), timeout=30)
    switch(device.service, standby)
    assert eventually(lambda: active_name(device.service) == standby, timeout=30)
    assert set(names) <= volumes(device.service)


def test_a_standby_killed_in_the_middle_of_its_bulk_sync_catches_up(
    device: Device, unique: Callable[[str], str]
) -> None:
    """The standby is frozen, so the active's next write gives up on it (degraded) and the active
    starts bulk-syncing it; with that Install sent and unanswered, the standby is killed. It comes
    back, is synced again by itself, and can then take over with every acknowledged write."""
    active, standby = device.ready_roles()
    active_process, frozen = device.processes[active], device.processes[standby]

    def bulk_syncs() -> int:
        return active_process.logs().count('"state": "syncing"')

    before = bulk_syncs()
    written = [unique("midsync-vol"), unique("midsync-vol")]
    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        with grpc.insecure_channel(device.service) as channel:
            Stub(channel).CreateVolume(pb.CreateVolumeRequest(name=written[0]))  # acknowledged degraded
        assert eventually(lambda: bulk_syncs() > before, timeout=10)
        time.sleep(0.5)  # the Install call is on its way once the link says syncing
    finally:
        frozen.kill()
    device.start(standby)
    with grpc.insecure_channel(device.service) as channel:
        Stub(channel).CreateVolume(pb.CreateVolumeRequest(name=written[1]))
    assert eventually(ready(device.service, active), timeout=30)
    switch(device.service, standby)
    assert eventually(lambda: active_name(device.service) == standby, timeout=30)
    assert set(written) <= volumes(device.service)
