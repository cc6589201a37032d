"""ListVolume."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from containerz.managers import Managers
from containerz.server.convert import filters, volume_response
from protos.gnoi.containerz import containerz_pb2 as pb


async def list_volume(managers: Managers, request: pb.ListVolumeRequest) -> AsyncGenerator[pb.ListVolumeResponse, None]:
    for volume in await managers.volumes.list(filters(request.filter)):
        yield volume_response(volume)
