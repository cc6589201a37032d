"""StopContainer: graceful (SIGTERM, grace period, SIGKILL) or forced; optionally start again."""

from __future__ import annotations

from containerz import names
from containerz.managers import Managers
from protos.gnoi.containerz import containerz_pb2 as pb


async def stop_container(managers: Managers, request: pb.StopContainerRequest) -> pb.StopContainerResponse:
    name = names.object_name(request.instance_name, "container", "instance_name")
    await managers.containers.stop(name, force=request.force, restart=request.restart)
    return pb.StopContainerResponse()
