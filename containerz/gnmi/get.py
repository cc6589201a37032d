"""Get: one notification per requested path, every matching leaf its own update."""

from __future__ import annotations

from containerz import errors
from containerz.gnmi.paths import check_encoding, render, requested, response_prefix, select, updates
from containerz.platform import Platform
from protos.gnmi.proto.gnmi import gnmi_pb2 as gnmi


async def get(platform: Platform, request: gnmi.GetRequest) -> gnmi.GetResponse:
    check_encoding(request.encoding)
    if request.type == gnmi.GetRequest.CONFIG:
        raise errors.NotFound("this device publishes state only; ask for STATE or ALL")
    leaves = platform.leaves()
    timestamp = platform.clock()
    notifications = []
    for path in request.path or [gnmi.Path()]:
        pattern = requested(request.prefix, path)
        found = select(leaves, pattern)
        if not found:
            raise errors.NotFound(f"no data at {render(pattern)}; /components and /system/state are served")
        notifications.append(
            gnmi.Notification(
                timestamp=timestamp,
                prefix=response_prefix(request.prefix),
                update=updates(found, request.encoding),
            )
        )
    return gnmi.GetResponse(notification=notifications)
