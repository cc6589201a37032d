"""The active's (and the standby's) view of the other control processor's Peer service.

Implements :class:`state.Transport` for journal replication; a failure to reach the peer is a
ConnectionError, which the replication link treats as "standby unreachable".
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

import grpc

from protos.containerz import peer_pb2 as pb
from protos.containerz import peer_pb2_grpc
from state import Record, Reply, Verdict
from state.snapshot import Snapshot

_VERDICTS = {
    pb.AppendReply.OK: Verdict.OK,
    pb.AppendReply.STALE_EPOCH: Verdict.STALE_EPOCH,
    pb.AppendReply.OUT_OF_TURN: Verdict.OUT_OF_TURN,
}
_UNREACHABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
# Images and volume data come in chunks of at most this size.
MAX_MESSAGE_BYTES = 8 << 20


def channel_options() -> list[tuple[str, int]]:
    return [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES), ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)]


class PeerClient:
    def __init__(self, address: str) -> None:
        self.address = address
        self._channel = grpc.aio.insecure_channel(address, options=channel_options())
        self._stub = peer_pb2_grpc.PeerStub(self._channel)  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        await self._channel.close()

    async def append(self, epoch: int, records: Sequence[Record]) -> Reply:
        request = pb.AppendRequest(epoch=epoch, records=[r.encode() for r in records])
        return _reply(await self._call(self._stub.Append(request, timeout=5)))

    async def install(self, epoch: int, snapshot: Snapshot) -> Reply:
        request = pb.InstallRequest(
            epoch=epoch,
            snapshot_epoch=snapshot.epoch,
            seq=snapshot.seq,
            state_json=json.dumps(snapshot.state).encode(),
        )
        return _reply(await self._call(self._stub.Install(request, timeout=30)))

    async def status(self) -> pb.StatusReply:
        reply = await self._call(self._stub.Status(pb.StatusRequest(), timeout=2))
        assert isinstance(reply, pb.StatusReply)
        return reply

    async def prefetch(self, epoch: int, reference: str) -> None:
        await self._call(self._stub.Prefetch(pb.PrefetchRequest(epoch=epoch, reference=reference), timeout=600))

    async def put_volume_data(self, epoch: int, volume: str, chunks: AsyncIterator[bytes]) -> None:
        async def messages() -> AsyncIterator[pb.VolumeChunk]:
            yield pb.VolumeChunk(epoch=epoch, volume=volume)
            async for data in chunks:
                yield pb.VolumeChunk(data=data)

        await self._call(self._stub.PutVolumeData(messages(), timeout=600))

    async def prefetch_plugin_tarball(self, epoch: int, name: str, sha256: str) -> None:
        request = pb.PrefetchPluginTarballRequest(epoch=epoch, name=name, sha256=sha256)
        await self._call(self._stub.PrefetchPluginTarball(request, timeout=600))

    def fetch_image(self, reference: str) -> AsyncGenerator[bytes, None]:
        return self._chunks(self._stub.FetchImage(pb.FetchImageRequest(reference=reference), timeout=600))

    def fetch_plugin_tarball(self, name: str) -> AsyncGenerator[bytes, None]:
        return self._chunks(self._stub.FetchPluginTarball(pb.FetchPluginTarballRequest(name=name), timeout=600))

    async def _chunks(self, call: grpc.aio.UnaryStreamCall) -> AsyncGenerator[bytes, None]:
        try:
            async for chunk in call:
                yield chunk.data
        except grpc.aio.AioRpcError as exc:
            raise _translate(exc) from exc
        finally:
            call.cancel()

    async def _call(self, call: object) -> object:
        try:
            return await call  # type: ignore[misc]
        except grpc.aio.AioRpcError as exc:
            raise _translate(exc) from exc


def _translate(exc: grpc.aio.AioRpcError) -> Exception:
    if exc.code() in _UNREACHABLE:
        return ConnectionError(f"peer unreachable: {exc.details()}")
    return PeerError(exc.code(), exc.details() or "")


class PeerError(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


def _reply(reply: object) -> Reply:
    assert isinstance(reply, pb.AppendReply)
    return Reply(_VERDICTS[reply.verdict], reply.epoch, reply.last_seq)
