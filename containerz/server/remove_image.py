"""RemoveImage."""

from __future__ import annotations

from containerz import names
from containerz.managers import Managers
from protos.gnoi.containerz import containerz_pb2 as pb


async def remove_image(managers: Managers, request: pb.RemoveImageRequest) -> pb.RemoveImageResponse:
    name = names.image_name(request.name)
    tag = names.image_tag(request.tag)
    await managers.images.remove(name, tag, request.force)
    return pb.RemoveImageResponse()
