"""Replication to the standby and mastership, with in-memory transports and real file locks."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest

from state import (
    Action,
    Change,
    Fenced,
    FileArbiter,
    FileEpochStore,
    FileJournal,
    FileSnapshotStore,
    Follower,
    Intent,
    Kind,
    LinkState,
    MemoryEpochStore,
    MemoryJournal,
    MemorySnapshotStore,
    Record,
    Reply,
    StandbyLink,
    StateStore,
)
from state.snapshot import Snapshot


class Wire:
    """A replication link to an in-process follower that can be cut."""

    def __init__(self, follower: Follower) -> None:
        self.follower = follower
        self.up = True

    def _check(self) -> None:
        if not self.up:
            raise ConnectionError("link down")

    async def append(self, epoch: int, records: Sequence[Record]) -> Reply:
        self._check()
        return self.follower.append(epoch, records)

    async def install(self, epoch: int, snapshot: Snapshot) -> Reply:
        self._check()
        return self.follower.install(epoch, snapshot)


def file_follower(directory: Path) -> Follower:
    return Follower(FileJournal(directory / "journal"), FileSnapshotStore(directory), FileEpochStore(directory))


def active_pair(follower: Follower, epoch: int = 1) -> tuple[StateStore, StandbyLink, Wire]:
    epochs = MemoryEpochStore(epoch)
    wire = Wire(follower)
    link = StandbyLink(wire, epochs.current)
    store = StateStore(MemoryJournal(), MemorySnapshotStore(), epochs, replicator=link)
    return store, link, wire


def volume(name: str) -> Change:
    return Change(Kind.VOLUME, Action.PUT, name, {"driver": "local"})


async def make(store: StateStore, change: Change) -> None:
    async with store.change(change):
        pass


async def test_an_acknowledged_change_is_on_the_standbys_disk(tmp_path: Path) -> None:
    follower = file_follower(tmp_path)
    store, link, _ = active_pair(follower)
    assert await link.sync(store)
    await make(store, volume("data"))
    # What the standby would restore from its own disk, were it to take over now:
    assert dict(file_follower(tmp_path).desired.of(Kind.VOLUME)) == {"data": {"driver": "local"}}
    assert file_follower(tmp_path).desired == store.desired


async def test_with_the_standby_unreachable_the_active_serves_degraded_and_resyncs_later(tmp_path: Path) -> None:
    follower = file_follower(tmp_path)
    store, link, wire = active_pair(follower)
    assert await link.sync(store)
    wire.up = False
    await make(store, volume("while-cut"))
    assert link.state is LinkState.JOINING  # reported: not switchover-ready
    assert "while-cut" not in follower.desired.of(Kind.VOLUME)
    assert not await link.sync(store)
    wire.up = True
    assert await link.sync(store)
    assert follower.desired == store.desired
    await make(store, volume("after"))
    assert file_follower(tmp_path).desired == store.desired


async def test_a_deposed_active_cannot_write_through_the_standby(tmp_path: Path) -> None:
    follower = file_follower(tmp_path)
    newer, newer_link, _ = active_pair(follower, epoch=5)
    assert await newer_link.sync(newer)
    old, old_link, _ = active_pair(follower, epoch=4)
    old_link.state = LinkState.IN_SYNC  # it still believes the standby follows it
    with pytest.raises(Fenced):
        await make(old, volume("split-brain"))
    with pytest.raises(Fenced):  # and a bulk sync is refused just the same
        await old_link.sync(old)
    assert "split-brain" not in file_follower(tmp_path).desired.of(Kind.VOLUME)


async def test_a_standby_out_of_turn_is_bulk_synced_and_its_own_history_discarded(tmp_path: Path) -> None:
    follower = file_follower(tmp_path)
    # The standby once had records the new active never saw (an old active's, never acknowledged).
    follower.append(1, [Record(1, 1, Intent(1, volume("ghost")))])
    store, link, _ = active_pair(follower, epoch=2)
    for name in ("a", "b", "c"):
        await make(store, volume(name))
    assert await link.sync(store)
    restarted = file_follower(tmp_path)
    assert restarted.desired == store.desired
    assert restarted.desired.open_intents == {}


async def test_a_standby_restarted_in_the_middle_of_a_bulk_sync_catches_up(tmp_path: Path) -> None:
    follower = file_follower(tmp_path)
    store, link, _ = active_pair(follower)
    await make(store, volume("before"))
    assert await link.sync(store)
    # A crash between emptying the journal and writing the new snapshot:
    follower._journal.reset(999)
    restarted = file_follower(tmp_path)
    assert restarted.desired.seq <= store.desired.seq  # older, never half of each
    assert await StandbyLink(Wire(restarted), lambda: 1).sync(store)
    assert file_follower(tmp_path).desired == store.desired


async def test_mastership_is_one_lock_with_an_epoch_that_grows(tmp_path: Path) -> None:
    first, second = FileArbiter(tmp_path / "arbiter"), FileArbiter(tmp_path / "arbiter")
    assert await first.acquire("Supervisor1") == 1
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(second.acquire("Supervisor2"), 0.3)
    first.release()
    assert await second.acquire("Supervisor2") == 2
    assert second.holder() == ("Supervisor2", 2)
    second.release()


async def test_a_killed_holder_releases_mastership(tmp_path: Path) -> None:
    lock = tmp_path / "arbiter"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import asyncio, sys, time
                sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
                from state import FileArbiter
                arbiter = FileArbiter(__import__("pathlib").Path({str(lock)!r}))
                print(asyncio.run(arbiter.acquire("Supervisor1")), flush=True)
                time.sleep(600)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "1"
    standby = FileArbiter(lock)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(standby.acquire("Supervisor2"), 0.3)
    holder.kill()  # kill -9: no release, the kernel drops the lock
    holder.wait()
    assert await asyncio.wait_for(standby.acquire("Supervisor2"), 5) == 2
    standby.release()


async def test_the_standby_compacts_its_journal_too(tmp_path: Path) -> None:
    follower = Follower(
        FileJournal(tmp_path / "journal"), FileSnapshotStore(tmp_path), FileEpochStore(tmp_path), snapshot_every=4
    )
    store, link, _ = active_pair(follower)
    assert await link.sync(store)
    for i in range(6):
        await make(store, volume(f"v{i}"))
    assert len(list(FileJournal(tmp_path / "journal").records())) < 4
    assert file_follower(tmp_path).desired == store.desired
