"""How containers and volumes are written into the state journal, and read back.

The journal stores plain JSON; these functions are the one place that knows how a
:class:`ContainerSpec` or :class:`VolumeSpec` looks there, so a spec recorded by one version
reads back the same in the next.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

from containerz.model import (
    ContainerSpec,
    ContainerState,
    DeviceMapping,
    ImageDetails,
    Location,
    PortMapping,
    RestartPolicy,
    VolumeMount,
    VolumeSpec,
)
from state import Action, Change, Kind


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


def put_container(spec: ContainerSpec, desired: ContainerState) -> Change:
    return Change(Kind.CONTAINER, Action.PUT, spec.instance_name, {"spec": _plain(spec), "desired": desired.value})


def remove(kind: Kind, key: str) -> Change:
    return Change(kind, Action.REMOVE, key)


def container_spec(record: Mapping[str, Any]) -> ContainerSpec:
    raw = record["spec"]
    return ContainerSpec(
        image=raw["image"],
        tag=raw["tag"],
        instance_name=raw["instance_name"],
        command=tuple(raw["command"]),
        ports=tuple(PortMapping(**p) for p in raw["ports"]),
        environment=tuple((k, v) for k, v in raw["environment"]),
        volumes=tuple(VolumeMount(**v) for v in raw["volumes"]),
        network=raw["network"],
        cap_add=tuple(raw["cap_add"]),
        cap_drop=tuple(raw["cap_drop"]),
        restart=RestartPolicy(raw["restart"]),
        restart_attempts=raw["restart_attempts"],
        user=raw["user"],
        labels=tuple((k, v) for k, v in raw["labels"]),
        max_cpu=raw["max_cpu"],
        soft_memory_bytes=raw["soft_memory_bytes"],
        hard_memory_bytes=raw["hard_memory_bytes"],
        devices=tuple(DeviceMapping(**d) for d in raw["devices"]),
        location=Location(raw["location"]),
    )


def desired_container_state(record: Mapping[str, Any]) -> ContainerState:
    return ContainerState(record["desired"])


def put_volume(spec: VolumeSpec) -> Change:
    return Change(Kind.VOLUME, Action.PUT, spec.name, _plain(spec))


def volume_spec(record: Mapping[str, Any]) -> VolumeSpec:
    return VolumeSpec(
        name=record["name"],
        driver=record["driver"],
        options=tuple((k, v) for k, v in record["options"]),
        labels=tuple((k, v) for k, v in record["labels"]),
    )


def put_image(name: str, tag: str) -> Change:
    return Change(Kind.IMAGE, Action.PUT, f"{name}:{tag}", {"name": name, "tag": tag})


def image_facts(image: ImageDetails) -> dict[str, str]:
    """What a loaded image's record learns from the engine: its ID, the digest of its config,
    which a ``docker save`` and ``docker load`` keep, so both engines can be checked against it."""
    return {"id": image.id}


def image_id(record: Mapping[str, Any]) -> str | None:
    """The recorded image ID; None for an image recorded before IDs were."""
    value = record.get("id")
    return str(value) if value else None


def put_plugin_tarball(name: str) -> Change:
    return Change(Kind.PLUGIN_TARBALL, Action.PUT, name, {"name": name})


def tarball_facts(sha256: str, size: int) -> dict[str, Any]:
    return {"sha256": sha256, "size": size}


def put_plugin(plugin_name: str, tarball: str, config: str, enabled: bool) -> Change:
    """A plugin instance (``name:latest``), built from deployed tarball ``tarball`` and
    ``config``; ``enabled`` is whether it should run."""
    return Change(Kind.PLUGIN, Action.PUT, plugin_name, {"tarball": tarball, "config": config, "enabled": enabled})


def with_plugin_enabled(record: Mapping[str, Any], plugin_name: str, enabled: bool) -> Change:
    return put_plugin(plugin_name, record["tarball"], record["config"], enabled)
