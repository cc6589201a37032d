"""The gnoi.containerz.Containerz service: binds each RPC module to the generated servicer.

Unary RPCs return their response; streaming RPCs are coroutines that write their
responses (gRPC's reader/writer style), so the only async generators are the RPC
modules' own, and :func:`containerz.server.rpc.relay` closes them whatever happens.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import TypeAlias

import grpc

from containerz.managers import Managers
from containerz.server import (
    create_volume,
    deploy,
    list_container,
    list_image,
    list_volume,
    log,
    plugins,
    remove_container,
    remove_image,
    remove_volume,
    start_container,
    stop_container,
    update_container,
)
from containerz.server.rpc import relay, summarize, unary
from protos.gnoi.containerz import containerz_pb2 as pb
from protos.gnoi.containerz import containerz_pb2_grpc

Context: TypeAlias = grpc.aio.ServicerContext


class ContainerzServicer(containerz_pb2_grpc.ContainerzServicer):
    def __init__(self, managers: Managers, chunk_size: int) -> None:
        self._managers = managers
        self._chunk_size = chunk_size

    async def Deploy(self, request_iterator: AsyncIterator[pb.DeployRequest], context: Context) -> None:
        transfers: list[pb.ImageTransfer] = []

        async def responses() -> AsyncGenerator[pb.DeployResponse, None]:
            transfers.append(await deploy.first_request(request_iterator))
            stream = deploy.deploy(self._managers, self._chunk_size, transfers[0], request_iterator)
            async with aclosing(stream) as responses_for_transfer:
                async for response in responses_for_transfer:
                    yield response

        def summary() -> str:
            return summarize(transfers[0]) if transfers else ""

        await relay("Deploy", summary, context, responses(), mutating=True)

    async def ListImage(self, request: pb.ListImageRequest, context: Context) -> None:
        await relay("ListImage", summarize(request), context, list_image.list_image(self._managers, request), False)

    async def ListContainer(self, request: pb.ListContainerRequest, context: Context) -> None:
        responses = list_container.list_container(self._managers, request)
        await relay("ListContainer", summarize(request), context, responses, mutating=False)

    async def Log(self, request: pb.LogRequest, context: Context) -> None:
        await relay("Log", summarize(request), context, log.log(self._managers, request), mutating=False)

    async def ListVolume(self, request: pb.ListVolumeRequest, context: Context) -> None:
        responses = list_volume.list_volume(self._managers, request)
        await relay("ListVolume", summarize(request), context, responses, mutating=False)

    async def RemoveImage(self, request: pb.RemoveImageRequest, context: Context) -> pb.RemoveImageResponse:
        handler = remove_image.remove_image(self._managers, request)
        return await unary("RemoveImage", request, context, handler, mutating=True)

    async def StartContainer(self, request: pb.StartContainerRequest, context: Context) -> pb.StartContainerResponse:
        handler = start_container.start_container(self._managers, request)
        return await unary("StartContainer", request, context, handler, mutating=True)

    async def StopContainer(self, request: pb.StopContainerRequest, context: Context) -> pb.StopContainerResponse:
        handler = stop_container.stop_container(self._managers, request)
        return await unary("StopContainer", request, context, handler, mutating=True)

    async def UpdateContainer(self, request: pb.UpdateContainerRequest, context: Context) -> pb.UpdateContainerResponse:
        handler = update_container.update_container(self._managers, request)
        return await unary("UpdateContainer", request, context, handler, mutating=True)

    async def RemoveContainer(self, request: pb.RemoveContainerRequest, context: Context) -> pb.RemoveContainerResponse:
        handler = remove_container.remove_container(self._managers, request)
        return await unary("RemoveContainer", request, context, handler, mutating=True)

    async def CreateVolume(self, request: pb.CreateVolumeRequest, context: Context) -> pb.CreateVolumeResponse:
        handler = create_volume.create_volume(self._managers, request)
        return await unary("CreateVolume", request, context, handler, mutating=True)

    async def RemoveVolume(self, request: pb.RemoveVolumeRequest, context: Context) -> pb.RemoveVolumeResponse:
        handler = remove_volume.remove_volume(self._managers, request)
        return await unary("RemoveVolume", request, context, handler, mutating=True)

    async def StartPlugin(self, request: pb.StartPluginRequest, context: Context) -> pb.StartPluginResponse:
        handler = plugins.start_plugin(self._managers, request)
        return await unary("StartPlugin", request, context, handler, mutating=True)

    async def StopPlugin(self, request: pb.StopPluginRequest, context: Context) -> pb.StopPluginResponse:
        handler = plugins.stop_plugin(self._managers, request)
        return await unary("StopPlugin", request, context, handler, mutating=True)

    async def ListPlugins(self, request: pb.ListPluginsRequest, context: Context) -> pb.ListPluginsResponse:
        handler = plugins.list_plugins(self._managers, request)
        return await unary("ListPlugins", request, context, handler, mutating=False)

    async def RemovePlugin(self, request: pb.RemovePluginRequest, context: Context) -> pb.RemovePluginResponse:
        handler = plugins.remove_plugin(self._managers, request)
        return await unary("RemovePlugin", request, context, handler, mutating=True)

    async def RemovePluginTar(self, request: pb.RemovePluginTarRequest, context: Context) -> pb.RemovePluginTarResponse:
        handler = plugins.remove_plugin_tar(self._managers, request)
        return await unary("RemovePluginTar", request, context, handler, mutating=True)
