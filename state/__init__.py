"""Desired state for containerz: a journal of intents and outcomes, snapshots and epochs.

The pieces are narrow and replaceable, as in hashicorp/raft: :class:`JournalStore`,
:class:`SnapshotStore`, :class:`EpochStore` and :class:`Replicator`, each with a file (or
network) implementation and an in-memory one for tests. :class:`StateStore` puts them together.
"""

from state.desired import DesiredState
from state.epoch import EpochStore, FileEpochStore, MemoryEpochStore, StaleEpoch
from state.journal import FileJournal, JournalStore, MemoryJournal
from state.records import Action, Change, Done, Intent, JournalError, Kind, Record
from state.snapshot import FileSnapshotStore, MemorySnapshotStore, Snapshot, SnapshotStore
from state.store import NoStandby, Replicator, StateStore

__all__ = [
    "Action",
    "Change",
    "DesiredState",
    "Done",
    "EpochStore",
    "FileEpochStore",
    "FileJournal",
    "FileSnapshotStore",
    "Intent",
    "JournalError",
    "JournalStore",
    "Kind",
    "MemoryEpochStore",
    "MemoryJournal",
    "MemorySnapshotStore",
    "NoStandby",
    "Record",
    "Replicator",
    "Snapshot",
    "SnapshotStore",
    "StaleEpoch",
    "StateStore",
]
