"""Durable small-file writes: what a crash may leave is the old content or the new, never a mix."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, content: bytes) -> None:
    """Write a temp file, fsync it, rename it over ``path``, fsync the directory. Without the
    first fsync, ext4 and XFS may persist the rename before the data: a zero-filled file."""
    temp = path.with_name(f".{path.name}.tmp")
    with temp.open("wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, path)
    fsync_directory(path.parent)
