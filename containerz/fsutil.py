"""Durable file operations: fsync, atomic replace, free space, cleanup that survives cancellation."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncGenerator, Coroutine
from pathlib import Path
from typing import Any

import aiofiles

from state.files import fsync_directory

__all__ = ["atomic_replace", "discard", "finish_despite_cancellation", "free_bytes", "fsync_directory"]


def atomic_replace(source: Path, target: Path) -> None:
    """Move a fully written, fsynced file into place so readers see all of it or none of it."""
    os.replace(source, target)
    fsync_directory(target.parent)


def free_bytes(directory: Path) -> int:
    return shutil.disk_usage(directory).free


_CLEANUPS: set[asyncio.Task[object]] = set()


async def finish_despite_cancellation(cleanup: Coroutine[Any, Any, object]) -> None:
    """Run ``cleanup`` to completion even if the caller is cancelled while waiting for it.

    gRPC cancels a handler's task when the client goes away, often while the handler is
    already unwinding; an ``await`` in a ``finally`` block would then be cut short and
    leave a partial file behind. The cleanup runs as its own task, shielded.
    """
    task = asyncio.ensure_future(cleanup)
    _CLEANUPS.add(task)
    task.add_done_callback(_CLEANUPS.discard)
    await asyncio.shield(task)


async def discard(path: Path) -> None:
    """Delete ``path`` if it exists, surviving cancellation (see finish_despite_cancellation)."""
    await finish_despite_cancellation(asyncio.to_thread(path.unlink, missing_ok=True))


async def read_chunks(path: Path, chunk_bytes: int) -> AsyncGenerator[bytes, None]:
    """The file's bytes, ``chunk_bytes`` at a time, read off the event loop."""
    async with aiofiles.open(path, "rb") as source:
        while chunk := await source.read(chunk_bytes):
            yield chunk
