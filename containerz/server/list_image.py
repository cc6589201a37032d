"""ListImage: one entry per repository:tag, never comma-joined tags."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from containerz.managers import Managers
from containerz.server.convert import filters, image_response
from protos.gnoi.containerz import containerz_pb2 as pb


async def list_image(managers: Managers, request: pb.ListImageRequest) -> AsyncGenerator[pb.ListImageResponse, None]:
    for image in await managers.images.list(request.limit, filters(request.filter)):
        yield image_response(image)
