"""One control processor's durable state, whatever its role.

While standby it is a :class:`Follower` fed by the active; once active it is a
:class:`StateStore` that writes and replicates. Both read and write the same journal, snapshot
and epoch, so promotion picks up exactly what the standby had persisted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from state.desired import DesiredState
from state.epoch import EpochStore
from state.journal import JournalStore
from state.records import Change
from state.replication import Follower
from state.snapshot import Snapshot, SnapshotStore
from state.store import NotActive, Operation, Replicator, StateStore


class NotStandby(Exception):
    """Replication reached the active control processor; only a standby follows."""


class Ledger:
    def __init__(
        self,
        journal: JournalStore,
        snapshots: SnapshotStore,
        epochs: EpochStore,
        on_applied: Callable[[DesiredState], None] | None = None,
    ) -> None:
        self._journal = journal
        self._snapshots = snapshots
        self._epochs = epochs
        self._on_applied = on_applied
        self._store: StateStore | None = None
        self._retired: StateStore | None = None
        self._follower: Follower | None = Follower(journal, snapshots, epochs, on_applied)

    @property
    def active(self) -> bool:
        return self._store is not None

    @property
    def desired(self) -> DesiredState:
        if self._store is not None:
            return self._store.desired
        assert self._follower is not None
        return self._follower.desired

    @property
    def epoch(self) -> int:
        return self._epochs.current()

    def become_active(self, epoch: int, replicator: Replicator) -> StateStore:
        """Persist ``epoch`` (the arbiter's, newer than any seen), then take writes."""
        self._epochs.advance(epoch)
        self._store = StateStore(self._journal, self._snapshots, self._epochs, replicator)
        self._follower = None
        return self._store

    def become_standby(self) -> Follower:
        if self._store is not None:
            self._store.retire()
            self._retired = self._store
        self._store = None
        self._follower = Follower(self._journal, self._snapshots, self._epochs, self._on_applied)
        return self._follower

    async def drained(self, within_seconds: float) -> bool:
        """After handing over: wait for the operations the active term left in flight to end."""
        return self._retired is None or await self._retired.drained(within_seconds)

    @property
    def store(self) -> StateStore:
        if self._store is None:
            raise NotActive("this control processor is the standby; send writes to the active one")
        return self._store

    @property
    def follower(self) -> Follower:
        if self._follower is None:
            raise NotStandby("this control processor is the active one; it does not follow")
        return self._follower

    # What the managers use: the StateStore's writing interface, refused while standby.

    async def begin(self, change: Change) -> int:
        return await self.store.begin(change)

    async def finish(self, op: int, ok: bool, facts: Mapping[str, Any] | None = None) -> None:
        await self.store.finish(op, ok, facts)

    def change(self, change: Change) -> AbstractAsyncContextManager[Operation]:
        return self.store.change(change)

    def check_writable(self) -> None:
        self.store.check_writable()

    def frozen(self) -> AbstractAsyncContextManager[Snapshot]:
        return self.store.frozen()

    def close(self) -> None:
        self._journal.close()


__all__ = ["Ledger", "NotActive", "NotStandby"]
