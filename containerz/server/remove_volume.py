"""RemoveVolume."""

from __future__ import annotations

from containerz import names
from containerz.managers import Managers
from protos.gnoi.containerz import containerz_pb2 as pb


async def remove_volume(managers: Managers, request: pb.RemoveVolumeRequest) -> pb.RemoveVolumeResponse:
    await managers.volumes.remove(names.object_name(request.name, "volume"), force=request.force)
    return pb.RemoveVolumeResponse()
