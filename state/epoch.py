"""The epoch store: the newest epoch this control processor has seen, kept durably.

As hashicorp/raft's ``StableStore`` keeps the current term: a control processor that becomes
active bumps the epoch and persists it *before* serving, and refuses anything stamped older.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from state.files import write_atomically
from state.records import JournalError

_FILE = "epoch"


class EpochStore(Protocol):
    def current(self) -> int: ...

    def advance(self, epoch: int) -> None:
        """Persist ``epoch``, which must not be older than the current one."""
        ...


class MemoryEpochStore:
    def __init__(self, epoch: int = 0) -> None:
        self.epoch = epoch

    def current(self) -> int:
        return self.epoch

    def advance(self, epoch: int) -> None:
        _check_not_older(epoch, self.epoch)
        self.epoch = epoch


class FileEpochStore:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._path = directory / _FILE
        self._epoch = self._read()

    def _read(self) -> int:
        if not self._path.exists():
            return 0
        text = self._path.read_text().strip()
        if not text.isdigit():
            raise JournalError(f"{self._path}: {text!r} is not an epoch number")
        return int(text)

    def current(self) -> int:
        return self._epoch

    def advance(self, epoch: int) -> None:
        _check_not_older(epoch, self._epoch)
        if epoch != self._epoch:
            write_atomically(self._path, f"{epoch}\n".encode())
            self._epoch = epoch


class StaleEpoch(Exception):
    """A write or a claim carries an epoch older than one already seen: its sender is fenced."""


def _check_not_older(epoch: int, current: int) -> None:
    if epoch < current:
        raise StaleEpoch(f"epoch {epoch} is older than the current epoch {current}")
