"""A device of two control processors on this machine, for tests and benchmarks: two server
processes, each on its own engine, contending for one arbiter, with a shared service address."""

from __future__ import annotations

import io
import socket
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import docker
import grpc

from protos.gnmi.proto.gnmi import gnmi_pb2 as gnmi
from protos.gnmi.proto.gnmi import gnmi_pb2_grpc
from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc
from protos.gnoi.system import system_pb2 as spb
from protos.gnoi.system import system_pb2_grpc
from protos.gnoi.types import types_pb2
from tests.support.client import deploy_file, eventually
from tests.support.server import ServerProcess

NAMES = ("Supervisor1", "Supervisor2")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Device:
    engines: tuple[str, str]
    directory: Path
    service: str = field(default_factory=lambda: f"127.0.0.1:{free_port()}")
    peers: tuple[str, str] = field(default_factory=lambda: (f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"))
    processes: dict[str, ServerProcess] = field(default_factory=dict)
    extra_args: tuple[str, ...] = ()  # for both control processors

    def process(self, name: str) -> ServerProcess:
        index = NAMES.index(name)
        other = 1 - index
        args = [
            "--name", name,
            "--peer-name", NAMES[other],
            "--peer-address", self.peers[other],
            "--peer-listen", self.peers[index],
            "--arbiter", str(self.directory / "arbiter.lock"),
            "--service-listen", self.service,
            "--reconcile-interval", "1",
            *self.extra_args,
        ]  # fmt: skip
        return ServerProcess(self.engines[index], self.directory / name, args=args)

    def start(self, name: str) -> ServerProcess:
        self.processes[name] = self.process(name).start()
        return self.processes[name]

    def boot(self) -> Device:
        self.directory.mkdir(parents=True, exist_ok=True)
        for name in NAMES:
            self.start(name)
        return self

    def ready_roles(self, timeout: float = 30) -> tuple[str, str]:
        """(active, standby), once the active reports the standby switchover-ready."""
        active = active_name(self.service)
        assert active is not None, "no control processor is active"
        assert eventually(ready(self.service, active), timeout=timeout), f"{active}'s standby is not ready"
        return active, next(n for n in NAMES if n != active)

    def own(self, name: str) -> str:
        return self.processes[name].address

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()


def components(address: str) -> dict[str, dict[str, object]]:
    """``/components/component[name=*]/state`` through a gNMI Subscribe ONCE, as ondatra reads it."""
    request = gnmi.SubscribeRequest(
        subscribe=gnmi.SubscriptionList(
            prefix=gnmi.Path(origin="openconfig", target="dut"),
            mode=gnmi.SubscriptionList.ONCE,
            encoding=gnmi.PROTO,
            subscription=[
                gnmi.Subscription(
                    path=gnmi.Path(
                        elem=[gnmi.PathElem(name="components"), gnmi.PathElem(name="component", key={"name": "*"})]
                    )
                )
            ],
        )
    )
    found: dict[str, dict[str, object]] = {}
    with grpc.insecure_channel(address) as channel:
        for response in gnmi_pb2_grpc.gNMIStub(channel).Subscribe(iter([request]), timeout=5):
            for update in response.update.update:
                name = update.path.elem[1].key["name"]
                leaf = "/".join(e.name for e in update.path.elem[3:])
                value = update.val
                found.setdefault(name, {})[leaf] = getattr(value, value.WhichOneof("value") or "string_val")
    return found


def roles(address: str) -> dict[str, object]:
    try:
        return {name: state.get("redundant-role") for name, state in components(address).items()}
    except grpc.RpcError:
        return {}


def active_name(address: str) -> str | None:
    primaries = [name for name, role in roles(address).items() if role == "PRIMARY"]
    return primaries[0] if len(primaries) == 1 else None


def ready(address: str, name: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return components(address).get(name, {}).get("switchover-ready") is True
        except grpc.RpcError:
            return False

    return check


def status_on(address: str, name: str) -> str | None:
    with grpc.insecure_channel(address) as channel:
        try:
            listed = list(
                containerz_pb2_grpc.ContainerzStub(channel).ListContainer(pb.ListContainerRequest(all=True), timeout=5)
            )
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


def start_token_writer(
    stub: containerz_pb2_grpc.ContainerzStub, image_tar: Path, image: str, volume: str, name: str
) -> None:
    """Deploy ``image_tar`` (a long-running image) as ``image`` and run a container that writes
    a random token to volume ``volume`` at /data/token, only if the volume holds none yet."""
    deploy_file(stub, image_tar, image)
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
