"""Who is active: decided as a chassis arbitrates mastership in hardware, never by a heartbeat.

Both control processors contend for one exclusive lock that both can see (an OS file lock
stands in for the backplane arbiter). Whoever holds it is active, and stays so until it lets
go or dies, when the kernel releases the lock for it. Cutting the replication link therefore
never makes two actives. The lock file also carries the epoch: each new holder increments it
and persists it before it serves, so every write can be stamped and stale ones refused.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from pathlib import Path
from typing import IO, Protocol

from state.files import write_atomically
from state.records import JournalError

_POLL_SECONDS = 0.05


class Arbiter(Protocol):
    async def acquire(self, name: str) -> int:
        """Wait until this control processor holds mastership; return its new epoch."""
        ...

    def release(self, handed_over: bool = True) -> None:
        """Give mastership up; with ``handed_over`` (a planned switchover) the next holder sees
        it was handed over rather than lost."""
        ...

    @property
    def handed_over(self) -> bool:
        """Whether the previous holder released mastership (rather than died holding it)."""
        ...

    def holder(self) -> tuple[str, int] | None:
        """Who holds mastership now, and in which epoch, as last recorded."""
        ...


class FileArbiter:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._held: IO[str] | None = None
        self._name = ""
        self._epoch = 0
        self.handed_over = False

    async def acquire(self, name: str) -> int:
        handle = await asyncio.to_thread(self._path.open, "a+")
        try:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    await asyncio.sleep(_POLL_SECONDS)
            epoch = await asyncio.to_thread(self._claim, handle, name)
        except BaseException:
            handle.close()
            raise
        self._held = handle
        return epoch

    def _claim(self, handle: IO[str], name: str) -> int:
        handle.seek(0)
        _, epoch, self.handed_over = _parse(handle.read(), self._path)
        self._name, self._epoch = name, epoch + 1
        self._write(handle, f"{name} {self._epoch}\n")
        return self._epoch

    @staticmethod
    def _write(handle: IO[str], line: str) -> None:
        handle.seek(0)
        handle.truncate()
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())

    def release(self, handed_over: bool = True) -> None:
        if self._held is not None:
            if handed_over:
                self._write(self._held, f"{self._name} {self._epoch} released\n")
            fcntl.flock(self._held, fcntl.LOCK_UN)
            self._held.close()
            self._held = None

    def holder(self) -> tuple[str, int] | None:
        if not self._path.exists():
            return None
        name, epoch, _ = _parse(self._path.read_text(), self._path)
        return (name, epoch) if name else None


def _parse(text: str, path: Path) -> tuple[str, int, bool]:
    """``<holder> <epoch> [released]``: who holds (or last held) mastership, in which epoch,
    and whether it let go."""
    if not text.strip():
        return "", 0, False
    parts = text.split()
    if len(parts) not in (2, 3) or not parts[1].isdigit() or parts[2:] not in ([], ["released"]):
        raise JournalError(f"{path}: {text.strip()!r} is not '<holder> <epoch> [released]'")
    return parts[0], int(parts[1]), len(parts) == 3


class MemoryArbiter:
    """One arbiter shared by in-process control processors, for tests."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._holder: tuple[str, int] | None = None
        self._epoch = 0
        self.handed_over = False

    async def acquire(self, name: str) -> int:
        await self._lock.acquire()
        self._epoch += 1
        self._holder = (name, self._epoch)
        return self._epoch

    def release(self, handed_over: bool = True) -> None:
        if self._lock.locked():
            self.handed_over = handed_over
            self._lock.release()

    def holder(self) -> tuple[str, int] | None:
        return self._holder


class OutdatedMark:
    """The shared note that a control processor's copy of the journal is behind: set by the
    active before it acknowledges a write its standby does not have, cleared once the standby
    is in sync again. A control processor that is marked does not take mastership."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def set(self, name: str, outdated: bool) -> None:
        marked = self._path.read_text().split() if self._path.exists() else []
        wanted = sorted({*marked, name} if outdated else set(marked) - {name})
        if wanted != sorted(marked):
            write_atomically(self._path, (" ".join(wanted) + "\n").encode())

    def outdated(self, name: str) -> bool:
        try:
            return name in self._path.read_text().split()
        except FileNotFoundError:
            return False
