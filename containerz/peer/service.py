"""The Peer service: what one control processor answers for the other."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Protocol, TypeAlias

import grpc

from containerz import errors
from containerz.managers import Managers
from containerz.server.rpc import relay, unary
from protos.containerz import peer_pb2 as pb
from protos.containerz import peer_pb2_grpc
from state import Ledger, Record, Reply, Verdict
from state.snapshot import Snapshot

Context: TypeAlias = grpc.aio.ServicerContext

_VERDICTS = {
    Verdict.OK: pb.AppendReply.OK,
    Verdict.STALE_EPOCH: pb.AppendReply.STALE_EPOCH,
    Verdict.OUT_OF_TURN: pb.AppendReply.OUT_OF_TURN,
}


class ControlProcessorSide(Protocol):
    """What the Peer service asks of this control processor's redundancy manager."""

    def status(self) -> pb.StatusReply: ...
    async def prefetch(self, epoch: int, reference: str) -> None: ...
    async def prefetch_plugin_tarball(self, epoch: int, name: str, sha256: str) -> None: ...
    async def receive_volume_data(self, epoch: int, name: str, chunks: AsyncIterator[bytes]) -> None: ...


class PeerServicer(peer_pb2_grpc.PeerServicer):
    def __init__(self, ledger: Ledger, managers: Managers, side: ControlProcessorSide) -> None:
        self._ledger = ledger
        self._managers = managers
        self._side = side
        self._follow = asyncio.Lock()  # one journal write at a time, in order

    async def Append(self, request: pb.AppendRequest, context: Context) -> pb.AppendReply:
        async def append() -> pb.AppendReply:
            records = [Record.decode(raw) for raw in request.records]
            async with self._follow:
                follower = self._ledger.follower
                return _reply(await asyncio.to_thread(follower.append, request.epoch, records))

        return await unary("peer.Append", request, context, append(), mutating=False)

    async def Install(self, request: pb.InstallRequest, context: Context) -> pb.AppendReply:
        async def install() -> pb.AppendReply:
            snapshot = Snapshot(request.snapshot_epoch, request.seq, json.loads(request.state_json))
            async with self._follow:
                follower = self._ledger.follower
                return _reply(await asyncio.to_thread(follower.install, request.epoch, snapshot))

        return await unary("peer.Install", _brief(request), context, install(), mutating=True)

    async def Status(self, request: pb.StatusRequest, context: Context) -> pb.StatusReply:
        async def status() -> pb.StatusReply:
            return self._side.status()

        return await unary("peer.Status", request, context, status(), mutating=False)

    async def FetchImage(self, request: pb.FetchImageRequest, context: Context) -> None:
        async def chunks() -> AsyncGenerator[pb.Chunk, None]:
            async for data in self._managers.engine.save_image(request.reference):
                yield pb.Chunk(data=data)

        await relay("peer.FetchImage", request.reference, context, chunks(), mutating=False)

    async def Prefetch(self, request: pb.PrefetchRequest, context: Context) -> pb.PrefetchReply:
        async def prefetch() -> pb.PrefetchReply:
            await self._side.prefetch(request.epoch, request.reference)
            return pb.PrefetchReply()

        return await unary("peer.Prefetch", request, context, prefetch(), mutating=True)

    async def FetchPluginTarball(self, request: pb.FetchPluginTarballRequest, context: Context) -> None:
        async def chunks() -> AsyncGenerator[pb.Chunk, None]:
            async for data in self._managers.plugins.read_tarball(request.name):
                yield pb.Chunk(data=data)

        await relay("peer.FetchPluginTarball", request.name, context, chunks(), mutating=False)

    async def PrefetchPluginTarball(
        self, request: pb.PrefetchPluginTarballRequest, context: Context
    ) -> pb.PrefetchReply:
        async def prefetch() -> pb.PrefetchReply:
            await self._side.prefetch_plugin_tarball(request.epoch, request.name, request.sha256)
            return pb.PrefetchReply()

        return await unary("peer.PrefetchPluginTarball", request, context, prefetch(), mutating=True)

    async def PutVolumeData(
        self, request_iterator: AsyncIterator[pb.VolumeChunk], context: Context
    ) -> pb.PutVolumeDataReply:
        async def put() -> pb.PutVolumeDataReply:
            first = await anext(request_iterator, None)
            if first is None or not first.volume:
                raise errors.InvalidArgument("PutVolumeData starts with a message naming the volume")

            async def data() -> AsyncIterator[bytes]:
                if first.data:
                    yield first.data
                async for chunk in request_iterator:
                    yield chunk.data

            await self._side.receive_volume_data(first.epoch, first.volume, data())
            return pb.PutVolumeDataReply()

        return await unary("peer.PutVolumeData", pb.VolumeChunk(), context, put(), mutating=True)


def _reply(reply: Reply) -> pb.AppendReply:
    return pb.AppendReply(verdict=_VERDICTS[reply.verdict], epoch=reply.epoch, last_seq=reply.last_seq)


def _brief(request: pb.InstallRequest) -> pb.InstallRequest:
    """The request without its state, for the log."""
    return pb.InstallRequest(epoch=request.epoch, snapshot_epoch=request.snapshot_epoch, seq=request.seq)
