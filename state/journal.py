"""The journal store: records appended durably, read back in order, compacted behind a snapshot.

Like hashicorp/raft's ``LogStore``, it is a narrow, synchronous interface (callers run it in a
thread) with a file implementation and an in-memory one for tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Protocol

import structlog

from state.files import fsync_directory
from state.framing import frame, scan
from state.records import JournalError, Record

log = structlog.get_logger(__name__)

_SEGMENT_PREFIX = "journal-"
_SEGMENT_SUFFIX = ".log"


class JournalStore(Protocol):
    def append(self, records: Sequence[Record]) -> None:
        """Add ``records`` at the end; they are on stable storage when this returns."""
        ...

    def records(self) -> Iterator[Record]:
        """Every record kept (all of them since the last compaction), oldest first."""
        ...

    def compact(self, through_seq: int) -> None:
        """Records up to ``through_seq`` are in a durable snapshot: they may be dropped."""
        ...

    def reset(self, after_seq: int) -> None:
        """Drop every record, whatever its seq: the next one appended is ``after_seq + 1``.
        A standby does this before installing the active's snapshot, discarding any history
        of its own that the active does not share."""
        ...

    def close(self) -> None: ...


class MemoryJournal:
    """A :class:`JournalStore` in a list, for tests."""

    def __init__(self) -> None:
        self.kept: list[Record] = []

    def append(self, records: Sequence[Record]) -> None:
        self.kept.extend(records)

    def records(self) -> Iterator[Record]:
        return iter(list(self.kept))

    def compact(self, through_seq: int) -> None:
        self.kept = [r for r in self.kept if r.seq > through_seq]

    def reset(self, after_seq: int) -> None:
        self.kept = []

    def close(self) -> None:
        pass


class FileJournal:
    """A :class:`JournalStore` in segment files ``journal-<first seq>.log`` under ``directory``.

    Opening it repairs a torn tail (see :mod:`state.framing`) and refuses a corrupt middle.
    Compaction starts a new segment and deletes the ones the snapshot covers.
    """

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._segments = sorted(directory.glob(f"{_SEGMENT_PREFIX}*{_SEGMENT_SUFFIX}"), key=_first_seq)
        self._last_seq = 0
        self._check_and_repair()
        self._file = self._open_segment(self._segments[-1] if self._segments else self._segment_path(1))

    def _segment_path(self, first_seq: int) -> Path:
        return self._directory / f"{_SEGMENT_PREFIX}{first_seq:016d}{_SEGMENT_SUFFIX}"

    def _open_segment(self, path: Path) -> IO[bytes]:
        created = not path.exists()
        handle = path.open("ab")
        if created:
            fsync_directory(self._directory)
        if path not in self._segments:
            self._segments.append(path)
        return handle

    def _check_and_repair(self) -> None:
        for index, path in enumerate(self._segments):
            data = path.read_bytes()
            found = scan(data, path)
            if found.torn_bytes:
                if index != len(self._segments) - 1:
                    raise JournalError(
                        f"{path}: {found.torn_bytes} damaged bytes at offset {found.good_bytes}, "
                        "and newer segments follow; the journal is corrupt"
                    )
                log.warning(
                    "journal.torn_tail_repaired", file=str(path), offset=found.good_bytes, bytes=found.torn_bytes
                )
                with path.open("r+b") as handle:
                    handle.truncate(found.good_bytes)
                    handle.flush()
                    os.fsync(handle.fileno())
            for payload in found.payloads:
                self._last_seq = Record.decode(payload).seq

    def append(self, records: Sequence[Record]) -> None:
        if not records:
            return
        self._file.write(b"".join(frame(record.encode()) for record in records))
        self._file.flush()
        os.fsync(self._file.fileno())
        self._last_seq = records[-1].seq

    def records(self) -> Iterator[Record]:
        for path in list(self._segments):
            for payload in scan(path.read_bytes(), path).payloads:
                yield Record.decode(payload)

    def compact(self, through_seq: int) -> None:
        """Start a new segment after ``through_seq`` and delete the segments before it."""
        if through_seq < self._last_seq:
            raise ValueError(f"compact through {through_seq}: records up to {self._last_seq} would be lost")
        self.reset(through_seq)

    def reset(self, after_seq: int) -> None:
        self._file.close()
        for path in self._segments:
            path.unlink()
        self._segments = []
        fresh = self._segment_path(after_seq + 1)
        fresh.unlink(missing_ok=True)
        self._file = self._open_segment(fresh)
        self._last_seq = after_seq

    def close(self) -> None:
        self._file.close()


def _first_seq(path: Path) -> int:
    digits = path.name.removeprefix(_SEGMENT_PREFIX).removesuffix(_SEGMENT_SUFFIX)
    if not digits.isdigit():
        raise JournalError(f"{path}: not a journal segment name ({_SEGMENT_PREFIX}<seq>{_SEGMENT_SUFFIX})")
    return int(digits)
