"""CreateVolume."""

from __future__ import annotations

import secrets

from containerz import names
from containerz.managers import Managers
from containerz.server.convert import volume_spec
from protos.gnoi.containerz import containerz_pb2 as pb


async def create_volume(managers: Managers, request: pb.CreateVolumeRequest) -> pb.CreateVolumeResponse:
    name = names.object_name(request.name, "volume") if request.name else f"volume-{secrets.token_hex(6)}"
    created = await managers.volumes.create(volume_spec(request, name))
    return pb.CreateVolumeResponse(name=created)
