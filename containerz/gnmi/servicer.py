"""The gnmi.gNMI service: Capabilities, Get and Subscribe; Set is refused (state is read-only)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import TypeAlias

import grpc

from containerz import errors
from containerz.gnmi import get, subscribe
from containerz.platform import Platform
from containerz.server.rpc import relay, summarize, unary
from protos.gnmi.proto.gnmi import gnmi_pb2 as gnmi
from protos.gnmi.proto.gnmi import gnmi_pb2_grpc

Context: TypeAlias = grpc.aio.ServicerContext

GNMI_VERSION = "0.10.0"
_MODELS = [
    gnmi.ModelData(name="openconfig-platform", organization="OpenConfig working group"),
    gnmi.ModelData(name="openconfig-system", organization="OpenConfig working group"),
]


class GnmiServicer(gnmi_pb2_grpc.gNMIServicer):
    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    async def Capabilities(self, request: gnmi.CapabilityRequest, context: Context) -> gnmi.CapabilityResponse:
        async def answer() -> gnmi.CapabilityResponse:
            return gnmi.CapabilityResponse(
                supported_models=_MODELS,
                supported_encodings=[gnmi.JSON_IETF, gnmi.JSON, gnmi.PROTO],
                gNMI_version=GNMI_VERSION,
            )

        return await unary("gnmi.Capabilities", request, context, answer(), mutating=False)

    async def Get(self, request: gnmi.GetRequest, context: Context) -> gnmi.GetResponse:
        return await unary("gnmi.Get", request, context, get.get(self._platform, request), mutating=False)

    async def Set(self, request: gnmi.SetRequest, context: Context) -> gnmi.SetResponse:
        async def refuse() -> gnmi.SetResponse:
            raise errors.Unimplemented("this device publishes state only; gNMI Set is not supported")

        return await unary("gnmi.Set", request, context, refuse(), mutating=True)

    async def Subscribe(self, request_iterator: AsyncIterator[gnmi.SubscribeRequest], context: Context) -> None:
        firsts: list[gnmi.SubscriptionList] = []

        async def responses() -> AsyncGenerator[gnmi.SubscribeResponse, None]:
            firsts.append(await subscribe.first_subscription(request_iterator))
            stream = subscribe.subscribe(self._platform, firsts[0], request_iterator)
            async with aclosing(stream) as subscribed:
                async for response in subscribed:
                    yield response

        def summary() -> str:
            return summarize(firsts[0]) if firsts else ""

        await relay("gnmi.Subscribe", summary, context, responses(), mutating=False)
