"""What gNOI System needs from the device, and how it names control processors."""

from __future__ import annotations

import asyncio
from typing import Protocol

from containerz import errors
from containerz.platform import Platform
from protos.gnoi.types import types_pb2


class ControlPlane(Protocol):
    """The device's control processors: who they are, and the two things System can ask of them."""

    @property
    def platform(self) -> Platform: ...

    # Set once a cold reboot is under way: the server then stops and restarts (or exits to the chassis).
    reboot_requested: asyncio.Event

    async def switch_to(self, name: str) -> None:
        """Make ``name`` the active control processor (a no-op when it already is)."""
        ...

    async def cold_reboot(self) -> None:
        """Kill every container and restart the server processes; the journal restores the rest."""
        ...


def processor_name(path: types_pb2.Path, platform: Platform) -> str:
    """The control processor a path names, in either form clients send:
    ``/components/component[name=X]`` (origin openconfig) or ``elem:[{name: X}]``."""
    elems = list(path.elem)
    if len(elems) == 2 and elems[0].name == "components" and elems[1].name == "component" and "name" in elems[1].key:
        name = elems[1].key["name"]
    elif len(elems) == 1 and not elems[0].key:
        name = elems[0].name
    else:
        raise errors.InvalidArgument(
            "name the control processor as /components/component[name=<name>] or as a single element <name>"
        )
    if platform.processor(name) is None:
        known = ", ".join(cp.name for cp in platform.processors)
        raise errors.NotFound(f"no control processor named {name!r}; this device has {known}")
    return name
