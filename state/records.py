"""What the journal holds: records stamped (epoch, seq), each an intent or the outcome of one.

Every change to desired state is two records. ``intent`` names the change before anything is
done on the engine; ``done`` says whether it took effect. Desired state includes a change only
once its ``done`` says ok, so an operation cut off by a crash or a switchover leaves an open
intent, which tells the reconciler exactly which object may be half-made and must be rolled back.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class JournalError(Exception):
    """The journal cannot be used as it is; the message says which file and where."""


class Kind(enum.StrEnum):
    IMAGE = "image"
    VOLUME = "volume"
    CONTAINER = "container"
    PLUGIN = "plugin"
    PLUGIN_TARBALL = "plugin_tarball"


class Action(enum.StrEnum):
    PUT = "put"
    REMOVE = "remove"


@dataclass(frozen=True)
class Change:
    """Put ``value`` at (kind, key), or remove (kind, key)."""

    kind: Kind
    action: Action
    key: str
    value: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "action": self.action.value, "key": self.key, "value": dict(self.value)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Change:
        return cls(Kind(raw["kind"]), Action(raw["action"]), str(raw["key"]), dict(raw.get("value") or {}))


@dataclass(frozen=True)
class Intent:
    """Change ``change`` is about to be made; ``op`` pairs it with its outcome."""

    op: int
    change: Change


@dataclass(frozen=True)
class Done:
    """The change of intent ``op`` took effect (``ok``) or was abandoned and undone.

    ``facts`` are what only making the change could tell (the ID the engine gave a loaded
    image, the checksum of a received file); with ``ok`` they join the intent's value."""

    op: int
    ok: bool
    facts: Mapping[str, Any] = field(default_factory=dict)


Entry = Intent | Done


@dataclass(frozen=True)
class Record:
    """One journal entry. ``epoch`` fences writers: no record may carry an epoch older than the
    newest one already accepted. ``seq`` numbers records without gaps across epochs."""

    epoch: int
    seq: int
    entry: Entry

    def encode(self) -> bytes:
        if isinstance(self.entry, Intent):
            body: dict[str, Any] = {"intent": self.entry.op, "change": self.entry.change.to_json()}
        else:
            body = {"done": self.entry.op, "ok": self.entry.ok}
            if self.entry.facts:
                body["facts"] = dict(self.entry.facts)
        return json.dumps(
            {"epoch": self.epoch, "seq": self.seq, **body}, sort_keys=True, separators=(",", ":")
        ).encode()

    @classmethod
    def decode(cls, payload: bytes) -> Record:
        raw = json.loads(payload)
        entry: Entry
        if "intent" in raw:
            entry = Intent(int(raw["intent"]), Change.from_json(raw["change"]))
        else:
            entry = Done(int(raw["done"]), bool(raw["ok"]), dict(raw.get("facts") or {}))
        return cls(int(raw["epoch"]), int(raw["seq"]), entry)
