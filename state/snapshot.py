"""The snapshot store: the whole desired state as of one record, written atomically.

A snapshot lets the journal drop the records it covers (compaction) and bounds replay time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from state.files import write_atomically
from state.records import JournalError

_FILE = "snapshot.json"


@dataclass(frozen=True)
class Snapshot:
    epoch: int
    seq: int
    state: dict[str, Any]


class SnapshotStore(Protocol):
    def save(self, snapshot: Snapshot) -> None:
        """Replace the snapshot, atomically and durably."""
        ...

    def load(self) -> Snapshot | None: ...


class MemorySnapshotStore:
    def __init__(self) -> None:
        self.saved: Snapshot | None = None

    def save(self, snapshot: Snapshot) -> None:
        self.saved = snapshot

    def load(self) -> Snapshot | None:
        return self.saved


class FileSnapshotStore:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._path = directory / _FILE

    def save(self, snapshot: Snapshot) -> None:
        document = {"epoch": snapshot.epoch, "seq": snapshot.seq, "state": snapshot.state}
        write_atomically(self._path, json.dumps(document, sort_keys=True).encode())

    def load(self) -> Snapshot | None:
        if not self._path.exists():
            return None
        try:
            document = json.loads(self._path.read_bytes())
            return Snapshot(int(document["epoch"]), int(document["seq"]), dict(document["state"]))
        except (ValueError, KeyError, TypeError) as exc:
            # Written atomically, so a damaged snapshot is not a crash's doing.
            raise JournalError(f"{self._path}: unreadable snapshot ({exc}); restore it from the standby") from exc
