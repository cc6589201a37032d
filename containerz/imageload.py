"""Load an image into the engine while its tarball is still arriving.

Deploy used to write the whole upload to disk and load it afterwards, so the two took turns.
An :class:`ImageLoad` starts the engine's image load when the transfer starts and feeds it
each chunk as it is received, through :class:`~containerz.imagetar.LoadableImageStream`,
which pins the tag and appends the manifest only when the upload is complete. A transfer
that fails or is cancelled aborts the engine's request mid-body, so nothing is loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Generic, TypeVar

from containerz import errors
from containerz.fsutil import finish_despite_cancellation, free_bytes
from containerz.imagetar import LoadableImageStream
from containerz.upload import check_announced_size

# Chunks queued for the engine beyond the one it is reading: enough to keep it busy while
# the next chunk arrives, few enough that memory stays at a few chunk sizes.
_QUEUE_DEPTH = 2

T = TypeVar("T")


class LoadAborted(Exception):
    """Raised into the engine's request body so that the request fails instead of completing."""


class ImageLoad(Generic[T]):
    """One image upload streaming into ``load``: an engine image load that reads an async
    iterator of bytes and returns what :meth:`finish` returns."""

    def __init__(
        self,
        repo_tag: str,
        expected_bytes: int,
        load: Callable[[AsyncIterator[bytes]], Awaitable[T]],
        free_space_in: Path,
    ) -> None:
        self.expected_bytes = expected_bytes
        self.received_bytes = 0
        self._label = f"Deploy {repo_tag}"
        self._stream = LoadableImageStream(repo_tag)
        self._load = load
        self._free_space_in = free_space_in
        self._queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(_QUEUE_DEPTH)
        self._loading: asyncio.Task[T] | None = None

    async def __aenter__(self) -> ImageLoad[T]:
        available = await asyncio.to_thread(free_bytes, self._free_space_in)
        if self.expected_bytes > available:
            raise errors.ResourceExhausted(
                f"{self._label}: image_size is {self.expected_bytes} bytes but only {available} bytes are free "
                f"in {self._free_space_in}, where the engine stores images; free some space (RemoveImage) and retry"
            )
        self._loading = asyncio.ensure_future(self._load(self._chunks()))
        return self

    def admit(self, size: int) -> int:
        self.received_bytes = check_announced_size(self._label, self.received_bytes + size, self.expected_bytes)
        return self.received_bytes

    async def write(self, chunk: bytes) -> None:
        """Pass ``chunk``, already admitted, on to the engine."""
        for piece in self._stream.feed(chunk):
            await self._send(piece)

    async def finish(self) -> T:
        """Complete the archive and wait for the engine to load it."""
        if self.received_bytes != self.expected_bytes:
            raise errors.InvalidArgument(
                f"{self._label}: ImageTransferEnd after {self.received_bytes} bytes, but image_size "
                f"announced {self.expected_bytes}; the upload was discarded"
            )
        for piece in self._stream.finish():
            await self._send(piece)
        await self._send(None)
        assert self._loading is not None
        return await self._loading

    async def _send(self, piece: bytes | None) -> None:
        assert self._loading is not None
        put = asyncio.ensure_future(self._queue.put(piece))
        # If the engine gives up (rejects the tarball, goes away), it stops reading: fail now,
        # rather than wait forever for room in the queue.
        await asyncio.wait((put, self._loading), return_when=asyncio.FIRST_COMPLETED)
        if not put.done():
            put.cancel()
            await self._loading  # raises the engine's error
            raise errors.Internal(f"{self._label}: the engine finished loading before the upload was complete")

    async def _chunks(self) -> AsyncIterator[bytes]:
        while True:
            piece = await self._queue.get()
            if piece is None:
                return
            if isinstance(piece, BaseException):
                raise piece
            yield piece

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            await finish_despite_cancellation(self._abort(exc))

    async def _abort(self, reason: BaseException) -> None:
        if self._loading is None:
            return
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(LoadAborted(f"{self._label}: the upload failed: {reason}"))
        with contextlib.suppress(Exception):
            await self._loading
