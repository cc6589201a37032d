"""Translate between gNOI Containerz messages and the engine-neutral model, validating on the way in."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from containerz import errors, names
from containerz.containers import generated_instance_name, reserved_labels
from containerz.engine.base import RegistryAuth
from containerz.images import RemoteProtocol, RemoteSource
from containerz.model import ContainerSpec as Spec
from containerz.model import (
    ContainerSummary,
    DeviceMapping,
    ImageSummary,
    Location,
    PluginSummary,
    PortMapping,
    RestartPolicy,
    VolumeMount,
    VolumeSpec,
    VolumeSummary,
)
from protos.gnoi.common import common_pb2
from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.types import types_pb2

# capabilities(7), plus Docker's ALL.
CAPABILITIES = frozenset(
    (
        "AUDIT_CONTROL",
        "AUDIT_READ",
        "AUDIT_WRITE",
        "BLOCK_SUSPEND",
        "BPF",
        "CHECKPOINT_RESTORE",
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "IPC_LOCK",
        "IPC_OWNER",
        "KILL",
        "LEASE",
        "LINUX_IMMUTABLE",
        "MAC_ADMIN",
        "MAC_OVERRIDE",
        "MKNOD",
        "NET_ADMIN",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_RAW",
        "PERFMON",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_CHROOT",
        "SYS_MODULE",
        "SYS_NICE",
        "SYS_PACCT",
        "SYS_PTRACE",
        "SYS_RAWIO",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "SYSLOG",
        "WAKE_ALARM",
        "ALL",
    )
)
_RESTART: dict[int, RestartPolicy] = {
    pb.StartContainerRequest.Restart.NONE: RestartPolicy.NONE,
    pb.StartContainerRequest.Restart.ALWAYS: RestartPolicy.ALWAYS,
    pb.StartContainerRequest.Restart.UNLESS_STOPPED: RestartPolicy.UNLESS_STOPPED,
    pb.StartContainerRequest.Restart.ON_FAILURE: RestartPolicy.ON_FAILURE,
}
_LOCATION: dict[int, Location] = {
    pb.StartContainerRequest.L_UNKNOWN: Location.PRIMARY,
    pb.StartContainerRequest.L_PRIMARY: Location.PRIMARY,
    pb.StartContainerRequest.L_BACKUP: Location.BACKUP,
    pb.StartContainerRequest.L_ALL: Location.ALL,
}
_PERMISSION_LETTERS = {
    pb.Device.READ: "r",
    pb.Device.WRITE: "w",
    pb.Device.MKNOD: "m",
}
_STATUS = {
    "RUNNING": pb.ListContainerResponse.RUNNING,
    "STOPPED": pb.ListContainerResponse.STOPPED,
    "PRESENT": pb.ListContainerResponse.PRESENT,
    "UNSPECIFIED": pb.ListContainerResponse.UNSPECIFIED,
}
_NETWORK_ALIASES = {"": "host", "bridged": "bridge"}


def filters(raw: Iterable[Any]) -> dict[str, list[str]]:
    """Repeated ``Filter{key, value[]}`` into a mapping; repeated keys accumulate their values."""
    merged: dict[str, list[str]] = {}
    for item in raw:
        if not item.key:
            raise errors.InvalidArgument("a filter has an empty key")
        merged.setdefault(item.key, []).extend(item.value)
    return merged


# ---------------------------------------------------------------------- images


def remote_source(remote: common_pb2.RemoteDownload) -> RemoteSource:
    protocols = {
        common_pb2.RemoteDownload.UNKNOWN: RemoteProtocol.REGISTRY,
        common_pb2.RemoteDownload.HTTP: RemoteProtocol.HTTP,
        common_pb2.RemoteDownload.HTTPS: RemoteProtocol.HTTPS,
        common_pb2.RemoteDownload.SFTP: RemoteProtocol.SFTP,
        common_pb2.RemoteDownload.SCP: RemoteProtocol.SCP,
    }
    protocol = protocols.get(remote.protocol)
    if protocol is None:
        raise errors.InvalidArgument(f"remote_download.protocol {remote.protocol} is not a known protocol")
    if protocol in (RemoteProtocol.HTTP, RemoteProtocol.HTTPS):
        scheme = protocol.value + "://"
        if not remote.path.startswith(scheme):
            raise errors.InvalidArgument(f"remote_download.path must be a {scheme} URL, got {remote.path!r}")
    return RemoteSource(protocol=protocol, path=remote.path, auth=_credentials(remote))


def _credentials(remote: common_pb2.RemoteDownload) -> RegistryAuth | None:
    if not remote.HasField("credentials"):
        return None
    credentials = remote.credentials
    if credentials.WhichOneof("password") == "hashed":
        raise errors.InvalidArgument(
            "remote_download.credentials: a hashed password cannot be sent to a server; use cleartext"
        )
    return RegistryAuth(username=credentials.username, password=credentials.cleartext)


def image_response(image: ImageSummary) -> pb.ListImageResponse:
    return pb.ListImageResponse(id=image.id, image_name=image.name, tag=image.tag)


def _image_hash(image_id: str) -> types_pb2.HashType | None:
    method, _, digest = image_id.partition(":")
    if method != "sha256" or not digest:
        return None
    try:
        return types_pb2.HashType(method=types_pb2.HashType.SHA256, hash=bytes.fromhex(digest))
    except ValueError:
        return None


# ---------------------------------------------------------------------- containers


def container_spec(request: pb.StartContainerRequest, instance_name: str = "") -> Spec:
    """Validate a StartContainerRequest (or UpdateContainer params) into a ContainerSpec."""
    image = names.image_name(request.image_name, "image_name")
    tag = names.image_tag(request.tag)
    instance = instance_name or request.instance_name
    instance = names.object_name(instance, "container", "instance_name") if instance else generated_instance_name(image)
    try:
        command = tuple(shlex.split(request.cmd))
    except ValueError as exc:
        raise errors.InvalidArgument(f"cmd {request.cmd!r} cannot be split like a shell command: {exc}") from exc
    return Spec(
        image=image,
        tag=tag,
        instance_name=instance,
        command=command,
        ports=_ports(request.ports),
        environment=_environment(request.environment),
        volumes=_mounts(request.volumes),
        network=_NETWORK_ALIASES.get(request.network, request.network),
        cap_add=_capabilities(request.cap.add, "cap.add"),
        cap_drop=_capabilities(request.cap.remove, "cap.remove"),
        restart=_restart(request),
        restart_attempts=request.restart.attempts if request.restart.policy == request.restart.ON_FAILURE else 0,
        user=_user(request),
        labels=_labels(request.labels),
        max_cpu=_max_cpu(request.limits.max_cpu),
        soft_memory_bytes=_memory(request.limits.soft_mem_bytes, "soft_mem_bytes"),
        hard_memory_bytes=_hard_memory(request.limits),
        devices=_devices(request.devices),
        location=_location(request.location),
    )


def is_restart_by_name(request: pb.StartContainerRequest) -> bool:
    """Only instance_name given: start that stopped container again (the proto's documented form)."""
    return bool(request.instance_name) and not request.image_name


def _ports(ports: Iterable[Any]) -> tuple[PortMapping, ...]:
    mappings: list[PortMapping] = []
    for port in ports:
        external = port.external or port.internal
        for value, which in ((port.internal, "internal"), (external, "external")):
            if not 1 <= value <= 65535:
                raise errors.InvalidArgument(f"ports: {which} port {value} is outside 1-65535")
        mappings.append(PortMapping(internal=port.internal, external=external))
    externals = [m.external for m in mappings]
    duplicates = sorted({p for p in externals if externals.count(p) > 1})
    if duplicates:
        raise errors.InvalidArgument(f"ports: host port(s) {duplicates} are mapped more than once")
    return tuple(mappings)


def _environment(environment: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    for key in environment:
        if not key or "=" in key:
            raise errors.InvalidArgument(f"environment: {key!r} is not a valid variable name")
    return tuple(sorted(environment.items()))


def _mounts(volumes: Iterable[Any]) -> tuple[VolumeMount, ...]:
    mounts = []
    for volume in volumes:
        name = names.object_name(volume.name, "volume", "volumes.name")
        if not volume.mount_point.startswith("/"):
            raise errors.InvalidArgument(
                f"volumes: mount_point {volume.mount_point!r} for {name} must be an absolute path"
            )
        mounts.append(VolumeMount(volume=name, mount_point=volume.mount_point, read_only=volume.read_only))
    return tuple(mounts)


def _capabilities(values: Iterable[str], field: str) -> tuple[str, ...]:
    normalised = []
    for value in values:
        capability = value.upper().removeprefix("CAP_")
        if capability not in CAPABILITIES:
            raise errors.InvalidArgument(f"{field}: {value!r} is not a Linux capability (see capabilities(7))")
        normalised.append(capability)
    return tuple(normalised)


def _restart(request: pb.StartContainerRequest) -> RestartPolicy:
    policy = _RESTART.get(request.restart.policy)
    if policy is None:
        raise errors.FailedPrecondition(
            f"restart.policy {request.restart.policy} is not one of NONE, ALWAYS, UNLESS_STOPPED, ON_FAILURE"
        )
    return policy


def _user(request: pb.StartContainerRequest) -> str | None:
    if not request.HasField("run_as"):
        return None
    user, group = request.run_as.user, request.run_as.group
    if not user and not group:
        return None
    if not user:
        raise errors.FailedPrecondition(f"run_as: group {group!r} given without a user")
    for value in (user, group):
        if value and (":" in value or any(c.isspace() for c in value)):
            raise errors.FailedPrecondition(f"run_as: {value!r} is not a valid user or group name")
    return f"{user}:{group}" if group else user


def _labels(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    reserved = reserved_labels(labels)
    if reserved:
        raise errors.InvalidArgument(f"labels: {reserved} use the prefix reserved for the server")
    return tuple(sorted(labels.items()))


def _max_cpu(value: float) -> float:
    cpus = os.cpu_count() or 1
    if value < 0 or value > cpus:
        raise errors.InvalidArgument(f"limits.max_cpu {value} must be between 0 (no limit) and {cpus}")
    return value


def _memory(value: int, field: str) -> int:
    if value < 0:
        raise errors.InvalidArgument(f"limits.{field} {value} must be 0 (no limit) or positive")
    return value


def _hard_memory(limits: pb.StartContainerRequest.Limits) -> int:
    hard = _memory(limits.hard_mem_bytes, "hard_mem_bytes")
    if hard and limits.soft_mem_bytes > hard:
        raise errors.InvalidArgument(
            f"limits.soft_mem_bytes {limits.soft_mem_bytes} exceeds limits.hard_mem_bytes {hard}"
        )
    return hard


def _devices(devices: Iterable[Any]) -> tuple[DeviceMapping, ...]:
    mappings = []
    for device in devices:
        host_path = device.src_path
        container_path = device.dst_path or host_path
        for path in (host_path, container_path):
            if not path.startswith("/"):
                raise errors.InvalidArgument(f"devices: {path!r} must be an absolute path")
        letters = "".join(sorted({_PERMISSION_LETTERS.get(p, "") for p in device.permissions}, key="rwm".index))
        mappings.append(DeviceMapping(host_path, container_path, letters or "rwm"))
    return tuple(mappings)


def _location(value: int) -> Location:
    location = _LOCATION.get(value)
    if location is None:
        raise errors.InvalidArgument(f"location {value} is not one of L_PRIMARY, L_BACKUP, L_ALL")
    return location


def container_response(container: ContainerSummary) -> pb.ListContainerResponse:
    response = pb.ListContainerResponse(
        id=container.id,
        name=container.name,
        image_name=container.image_ref,
        status=_STATUS[container.state.value],
        labels=container.labels,
    )
    image_hash = _image_hash(container.image_id)
    if image_hash is not None:
        response.hash.CopyFrom(image_hash)
    return response


# ---------------------------------------------------------------------- volumes


def volume_spec(request: pb.CreateVolumeRequest, name: str) -> VolumeSpec:
    labels = tuple(sorted(request.labels.items()))
    if request.driver == pb.DS_CUSTOM:
        options = dict(request.custom_options.options)
        driver = options.pop("driver", "custom:latest")
        return VolumeSpec(name=name, driver=driver, options=tuple(sorted(options.items())), labels=labels)
    if request.driver not in (pb.DS_UNSPECIFIED, pb.DS_LOCAL):
        raise errors.InvalidArgument(f"driver {request.driver} is not one of DS_LOCAL, DS_CUSTOM")
    if request.WhichOneof("options") == "custom_options":
        raise errors.InvalidArgument("custom_options are for driver DS_CUSTOM; DS_LOCAL takes local_mount_options")
    if not request.HasField("local_mount_options"):
        return VolumeSpec(name=name, driver="local", labels=labels)
    local = request.local_mount_options
    if local.type not in (local.TYPE_UNSPECIFIED, local.TYPE_NONE):
        raise errors.InvalidArgument(f"local_mount_options.type {local.type} is not TYPE_NONE")
    if local.mountpoint and not local.mountpoint.startswith("/"):
        raise errors.InvalidArgument(f"local_mount_options.mountpoint {local.mountpoint!r} must be an absolute path")
    if "bind" in local.options and not local.mountpoint:
        raise errors.InvalidArgument("local_mount_options: a bind mount needs a mountpoint (the host directory)")
    options = {"type": "none"}
    if local.options:
        options["o"] = ",".join(local.options)
    if local.mountpoint:
        options["device"] = local.mountpoint
    return VolumeSpec(name=name, driver="local", options=tuple(sorted(options.items())), labels=labels)


def volume_response(volume: VolumeSummary) -> pb.ListVolumeResponse:
    response = pb.ListVolumeResponse(
        name=volume.name, driver=volume.driver, options=volume.options, labels=volume.labels
    )
    if volume.created is not None:
        created = Timestamp()
        created.FromDatetime(volume.created)
        response.created.CopyFrom(created)
    return response


# ---------------------------------------------------------------------- plugins


def plugins_response(plugins: Iterable[PluginSummary]) -> pb.ListPluginsResponse:
    return pb.ListPluginsResponse(
        plugins=[pb.Plugin(id=p.id, instance_name=p.instance_name, config=p.config) for p in plugins]
    )
