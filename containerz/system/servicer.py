"""The gnoi.system.System service: each RPC a thin translation to the control plane."""

from __future__ import annotations

import time
from typing import TypeAlias

import grpc

from containerz import errors
from containerz.server.rpc import unary
from containerz.system.control import ControlPlane, processor_name
from containerz.system.reboot import RebootScheduler
from protos.gnoi.system import system_pb2 as pb
from protos.gnoi.system import system_pb2_grpc

Context: TypeAlias = grpc.aio.ServicerContext


class SystemServicer(system_pb2_grpc.SystemServicer):
    def __init__(self, control: ControlPlane, reboots: RebootScheduler) -> None:
        self._control = control
        self._reboots = reboots

    async def Time(self, request: pb.TimeRequest, context: Context) -> pb.TimeResponse:
        async def now() -> pb.TimeResponse:
            return pb.TimeResponse(time=time.time_ns())

        return await unary("system.Time", request, context, now(), mutating=False)

    async def SwitchControlProcessor(
        self, request: pb.SwitchControlProcessorRequest, context: Context
    ) -> pb.SwitchControlProcessorResponse:
        async def switch() -> pb.SwitchControlProcessorResponse:
            platform = self._control.platform
            name = processor_name(request.control_processor, platform)
            await self._control.switch_to(name)
            target = platform.processor(name)
            assert target is not None
            return pb.SwitchControlProcessorResponse(
                control_processor=request.control_processor,
                version=platform.software_version,
                uptime=max(time.time_ns() - target.boot_time_ns, 1),
            )

        return await unary("system.SwitchControlProcessor", request, context, switch(), mutating=True)

    async def Reboot(self, request: pb.RebootRequest, context: Context) -> pb.RebootResponse:
        async def reboot() -> pb.RebootResponse:
            for path in request.subcomponents:
                processor_name(path, self._control.platform)  # must name one of ours
            if request.subcomponents and len(self._control.platform.processors) > 1:
                raise errors.Unimplemented("rebooting one control processor alone is not supported; omit subcomponents")
            self._reboots.schedule(request)
            return pb.RebootResponse()

        return await unary("system.Reboot", request, context, reboot(), mutating=True)

    async def RebootStatus(self, request: pb.RebootStatusRequest, context: Context) -> pb.RebootStatusResponse:
        async def status() -> pb.RebootStatusResponse:
            return self._reboots.status()

        return await unary("system.RebootStatus", request, context, status(), mutating=False)

    async def CancelReboot(self, request: pb.CancelRebootRequest, context: Context) -> pb.CancelRebootResponse:
        async def cancel() -> pb.CancelRebootResponse:
            self._reboots.cancel(request.message)
            return pb.CancelRebootResponse()

        return await unary("system.CancelReboot", request, context, cancel(), mutating=True)
