"""Copy a volume's contents between the two control processors' engines (on a planned
switchover, and every so often while both run).

Only plain local volumes are copied: their data lives in the engine's own storage. A volume
that binds a host path already is that host path. The archive is written to a temp file and
streamed; the receiving side replaces the volume's contents with it, refusing anything that
would land outside the volume (tarfile's ``data`` filter).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiofiles

from containerz.fsutil import discard

CHUNK_BYTES = 1 << 20


def pack(mountpoint: Path, archive: Path) -> None:
    with tarfile.open(archive, "w") as tar:
        for entry in sorted(mountpoint.iterdir()):
            tar.add(entry, arcname=entry.name)


def signature(mountpoint: Path) -> str:
    """A digest of every entry's path, type, size and modification time: it changes when the
    contents do, and costs a directory walk, not a read of the data."""
    digest = hashlib.sha256()
    for directory, subdirectories, files in os.walk(mountpoint):
        subdirectories.sort()
        for name in sorted(files + subdirectories):
            path = os.path.join(directory, name)
            info = os.lstat(path)
            digest.update(
                f"{os.path.relpath(path, mountpoint)}\0{info.st_mode}\0{info.st_size}\0{info.st_mtime_ns}\n".encode()
            )
    return digest.hexdigest()


def unpack(archive: Path, mountpoint: Path) -> None:
    for entry in mountpoint.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    with tarfile.open(archive, "r:") as tar:
        tar.extractall(mountpoint, filter="data")


async def write_chunks(chunks: AsyncIterator[bytes], path: Path) -> None:
    try:
        async with aiofiles.open(path, "wb") as target:
            async for chunk in chunks:
                await target.write(chunk)
    except BaseException:
        await discard(path)
        raise
