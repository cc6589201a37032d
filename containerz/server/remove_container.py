"""RemoveContainer."""

from __future__ import annotations

from containerz import names
from containerz.managers import Managers
from protos.gnoi.containerz import containerz_pb2 as pb


async def remove_container(managers: Managers, request: pb.RemoveContainerRequest) -> pb.RemoveContainerResponse:
    name = names.object_name(request.name, "container")
    await managers.containers.remove(name, force=request.force)
    return pb.RemoveContainerResponse()
