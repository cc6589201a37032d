"""ListContainer: name without Docker's leading '/', image_name as name:tag, labels and image hash."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from containerz.managers import Managers
from containerz.server.convert import container_response, filters
from protos.gnoi.containerz import containerz_pb2 as pb


async def list_container(
    managers: Managers, request: pb.ListContainerRequest
) -> AsyncGenerator[pb.ListContainerResponse, None]:
    found = await managers.containers.list(all=request.all, limit=request.limit, filters=filters(request.filter))
    for container in found:
        yield container_response(container)
