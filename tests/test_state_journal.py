"""The journal on disk: framing, torn-tail repair, corruption refused, snapshots, replay, epochs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from state import (
    Action,
    Change,
    DesiredState,
    Done,
    FileEpochStore,
    FileJournal,
    FileSnapshotStore,
    Intent,
    JournalError,
    Kind,
    MemoryEpochStore,
    MemoryJournal,
    MemorySnapshotStore,
    Record,
    StaleEpoch,
    StateStore,
)


def put(kind: Kind, key: str, **value: object) -> Change:
    return Change(kind, Action.PUT, key, value)


def records(count: int, epoch: int = 1) -> list[Record]:
    """Intent/done pairs putting images img-0, img-1, ..."""
    out: list[Record] = []
    for i in range(count):
        seq = len(out) + 1
        out.append(Record(epoch, seq, Intent(seq, put(Kind.IMAGE, f"img-{i}:latest", id=f"sha256:{i}"))))
        out.append(Record(epoch, seq + 1, Done(seq, ok=True)))
    return out


def segment(directory: Path) -> Path:
    (only,) = sorted(directory.glob("journal-*.log"))
    return only


def test_records_survive_reopening(tmp_path: Path) -> None:
    journal = FileJournal(tmp_path)
    journal.append(records(3))
    journal.close()
    assert list(FileJournal(tmp_path).records()) == records(3)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[:-5], id="last-record-cut-short"),
        pytest.param(lambda data: data[:-1] + bytes([data[-1] ^ 0xFF]), id="last-record-bad-crc"),
        pytest.param(lambda data: data + bytes(4096), id="zero-filled-tail"),
        pytest.param(lambda data: data + b"\x07\x00", id="torn-header"),
    ],
)
def test_a_torn_tail_is_cut_off_and_the_journal_goes_on(tmp_path: Path, damage: Callable[[bytes], bytes]) -> None:
    journal = FileJournal(tmp_path)
    journal.append(records(2))
    journal.close()
    path = segment(tmp_path)
    intact = path.read_bytes()
    path.write_bytes(damage(intact))

    reopened = FileJournal(tmp_path)
    kept = list(reopened.records())
    assert kept == records(2)[: len(kept)]
    assert len(kept) >= 3  # only the last record can be lost, never more
    assert path.stat().st_size <= len(intact)  # the damage is gone from the file
    next_record = Record(1, kept[-1].seq + 1, Done(99, ok=False))
    reopened.append([next_record])
    reopened.close()
    assert list(FileJournal(tmp_path).records()) == [*kept, next_record]


def test_a_corrupt_middle_is_refused_naming_file_and_offset(tmp_path: Path) -> None:
    journal = FileJournal(tmp_path)
    journal.append(records(2))
    journal.close()
    path = segment(tmp_path)
    data = bytearray(path.read_bytes())
    data[20] ^= 0xFF  # inside the first record's payload
    path.write_bytes(bytes(data))
    with pytest.raises(JournalError, match=rf"{path}: record at offset 0 fails its CRC check"):
        FileJournal(tmp_path)


def test_desired_state_folds_only_completed_changes() -> None:
    state = DesiredState()
    for record in records(1):
        state.apply(record)
    state.apply(Record(1, 3, Intent(3, put(Kind.CONTAINER, "web", desired="RUNNING"))))
    state.apply(Record(1, 4, Intent(4, put(Kind.VOLUME, "data"))))
    state.apply(Record(1, 5, Done(4, ok=False)))
    assert dict(state.of(Kind.IMAGE)) == {"img-0:latest": {"id": "sha256:0"}}
    assert dict(state.of(Kind.CONTAINER)) == {}
    assert dict(state.of(Kind.VOLUME)) == {}
    assert state.open_intents == {3: put(Kind.CONTAINER, "web", desired="RUNNING")}


def test_replay_is_idempotent() -> None:
    once, twice = DesiredState(), DesiredState()
    for record in records(3):
        once.apply(record)
    for record in records(3) + records(3):
        twice.apply(record)
    assert once == twice


def test_a_gap_or_an_older_epoch_is_refused() -> None:
    state = DesiredState()
    state.apply(Record(2, 1, Done(7, ok=False)))
    with pytest.raises(JournalError, match="records are missing"):
        state.apply(Record(2, 3, Done(8, ok=False)))
    with pytest.raises(JournalError, match="older than 2"):
        state.apply(Record(1, 2, Done(8, ok=False)))


def file_store(directory: Path, snapshot_every: int = 1000) -> StateStore:
    return StateStore(
        FileJournal(directory / "journal"),
        FileSnapshotStore(directory),
        FileEpochStore(directory),
        snapshot_every=snapshot_every,
    )


async def test_snapshots_compact_the_journal_and_restore_the_same_state(tmp_path: Path) -> None:
    store = file_store(tmp_path, snapshot_every=4)
    for i in range(7):
        async with store.change(put(Kind.VOLUME, f"vol-{i}", driver="local")):
            pass
    async with store.change(Change(Kind.VOLUME, Action.REMOVE, "vol-0")):
        pass
    expected = store.desired
    store.close()
    assert len(list(FileJournal(tmp_path / "journal").records())) < 4  # the rest is in the snapshot
    restored = file_store(tmp_path)
    assert restored.desired == expected
    assert sorted(restored.desired.of(Kind.VOLUME)) == [f"vol-{i}" for i in range(1, 7)]


async def test_an_operation_cut_off_leaves_an_open_intent(tmp_path: Path) -> None:
    store = file_store(tmp_path)
    await store.begin(put(Kind.CONTAINER, "half-started", desired="RUNNING"))
    store.close()  # the process dies here
    restored = file_store(tmp_path)
    assert list(restored.desired.open_intents.values()) == [put(Kind.CONTAINER, "half-started", desired="RUNNING")]
    assert dict(restored.desired.of(Kind.CONTAINER)) == {}


async def test_a_failed_or_cancelled_operation_records_its_failure() -> None:
    store = StateStore(MemoryJournal(), MemorySnapshotStore(), MemoryEpochStore())
    with pytest.raises(RuntimeError):
        async with store.change(put(Kind.IMAGE, "broken:1")):
            raise RuntimeError("the engine refused")

    started = asyncio.Event()

    async def slow_start() -> None:
        async with store.change(put(Kind.CONTAINER, "slow")):
            started.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(slow_start())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert store.desired.open_intents == {}
    assert dict(store.desired.of(Kind.IMAGE)) == {}
    assert dict(store.desired.of(Kind.CONTAINER)) == {}


def test_the_epoch_only_moves_forward_and_persists(tmp_path: Path) -> None:
    epochs = FileEpochStore(tmp_path)
    assert epochs.current() == 0
    epochs.advance(3)
    with pytest.raises(StaleEpoch):
        epochs.advance(2)
    assert FileEpochStore(tmp_path).current() == 3


async def test_facts_learned_while_making_a_change_are_recorded_with_it(tmp_path: Path) -> None:
    store = file_store(tmp_path)
    async with store.change(put(Kind.IMAGE, "app:1", name="app", tag="1")) as operation:
        operation.facts["id"] = "sha256:abc"
    with pytest.raises(RuntimeError):
        async with store.change(put(Kind.IMAGE, "app:2", name="app", tag="2")) as operation:
            operation.facts["id"] = "sha256:def"
            raise RuntimeError("the load failed after all")
    store.close()
    restored = file_store(tmp_path)
    assert dict(restored.desired.of(Kind.IMAGE)) == {"app:1": {"name": "app", "tag": "1", "id": "sha256:abc"}}


def test_a_done_record_without_facts_decodes_as_before() -> None:
    old = b'{"done":4,"epoch":1,"ok":true,"seq":5}'
    assert Record.decode(old) == Record(1, 5, Done(4, ok=True))
    assert Record(1, 5, Done(4, ok=True)).encode() == old
    with_facts = Record(1, 5, Done(4, ok=True, facts={"id": "sha256:abc"}))
    assert Record.decode(with_facts.encode()) == with_facts
