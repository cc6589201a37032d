"""Desired state for containerz: a journal of intents and outcomes, snapshots and epochs.

The pieces are narrow and replaceable, as in hashicorp/raft: :class:`JournalStore`,
:class:`SnapshotStore`, :class:`EpochStore` and :class:`Replicator`, each with a file (or
network) implementation and an in-memory one for tests. :class:`StateStore` puts them together.
"""

from state.arbiter import Arbiter, FileArbiter, MemoryArbiter
from state.desired import DesiredState
from state.epoch import EpochStore, FileEpochStore, MemoryEpochStore, StaleEpoch
from state.journal import FileJournal, JournalStore, MemoryJournal
from state.ledger import Ledger, NotStandby
from state.records import Action, Change, Done, Intent, JournalError, Kind, Record
from state.replication import Fenced, Follower, LinkState, Reply, StandbyLink, Transport, Verdict
from state.snapshot import FileSnapshotStore, MemorySnapshotStore, Snapshot, SnapshotStore
from state.store import NoStandby, NotActive, Operation, Replicator, StateStore, StateWriter

__all__ = [
    "Action",
    "Arbiter",
    "Change",
    "DesiredState",
    "Done",
    "EpochStore",
    "Fenced",
    "FileArbiter",
    "FileEpochStore",
    "FileJournal",
    "FileSnapshotStore",
    "Follower",
    "Intent",
    "JournalError",
    "JournalStore",
    "Kind",
    "Ledger",
    "LinkState",
    "MemoryArbiter",
    "MemoryEpochStore",
    "MemoryJournal",
    "MemorySnapshotStore",
    "NoStandby",
    "NotActive",
    "NotStandby",
    "Operation",
    "Record",
    "Replicator",
    "Reply",
    "Snapshot",
    "SnapshotStore",
    "StaleEpoch",
    "StandbyLink",
    "StateStore",
    "StateWriter",
    "Transport",
    "Verdict",
]
