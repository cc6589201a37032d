"""Durable file operations: fsync, atomic replace, free space."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_replace(source: Path, target: Path) -> None:
    """Move a fully written, fsynced file into place so readers see all of it or none of it."""
    os.replace(source, target)
    fsync_directory(target.parent)


def free_bytes(directory: Path) -> int:
    return shutil.disk_usage(directory).free
