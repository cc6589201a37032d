"""Deploy: receive an image (or plugin) in lock-step chunks, or fetch it from a remote source.

The reference client sends one content message and waits for exactly one
ImageTransferProgress before sending the next, so every content message (an empty
last one included) is answered with one Progress, and nothing else is sent until
ImageTransferSuccess.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from types import TracebackType
from typing import Protocol

from containerz import errors, names
from containerz.managers import Managers
from containerz.server.convert import remote_source
from protos.gnoi.containerz import containerz_pb2 as pb


async def first_request(requests: AsyncIterator[pb.DeployRequest]) -> pb.ImageTransfer:
    first = await anext(requests, None)
    if first is None:
        raise errors.InvalidArgument("the Deploy stream closed before any request; send ImageTransfer first")
    if first.WhichOneof("request") != "image_transfer":
        raise errors.InvalidArgument(
            f"the first DeployRequest must be image_transfer, got {first.WhichOneof('request') or 'an unknown field'}"
        )
    return first.image_transfer


async def deploy(
    managers: Managers, chunk_size: int, transfer: pb.ImageTransfer, requests: AsyncIterator[pb.DeployRequest]
) -> AsyncGenerator[pb.DeployResponse, None]:
    if transfer.is_plugin:
        name = names.object_name(transfer.name, "plugin")
        tag = transfer.tag
    else:
        name = names.image_name(transfer.name)
        tag = names.image_tag(transfer.tag)

    if not transfer.is_plugin:
        await managers.images.check_engine(name, tag)

    if transfer.HasField("remote_download"):
        if transfer.is_plugin:
            raise errors.Unimplemented("plugins are deployed by streaming their tarball, not by remote_download")
        source = remote_source(transfer.remote_download)
        async with aclosing(managers.images.fetch(name, tag, source)) as progress:
            async for received in progress:
                yield pb.DeployResponse(image_transfer_progress=pb.ImageTransferProgress(bytes_received=received))
        yield _success(name, tag, transfer.image_size)
        return

    if transfer.image_size == 0:
        raise errors.InvalidArgument("image_size is 0: set it to the tarball's size in bytes")
    receiver: Receiver = (
        managers.plugins.receive(name, transfer.image_size)
        if transfer.is_plugin
        else await managers.images.receive(name, tag, transfer.image_size)
    )
    async with receiver as upload:
        yield pb.DeployResponse(image_transfer_ready=pb.ImageTransferReady(chunk_size=chunk_size))
        async for request in requests:
            kind = request.WhichOneof("request")
            if kind == "content":
                # Acknowledge before passing the chunk on: the client sends the next chunk
                # while this one goes to the engine. A failure shows on the next message.
                content = request.content
                received = upload.admit(len(content))
                yield pb.DeployResponse(image_transfer_progress=pb.ImageTransferProgress(bytes_received=received))
                await upload.write(content)
            elif kind == "image_transfer_end":
                break
            elif kind == "image_transfer":
                raise errors.InvalidArgument("a second image_transfer arrived during the transfer; send content")
            else:
                raise errors.InvalidArgument("a DeployRequest carried no known field (content, image_transfer_end)")
        else:
            raise errors.Unknown(
                f"the Deploy stream ended after {upload.received_bytes} of {upload.expected_bytes} bytes "
                "without ImageTransferEnd; the upload was discarded"
            )
        await upload.finish()
    yield _success(name, tag, transfer.image_size)


class Receiver(Protocol):
    """Where streamed content goes: an image load into the engine, or a plugin tarball on disk."""

    expected_bytes: int
    received_bytes: int

    async def __aenter__(self) -> Receiver: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    def admit(self, size: int) -> int:
        """Count ``size`` more bytes, refusing more than announced; return the total so far."""
        ...

    async def write(self, chunk: bytes) -> None: ...
    async def finish(self) -> object: ...


def _success(name: str, tag: str, size: int) -> pb.DeployResponse:
    return pb.DeployResponse(image_transfer_success=pb.ImageTransferSuccess(name=name, tag=tag, image_size=size))
