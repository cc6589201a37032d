"""StartContainer: create and start a container, or start a stopped one given only its name."""

from __future__ import annotations

from containerz import names
from containerz.managers import Managers
from containerz.server.convert import container_spec, is_restart_by_name
from protos.gnoi.containerz import containerz_pb2 as pb


async def start_container(managers: Managers, request: pb.StartContainerRequest) -> pb.StartContainerResponse:
    if is_restart_by_name(request):
        name = names.object_name(request.instance_name, "container", "instance_name")
        started = await managers.containers.start_existing(name)
    else:
        started = await managers.containers.start(container_spec(request))
    return pb.StartContainerResponse(start_ok=pb.StartOK(instance_name=started))
