"""The state store: desired state backed by the journal, a snapshot and the epoch.

Every change is written as an intent before the engine is touched and as an outcome after,
each record durable locally and on the standby (through the :class:`Replicator`) before the
call returns, so a client is acknowledged only for what both control processors have on disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from state.desired import DesiredState
from state.epoch import EpochStore
from state.journal import JournalStore
from state.records import Change, Done, Entry, Intent, Record
from state.snapshot import Snapshot, SnapshotStore

log = structlog.get_logger(__name__)

DEFAULT_SNAPSHOT_EVERY = 1000


class NotActive(Exception):
    """A write reached a control processor that is not (or no longer) the active one."""


class Replicator(Protocol):
    async def replicate(self, records: Sequence[Record]) -> None:
        """Return once the standby has persisted ``records`` (or is known to be out of sync)."""
        ...


def restore(journal: JournalStore, snapshots: SnapshotStore) -> DesiredState:
    """Desired state as persisted: the snapshot, then every journal record after it."""
    snapshot = snapshots.load()
    desired = (
        DesiredState.from_json(snapshot.state, snapshot.epoch, snapshot.seq) if snapshot is not None else DesiredState()
    )
    replayed = sum(desired.apply(record) for record in journal.records())
    log.info("state.restored", seq=desired.seq, epoch=desired.epoch, replayed=replayed, open=len(desired.open_intents))
    return desired


class StateWriter(Protocol):
    """What the managers write desired state through: a :class:`StateStore`, or a
    :class:`state.ledger.Ledger` that refuses writes while its control processor is standby."""

    @property
    def desired(self) -> DesiredState: ...

    async def begin(self, change: Change) -> int: ...

    async def finish(self, op: int, ok: bool, facts: Mapping[str, Any] | None = None) -> None: ...

    def change(self, change: Change) -> AbstractAsyncContextManager[Operation]: ...

    def check_writable(self) -> None:
        """Raise :class:`NotActive` now if a change would be refused (before a long upload)."""
        ...


@dataclass
class Operation:
    """A change being made: its id, and the facts the engine work learns on the way (recorded
    with the outcome, see :class:`state.records.Done`)."""

    op: int
    facts: dict[str, Any] = field(default_factory=dict)


class NoStandby:
    """A single control processor: nothing to replicate to."""

    async def replicate(self, records: Sequence[Record]) -> None:
        return None


class StateStore:
    def __init__(
        self,
        journal: JournalStore,
        snapshots: SnapshotStore,
        epochs: EpochStore,
        replicator: Replicator | None = None,
        snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
    ) -> None:
        self._journal = journal
        self._snapshots = snapshots
        self._epochs = epochs
        self._replicator = replicator or NoStandby()
        self._snapshot_every = snapshot_every
        self._lock = asyncio.Lock()
        self._retired = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.desired = self._restore()
        self._since_snapshot = 0

    def _restore(self) -> DesiredState:
        return restore(self._journal, self._snapshots)

    @property
    def epoch(self) -> int:
        return self._epochs.current()

    async def begin(self, change: Change) -> int:
        """Record the intent to make ``change``; return the operation's id for :meth:`finish`."""
        record = await self._write(lambda seq: Intent(seq, change))
        return record.seq

    async def finish(self, op: int, ok: bool, facts: Mapping[str, Any] | None = None) -> None:
        """Record the outcome of operation ``op``; with ``ok`` its change joins desired state."""
        await self._write(lambda seq: Done(op, ok, dict(facts or {})))

    @asynccontextmanager
    async def change(self, change: Change) -> AsyncIterator[Operation]:
        """Around the engine work that makes ``change``: intent before, outcome after. The
        outcome is written even when the caller is cancelled, so no intent stays open without
        a crash."""
        self._in_flight += 1
        self._idle.clear()
        try:
            operation = Operation(await self.begin(change))
            try:
                yield operation
            except BaseException:
                await self.finish(operation.op, ok=False)
                raise
            await self.finish(operation.op, ok=True, facts=operation.facts)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def drained(self, within_seconds: float) -> bool:
        """Wait until no change is in flight (their engine work done, one way or the other);
        return False if some still are after ``within_seconds``."""
        try:
            await asyncio.wait_for(self._idle.wait(), within_seconds)
        except TimeoutError:
            return False
        return True

    async def _write(self, make: _EntryMaker) -> Record:
        # Shielded: once a record is on its way to disk, a cancelled caller must not cut it off
        # between the local fsync and the standby's.
        return await asyncio.shield(asyncio.ensure_future(self._append(make)))

    def check_writable(self) -> None:
        if self._retired:
            raise NotActive("this control processor has handed over; send writes to the new active one")

    def retire(self) -> None:
        """Take no more writes: this control processor is handing over. Writers already
        queued for the lock are refused rather than written behind the new active's back."""
        self._retired = True

    async def _append(self, make: _EntryMaker) -> Record:
        async with self._lock:
            self.check_writable()
            seq = self.desired.seq + 1
            record = Record(self._epochs.current(), seq, make(seq))
            await asyncio.to_thread(self._journal.append, [record])
            await self._replicator.replicate([record])
            self.desired.apply(record)
            self._since_snapshot += 1
            if self._since_snapshot >= self._snapshot_every:
                await asyncio.to_thread(self._snapshot_now)
            return record

    @asynccontextmanager
    async def frozen(self) -> AsyncIterator[Snapshot]:
        """The whole desired state, with every write held until the block ends (a bulk sync)."""
        async with self._lock:
            yield Snapshot(self.desired.epoch, self.desired.seq, self.desired.to_json())

    def _snapshot_now(self) -> None:
        snapshot = Snapshot(self.desired.epoch, self.desired.seq, self.desired.to_json())
        self._snapshots.save(snapshot)
        self._journal.compact(snapshot.seq)
        self._since_snapshot = 0
        log.info("state.snapshot", seq=snapshot.seq)

    def close(self) -> None:
        self._journal.close()


class _EntryMaker(Protocol):
    def __call__(self, seq: int) -> Entry: ...
