"""Log: a container's output, line by line; the stream ends unless follow is set."""

from __future__ import annotations

from collections.abc import AsyncIterator

from containerz import names
from containerz.managers import Managers
from protos.gnoi.containerz import containerz_pb2 as pb


async def log(managers: Managers, request: pb.LogRequest) -> AsyncIterator[pb.LogResponse]:
    name = names.object_name(request.instance_name, "container", "instance_name")
    async for line in managers.containers.logs(name, follow=request.follow):
        yield pb.LogResponse(msg=line)
