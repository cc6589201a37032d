"""UpdateContainer: replace a container with new parameters, synchronously or in the background."""

from __future__ import annotations

from containerz import errors, names
from containerz.managers import Managers
from containerz.server.convert import container_spec
from protos.gnoi.containerz import containerz_pb2 as pb


async def update_container(managers: Managers, request: pb.UpdateContainerRequest) -> pb.UpdateContainerResponse:
    name = names.object_name(request.instance_name, "container", "instance_name")
    if not request.HasField("params"):
        raise errors.InvalidArgument("params is required: the StartContainerRequest to update the container to")
    params = pb.StartContainerRequest()
    params.CopyFrom(request.params)
    overrides = (
        ("image_name", request.image_name, params.image_name),
        ("tag", request.image_tag, params.tag),
    )
    for field, top_level, inner in overrides:
        if top_level and inner and top_level != inner:
            raise errors.InvalidArgument(f"image {field} {top_level!r} disagrees with params.{field} {inner!r}")
        if top_level:
            setattr(params, field, top_level)
    spec = container_spec(params, instance_name=name)
    is_async = await managers.containers.update(
        spec, run_async=getattr(request, "async")
    )  # "async" is a Python keyword
    return pb.UpdateContainerResponse(update_ok=pb.UpdateOK(instance_name=name, is_async=is_async))
