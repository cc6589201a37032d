"""Desired state: what the journal says should exist, folded from its records.

Docker holds the observed state; the reconciler makes the engine match this.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from state.records import Action, Change, Done, Intent, JournalError, Kind, Record


@dataclass
class DesiredState:
    objects: dict[Kind, dict[str, dict[str, Any]]] = field(default_factory=lambda: {kind: {} for kind in Kind})
    # Intents without their outcome yet: in flight now, or cut off by a crash or switchover.
    open_intents: dict[int, Change] = field(default_factory=dict)
    epoch: int = 0
    seq: int = 0

    def of(self, kind: Kind) -> Mapping[str, Mapping[str, Any]]:
        return self.objects[kind]

    def apply(self, record: Record) -> bool:
        """Fold ``record`` in; return False for one already applied (replay is idempotent)."""
        if record.seq <= self.seq:
            return False
        if record.seq != self.seq + 1:
            raise JournalError(f"record {record.seq} follows record {self.seq}: records are missing")
        if record.epoch < self.epoch:
            raise JournalError(f"record {record.seq} carries epoch {record.epoch}, older than {self.epoch}")
        entry = record.entry
        if isinstance(entry, Intent):
            self.open_intents[entry.op] = entry.change
        elif isinstance(entry, Done):
            change = self.open_intents.pop(entry.op, None)
            if change is not None and entry.ok:
                self._make(change, entry.facts)
        self.epoch, self.seq = record.epoch, record.seq
        return True

    def _make(self, change: Change, facts: Mapping[str, Any]) -> None:
        objects = self.objects[change.kind]
        if change.action is Action.PUT:
            objects[change.key] = {**change.value, **facts}
        else:
            objects.pop(change.key, None)

    def to_json(self) -> dict[str, Any]:
        return {
            "objects": {kind.value: objects for kind, objects in self.objects.items()},
            "open_intents": {str(op): change.to_json() for op, change in self.open_intents.items()},
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], epoch: int, seq: int) -> DesiredState:
        state = cls(epoch=epoch, seq=seq)
        for kind in Kind:
            state.objects[kind] = {
                key: dict(value) for key, value in raw.get("objects", {}).get(kind.value, {}).items()
            }
        state.open_intents = {int(op): Change.from_json(change) for op, change in raw.get("open_intents", {}).items()}
        return state
