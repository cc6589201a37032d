"""Replication of the journal from the active control processor to the standby.

The model is DRBD protocol C, or a Raft follower that fsyncs before it answers: the active
acknowledges a client only once the standby has the record on disk too. The standby goes
through the states a Cisco SSO standby does: it joins, receives a bulk sync (the active's whole
desired state, which replaces whatever history the standby had), is then in sync (and only then
switchover-ready), and from there receives each record as it is written. A standby that cannot
be reached, or that answers out of turn, drops back to joining and is bulk-synced again; the
active carries on meanwhile in a degraded mode it reports (switchover-ready false).

Every message carries the sender's epoch. A standby refuses one older than the newest epoch it
has seen: a deposed active that comes back cannot write through it.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

import structlog

from state.desired import DesiredState
from state.epoch import EpochStore, StaleEpoch
from state.journal import JournalStore
from state.records import Record
from state.snapshot import Snapshot, SnapshotStore
from state.store import restore

log = structlog.get_logger(__name__)


class Verdict(enum.Enum):
    OK = "ok"
    STALE_EPOCH = "stale_epoch"  # the standby has seen a newer active: the sender is deposed
    OUT_OF_TURN = "out_of_turn"  # records do not follow the standby's last one: bulk sync needed


@dataclass(frozen=True)
class Reply:
    verdict: Verdict
    epoch: int  # the newest epoch the standby has seen
    last_seq: int  # the last record the standby has on disk


class Transport(Protocol):
    """How the active reaches the standby. A call that cannot reach it raises ConnectionError."""

    async def append(self, epoch: int, records: Sequence[Record]) -> Reply: ...

    async def install(self, epoch: int, snapshot: Snapshot) -> Reply: ...


class Fenced(Exception):
    """This control processor is no longer the active one: a newer epoch exists."""


# ---------------------------------------------------------------------- standby side


class Follower:
    """The standby's end: keeps its own journal, snapshot and epoch in step with the active's."""

    def __init__(
        self,
        journal: JournalStore,
        snapshots: SnapshotStore,
        epochs: EpochStore,
        on_applied: Callable[[DesiredState], None] | None = None,
        snapshot_every: int = 1000,
    ) -> None:
        self._journal = journal
        self._snapshots = snapshots
        self._epochs = epochs
        self._on_applied = on_applied or (lambda desired: None)
        self._snapshot_every = snapshot_every
        self._since_snapshot = 0
        self.desired = restore(journal, snapshots)

    def _admit(self, epoch: int) -> Reply | None:
        current = self._epochs.current()
        if epoch < current:
            return Reply(Verdict.STALE_EPOCH, current, self.desired.seq)
        self._epochs.advance(epoch)
        return None

    def append(self, epoch: int, records: Sequence[Record]) -> Reply:
        """Persist ``records`` (fsync) and fold them in; blocking, like the journal."""
        refused = self._admit(epoch)
        if refused is not None:
            return refused
        fresh = [r for r in records if r.seq > self.desired.seq]
        if fresh and fresh[0].seq != self.desired.seq + 1:
            return Reply(Verdict.OUT_OF_TURN, epoch, self.desired.seq)
        self._journal.append(fresh)
        for record in fresh:
            self.desired.apply(record)
        self._since_snapshot += len(fresh)
        if self._since_snapshot >= self._snapshot_every:  # as the active does: bound the journal
            self._snapshots.save(Snapshot(self.desired.epoch, self.desired.seq, self.desired.to_json()))
            self._journal.compact(self.desired.seq)
            self._since_snapshot = 0
        self._on_applied(self.desired)
        return Reply(Verdict.OK, epoch, self.desired.seq)

    def install(self, epoch: int, snapshot: Snapshot) -> Reply:
        """Replace everything with the active's state. The journal is emptied first: a crash in
        between leaves an older but consistent state, and the active syncs again."""
        refused = self._admit(epoch)
        if refused is not None:
            return refused
        self._journal.reset(snapshot.seq)
        self._snapshots.save(snapshot)
        self.desired = DesiredState.from_json(snapshot.state, snapshot.epoch, snapshot.seq)
        self._on_applied(self.desired)
        log.info("standby.bulk_synced", seq=snapshot.seq, epoch=epoch)
        return Reply(Verdict.OK, epoch, self.desired.seq)


# ---------------------------------------------------------------------- active side


class LinkState(enum.Enum):
    JOINING = "joining"  # not reached yet, or dropped out: needs a bulk sync
    SYNCING = "syncing"  # bulk sync under way
    IN_SYNC = "in_sync"  # every record goes to the standby before the client is answered


class Freezer(Protocol):
    """What the link needs from the state store for a bulk sync: its state, with writes held."""

    def frozen(self) -> AbstractAsyncContextManager[Snapshot]: ...


class StandbyLink:
    """The active's end: a :class:`state.store.Replicator` that keeps the standby in sync."""

    def __init__(
        self,
        transport: Transport,
        epoch: Callable[[], int],
        timeout_seconds: float = 2.0,
        outdate: Callable[[bool], None] | None = None,
    ) -> None:
        self._transport = transport
        self._epoch = epoch
        self._timeout = timeout_seconds
        # Called with True before the first write is acknowledged without the standby, and with
        # False once it is in sync again: the standby must not take over while it is outdated
        # (DRBD's resource fencing), or acknowledged writes would be lost.
        self._outdate = outdate or (lambda outdated: None)
        self.state = LinkState.JOINING
        self.changed = asyncio.Event()

    @property
    def in_sync(self) -> bool:
        return self.state is LinkState.IN_SYNC

    def _set(self, state: LinkState, reason: str = "") -> None:
        if state is LinkState.JOINING and self.state is LinkState.IN_SYNC:
            self._outdate(True)  # before any write is acknowledged without it
        elif state is LinkState.IN_SYNC:
            self._outdate(False)
        if state is not self.state:
            log.info("standby.link", state=state.value, was=self.state.value, reason=reason or None)
            self.state = state
            self.changed.set()

    def drop(self, reason: str) -> None:
        """The standby is known to be gone or behind: stop waiting for it, and bulk-sync it later."""
        self._set(LinkState.JOINING, reason)

    async def replicate(self, records: Sequence[Record]) -> None:
        """Called with the store's write lock held, after the local fsync."""
        if not self.in_sync:
            return  # degraded: the standby is bulk-synced again when it is back
        try:
            reply = await asyncio.wait_for(self._transport.append(self._epoch(), records), self._timeout)
        except (ConnectionError, TimeoutError) as exc:
            self._set(LinkState.JOINING, f"standby unreachable: {exc}")
            return
        self._judge(reply)

    def _judge(self, reply: Reply) -> None:
        if reply.verdict is Verdict.STALE_EPOCH:
            self._set(LinkState.JOINING, "deposed")
            raise Fenced(f"the standby has seen epoch {reply.epoch}, newer than ours ({self._epoch()})")
        if reply.verdict is Verdict.OUT_OF_TURN:
            self._set(LinkState.JOINING, f"standby is at record {reply.last_seq}")

    async def sync(self, store: Freezer) -> bool:
        """Bring a joining standby in sync; return whether it is in sync now."""
        if self.in_sync:
            return True
        self._set(LinkState.SYNCING)
        async with store.frozen() as snapshot:
            try:
                reply = await asyncio.wait_for(self._transport.install(self._epoch(), snapshot), self._timeout * 5)
            except (ConnectionError, TimeoutError) as exc:
                self._set(LinkState.JOINING, f"standby unreachable: {exc}")
                return False
            self._judge(reply)
            if reply.verdict is Verdict.OK:
                self._set(LinkState.IN_SYNC)
        return self.in_sync

    async def keep_in_sync(self, store: Freezer, retry_seconds: float = 1.0) -> None:
        """Run for as long as this control processor is active."""
        while True:
            await self.sync(store)
            self.changed.clear()
            if self.in_sync:
                await self.changed.wait()
            else:
                await asyncio.sleep(retry_seconds)


__all__ = ["Fenced", "Follower", "LinkState", "Reply", "StaleEpoch", "StandbyLink", "Transport", "Verdict"]
