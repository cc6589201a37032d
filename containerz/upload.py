"""Receive a plugin tarball to disk, chunk by chunk, never all in memory.

An :class:`Upload` is a temp file under the uploads directory until :meth:`Upload.finish`
hands it, fsynced and with its SHA-256, to ``keep``, which moves it to where it is kept. It is
deleted when the ``async with`` block ends otherwise, so a cancelled or failed Deploy leaves
nothing behind. (Images do not come through here: they stream straight into the engine, see
:mod:`containerz.imageload`.)
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType

import aiofiles
from aiofiles.threadpool.binary import AsyncBufferedIOBase

from containerz import errors
from containerz.fsutil import finish_despite_cancellation, free_bytes

PARTIAL_SUFFIX = ".part"


def check_announced_size(label: str, total: int, announced: int) -> int:
    """``total`` bytes received so far, if that is not more than ``announced``."""
    if total > announced:
        raise errors.InvalidArgument(
            f"{label}: too much data received: {total} bytes, but image_size announced "
            f"{announced}; set image_size to the tarball's exact size"
        )
    return total


class Upload:
    def __init__(
        self, directory: Path, expected_bytes: int, label: str, keep: Callable[[Path, str], Awaitable[None]]
    ) -> None:
        self.path = directory / f"{secrets.token_hex(8)}{PARTIAL_SUFFIX}"
        self._keep = keep
        self._digest = hashlib.sha256()
        self.expected_bytes = expected_bytes
        self.received_bytes = 0
        self._label = label
        self._file: AsyncBufferedIOBase | None = None

    async def __aenter__(self) -> Upload:
        needed = self.expected_bytes
        available = await asyncio.to_thread(free_bytes, self.path.parent)
        if needed > available:
            raise errors.ResourceExhausted(
                f"{self._label}: image_size is {needed} bytes but only {available} bytes are free "
                f"in {self.path.parent}; free some space (RemoveImage, RemovePluginTar) and retry"
            )
        self._file = await aiofiles.open(self.path, "wb")
        return self

    def admit(self, size: int) -> int:
        self.received_bytes = check_announced_size(self._label, self.received_bytes + size, self.expected_bytes)
        return self.received_bytes

    async def write(self, chunk: bytes) -> None:
        """Write ``chunk``, already admitted."""
        if self._file is None:
            raise RuntimeError("Upload.write outside 'async with'")
        self._digest.update(chunk)
        await self._file.write(chunk)

    async def finish(self) -> None:
        """Check the size, make the file durable, then let ``keep`` move it into place."""
        if self._file is None:
            raise RuntimeError("Upload.finish outside 'async with'")
        if self.received_bytes != self.expected_bytes:
            raise errors.InvalidArgument(
                f"{self._label}: ImageTransferEnd after {self.received_bytes} bytes, but image_size "
                f"announced {self.expected_bytes}; the upload was discarded"
            )
        await self._file.flush()
        await asyncio.to_thread(os.fsync, self._file.fileno())
        await self._file.close()
        self._file = None
        await self._keep(self.path, self._digest.hexdigest())

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await finish_despite_cancellation(self._discard())

    async def _discard(self) -> None:
        if self._file is not None:
            await self._file.close()
            self._file = None
        await asyncio.to_thread(self.path.unlink, missing_ok=True)


def remove_stale_uploads(directory: Path) -> int:
    """Delete partial uploads left by a crash; return how many there were."""
    stale = list(directory.glob(f"*{PARTIAL_SUFFIX}*"))
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)
