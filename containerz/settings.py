"""Server settings: every one settable by flag and by environment variable."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MAX_CHUNK_SIZE = 4 * 1024 * 1024
DEFAULT_VOLUME_SYNC_SECONDS = 30.0


@dataclass(frozen=True)
class RedundancySettings:
    """For one of two control processors."""

    peer_name: str  # the other control processor's component name
    peer_address: str  # its Peer endpoint
    peer_listen: str  # ours
    arbiter: Path  # the lock file both contend for: whoever holds it is active
    service_listen: str | None = None  # the device's address, served by whichever is active
    # Exit with this code to have the chassis (server.py device) cold-reboot the device; unset, a
    # cold reboot is refused, as a lone control processor cannot power-cycle its peer.
    reboot_exit_code: int | None = None
    # How often the active copies changed volume contents to the standby (0: only on a planned
    # switchover): the most a crash of the active can lose of what containers wrote to volumes.
    volume_sync_seconds: float = DEFAULT_VOLUME_SYNC_SECONDS


@dataclass(frozen=True)
class Settings:
    listen: str = "[::]:9339"
    # This control processor's component name in gNMI /components and gNOI System paths.
    name: str = "Supervisor1"
    docker_host: str = "unix:///var/run/docker.sock"
    data_dir: Path = Path("/var/lib/containerz")
    chunk_size: int = MAX_CHUNK_SIZE
    stop_grace_seconds: int = 10
    plugin_enable_timeout_seconds: int = 30
    log_format: str = "auto"
    log_level: str = "info"
    # Set for one of two control processors: the peer, the arbiter and the shared address.
    redundancy: RedundancySettings | None = None
    # How often the journal's objects are checked against the engine between takeovers.
    reconcile_interval_seconds: float = 10.0

    @property
    def uploads_dir(self) -> Path:
        """Partial uploads; on the same filesystem as the stores so a finished one is renamed in."""
        return self.data_dir / "uploads"

    @property
    def plugins_dir(self) -> Path:
        return self.data_dir / "plugins"

    @property
    def state_dir(self) -> Path:
        """The desired-state journal, its snapshot and the epoch."""
        return self.data_dir / "state"

    def prepare_directories(self) -> None:
        for directory in (self.data_dir, self.uploads_dir, self.plugins_dir, self.state_dir):
            directory.mkdir(parents=True, exist_ok=True)
