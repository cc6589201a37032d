"""Log: a container's output, line by line; the stream ends unless follow is set."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

from containerz import names
from containerz.managers import Managers
from protos.gnoi.containerz import containerz_pb2 as pb


async def log(managers: Managers, request: pb.LogRequest) -> AsyncGenerator[pb.LogResponse, None]:
    name = names.object_name(request.instance_name, "container", "instance_name")
    async with aclosing(managers.containers.logs(name, follow=request.follow)) as lines:
        async for line in lines:
            yield pb.LogResponse(msg=line)
