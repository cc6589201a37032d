"""Engine-neutral descriptions of images, containers, volumes and plugins.

The servicers translate protobuf messages into these, the manager acts on them and the
engine adapter turns them into Docker API calls. They are plain frozen dataclasses so
that the state journal can record them as they are.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

LABEL_PREFIX = "net.openconfig.containerz."
LOCATION_LABEL_PREFIX = LABEL_PREFIX + "location."
LOCATION_INTENDED_LABEL = LOCATION_LABEL_PREFIX + "intended"
LOCATION_ACTUAL_LABEL = LOCATION_LABEL_PREFIX + "actual"
LOCATION_REASON_LABEL = LOCATION_LABEL_PREFIX + "reason"
PORTS_LABEL = LABEL_PREFIX + "ports"
DEFAULT_TAG = "latest"


class RestartPolicy(enum.Enum):
    NONE = "no"
    ALWAYS = "always"
    UNLESS_STOPPED = "unless-stopped"
    ON_FAILURE = "on-failure"


class Location(enum.Enum):
    PRIMARY = "L_PRIMARY"
    BACKUP = "L_BACKUP"
    ALL = "L_ALL"


class ContainerState(enum.Enum):
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    PRESENT = "PRESENT"
    UNSPECIFIED = "UNSPECIFIED"


@dataclass(frozen=True)
class PortMapping:
    internal: int
    external: int


@dataclass(frozen=True)
class VolumeMount:
    volume: str
    mount_point: str
    read_only: bool = False


@dataclass(frozen=True)
class DeviceMapping:
    host_path: str
    container_path: str
    cgroup_permissions: str = "rwm"


@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to (re)create one container, exactly as the client asked."""

    image: str
    tag: str
    instance_name: str
    command: tuple[str, ...] = ()
    ports: tuple[PortMapping, ...] = ()
    environment: tuple[tuple[str, str], ...] = ()
    volumes: tuple[VolumeMount, ...] = ()
    network: str = "host"
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    restart: RestartPolicy = RestartPolicy.NONE
    restart_attempts: int = 0
    user: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    max_cpu: float = 0.0
    soft_memory_bytes: int = 0
    hard_memory_bytes: int = 0
    devices: tuple[DeviceMapping, ...] = ()
    location: Location = Location.PRIMARY

    @property
    def image_ref(self) -> str:
        return f"{self.image}:{self.tag}"


@dataclass(frozen=True)
class ImageSummary:
    """One tagged image: ListImage returns one of these per repository:tag."""

    id: str
    name: str
    tag: str


@dataclass(frozen=True)
class ImageDetails:
    id: str
    repo_tags: tuple[str, ...]
    size: int


@dataclass(frozen=True)
class ContainerSummary:
    id: str
    name: str
    image_ref: str
    image_id: str
    state: ContainerState
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VolumeSummary:
    name: str
    driver: str
    created: datetime | None
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    mountpoint: str = ""  # where the engine keeps its data, on the engine's machine

    @property
    def holds_its_own_data(self) -> bool:
        """A plain local volume, whose data lives in the engine's storage (not a bind of a host path)."""
        return self.driver == "local" and not self.options


@dataclass(frozen=True)
class VolumeSpec:
    name: str
    driver: str = "local"
    options: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PluginSummary:
    id: str
    instance_name: str
    enabled: bool
    config: str
