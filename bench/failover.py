"""Failover of a device with two control processors, each on its own engine, in one run:

* planned switchover with 10 running containers: from the SwitchControlProcessor call until all
  10 are RUNNING on the new active and gNMI shows the roles swapped;
* kill -9 of the active: from the kill until the same holds;
* StartContainer latency with a standby (each record on its disk before the answer) against a
  single control processor, medians.

    python bench/failover.py [--containers 10] [--runs 3] [--starts 20]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import docker
import grpc

from common import ROOT, ServerProcess, engine, median, result
from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc
from protos.gnoi.system import system_pb2 as spb
from protos.gnoi.system import system_pb2_grpc
from protos.gnoi.types import types_pb2
from tests.support.client import deploy_file, eventually
from tests.support.device import NAMES, Device, active_name, ready
from tests.support.images import build_image_tar

PREFIX = "bench-failover"
Stub = containerz_pb2_grpc.ContainerzStub


def second_engine() -> str:
    started = subprocess.run(
        ["bash", str(ROOT / "scripts" / "engine.sh"), "start", "--dir", "/var/tmp/containerz-engine-cp2"],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return started.stdout.strip().splitlines()[-1].split("=", 1)[1]


def running(address: str, names: list[str]) -> bool:
    try:
        with grpc.insecure_channel(address) as channel:
            listed = {
                c.name: c.status for c in Stub(channel).ListContainer(pb.ListContainerRequest(all=True), timeout=2)
            }
    except grpc.RpcError:
        return False
    return all(listed.get(n) == pb.ListContainerResponse.RUNNING for n in names)


def time_until(check: Callable[[], bool], timeout: float = 60) -> float:
    started = time.perf_counter()
    while not check():
        if time.perf_counter() - started > timeout:
            raise TimeoutError("not reached within the timeout")
        time.sleep(0.02)
    return time.perf_counter() - started


def switch(address: str, to: str) -> None:
    path = types_pb2.Path(
        origin="openconfig",
        elem=[types_pb2.PathElem(name="components"), types_pb2.PathElem(name="component", key={"name": to})],
    )
    with grpc.insecure_channel(address) as channel:
        system_pb2_grpc.SystemStub(channel).SwitchControlProcessor(
            spb.SwitchControlProcessorRequest(control_processor=path), timeout=30
        )


def taken_over(device: Device, new_active: str, workload: list[str]) -> Callable[[], bool]:
    """gNMI shows ``new_active`` as the primary and every container of the workload runs."""
    return lambda: active_name(device.service) == new_active and running(device.service, workload)


def start_latencies(address: str, image: str, names: list[str]) -> list[float]:
    samples = []
    with grpc.insecure_channel(address) as channel:
        stub = Stub(channel)
        for name in names:
            started = time.perf_counter()
            stub.StartContainer(pb.StartContainerRequest(image_name=image, instance_name=name))
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def remove_all(address: str, names: list[str]) -> None:
    with grpc.insecure_channel(address) as channel:
        stub = Stub(channel)
        for name in names:
            with contextlib.suppress(grpc.RpcError):
                stub.RemoveContainer(pb.RemoveContainerRequest(name=name, force=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--containers", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (logs) afterwards")
    args = parser.parse_args()
    engines = (engine(), second_engine())
    with contextlib.ExitStack() as cleanup:
        scratch = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="bench-failover-"))
        if args.keep:
            print(f"logs kept in {scratch}")
        else:
            cleanup.callback(shutil.rmtree, scratch, ignore_errors=True)
        tarball = scratch / "sleeper.tar"
        build_image_tar(tarball, "sleeper", cmd=["/bin/sh", "-c", "while true; do sleep 60; done"])

        alone = ServerProcess(engines[0], scratch / "alone").start()
        device = Device(engines, scratch / "device").boot()
        cleanup.callback(device.stop)
        cleanup.callback(alone.stop)
        assert eventually(lambda: active_name(device.service) is not None, timeout=30)
        if active_name(device.service) != NAMES[0]:  # measure both on the same engine
            assert eventually(ready(device.service, NAMES[1]), timeout=30)
            switch(device.service, NAMES[0])
            assert eventually(lambda: active_name(device.service) == NAMES[0], timeout=30)
        assert eventually(ready(device.service, NAMES[0]), timeout=30)
        for address in (alone.address, device.service):
            deploy_file(Stub(grpc.insecure_channel(address)), tarball, PREFIX)

        # StartContainer latency, alternating between a single control processor and the pair,
        # so that both see the same engine in the same state.
        alone_ms: list[float] = []
        paired_ms: list[float] = []
        names = [f"{PREFIX}-paired-{i}" for i in range(args.starts)]
        for index, name in enumerate(names):
            alone_ms += start_latencies(alone.address, PREFIX, [f"{PREFIX}-alone-{index}"])
            paired_ms += start_latencies(device.service, PREFIX, [name])
        remove_all(alone.address, [f"{PREFIX}-alone-{i}" for i in range(args.starts)])
        alone.stop()
        try:
            remove_all(device.service, names[args.containers :])
            workload = names[: args.containers]

            planned, killed = [], []
            for _ in range(args.runs):
                first = active_name(device.service)
                assert first is not None
                second = next(n for n in NAMES if n != first)
                assert eventually(ready(device.service, first), timeout=60)
                started = time.perf_counter()
                switch(device.service, second)
                time_until(taken_over(device, second, workload))
                planned.append(time.perf_counter() - started)

            for _ in range(args.runs):
                first = active_name(device.service)
                assert first is not None
                second = next(n for n in NAMES if n != first)
                assert eventually(ready(device.service, first), timeout=60)
                started = time.perf_counter()
                device.processes[first].kill()
                time_until(taken_over(device, second, workload))
                killed.append(time.perf_counter() - started)
                device.start(first)
            remove_all(device.service, workload)
        finally:
            device.stop()
            for docker_host in engines:
                api = docker.APIClient(base_url=docker_host, version="auto", timeout=60)
                for container in api.containers(all=True):
                    if container["Names"][0].lstrip("/").startswith(PREFIX):
                        api.remove_container(container["Id"], force=True)
                with contextlib.suppress(docker.errors.NotFound):
                    api.remove_image(f"{PREFIX}:latest", force=True)
                api.close()

    added = median(paired_ms) - median(alone_ms)
    print(f"{args.containers} running containers, {args.runs} runs each, engines {engines}")
    print(f"planned switchover: median {median(planned):.2f} s  runs {[round(t, 2) for t in planned]}")
    print(f"kill -9 failover:   median {median(killed):.2f} s  runs {[round(t, 2) for t in killed]}")
    print(f"StartContainer: alone median {median(alone_ms):.1f} ms, with a standby {median(paired_ms):.1f} ms")
    print(result("planned_switchover_seconds", median(planned), "<=", 2))
    print(result("kill9_failover_seconds", median(killed), "<=", 5))
    print(result("start_container_added_ms_with_standby", added, "<=", 15))


if __name__ == "__main__":
    main()
