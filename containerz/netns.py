"""One network namespace per control processor of a simulated device (needs root and iproute2).

Each control processor, its server process and its engine (so its host-network containers) live
in their own namespace, like two cards with their own network stacks:

    root namespace            cp1 namespace                    cp2 namespace
    10.B.1.1 --veth-- eth0 10.B.1.2 (own address)
    10.B.2.1 --veth----------------------------------------- eth0 10.B.2.2 (own address)
                      repl 10.B.0.1 ------ veth ------ repl 10.B.0.2   (the replication link)

B is derived from the device's data directory, so two devices on one machine do not collide.
The replication link can be cut for real (``ip -n NS link set repl down``).
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPLICATION_LINK = "repl"


@dataclass(frozen=True)
class Namespace:
    name: str
    own_address: str  # the control processor's address, reachable from the root namespace
    link_address: str  # its end of the replication link
    host_side: str  # the root namespace's interface towards it


@dataclass(frozen=True)
class Topology:
    namespaces: tuple[Namespace, Namespace]

    @classmethod
    def for_device(cls, data_dir: Path) -> Topology:
        digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()
        tag, octet = digest[:6], 100 + int(digest[6:10], 16) % 100
        return cls(
            tuple(  # type: ignore[arg-type]
                Namespace(
                    name=f"cz{tag}cp{n}",
                    own_address=f"10.{octet}.{n}.2",
                    link_address=f"10.{octet}.0.{n}",
                    host_side=f"cz{tag}h{n}",
                )
                for n in (1, 2)
            )
        )

    def up(self) -> None:
        """Create the namespaces and links (replacing leftovers of an earlier run)."""
        self.down()
        for ns in self.namespaces:
            _ip("netns", "add", ns.name)
            _ip("-n", ns.name, "link", "set", "lo", "up")
            _ip("link", "add", ns.host_side, "type", "veth", "peer", "name", "eth0", "netns", ns.name)
            host = ns.own_address.rsplit(".", 1)[0] + ".1"
            _ip("addr", "add", f"{host}/30", "dev", ns.host_side)
            _ip("link", "set", ns.host_side, "up")
            _ip("-n", ns.name, "addr", "add", f"{ns.own_address}/30", "dev", "eth0")
            _ip("-n", ns.name, "link", "set", "eth0", "up")
        first, second = self.namespaces
        _ip(
            "-n",
            first.name,
            "link",
            "add",
            REPLICATION_LINK,
            "type",
            "veth",
            "peer",
            "name",
            REPLICATION_LINK,
            "netns",
            second.name,
        )
        for ns in self.namespaces:
            _ip("-n", ns.name, "addr", "add", f"{ns.link_address}/30", "dev", REPLICATION_LINK)
            _ip("-n", ns.name, "link", "set", REPLICATION_LINK, "up")

    def down(self) -> None:
        for ns in self.namespaces:
            subprocess.run(["ip", "link", "del", ns.host_side], capture_output=True, check=False)
            subprocess.run(["ip", "netns", "del", ns.name], capture_output=True, check=False)

    def set_link(self, up: bool) -> None:
        """Cut (or restore) the replication link, as pulling the cable between the cards would."""
        _ip("-n", self.namespaces[0].name, "link", "set", REPLICATION_LINK, "up" if up else "down")


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def nsenter(namespace: str) -> list[str]:
    """The prefix that runs a command inside ``namespace`` (not ``ip netns exec``: it remounts
    /sys, and dockerd then finds no cgroups)."""
    return ["nsenter", f"--net=/var/run/netns/{namespace}"]
