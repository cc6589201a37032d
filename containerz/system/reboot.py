"""Reboot bookkeeping: one pending reboot at most, its countdown, and the history a reboot leaves.

The history (how many reboots, the last one's reason and outcome) is kept in a small file so
that RebootStatus after the restart still tells what happened.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import structlog

from containerz import errors
from protos.gnoi.system import system_pb2 as pb
from state.files import write_atomically

log = structlog.get_logger(__name__)

# Even a reboot "now" waits this long, so that the Reboot reply reaches the client first.
_REPLY_GRACE_SECONDS = 0.3


@dataclass
class RebootRecord:
    count: int = 0
    reason: str = ""
    method: pb.RebootMethod = pb.UNKNOWN
    when_ns: int = 0


class RebootHistory:
    def __init__(self, path: Path) -> None:
        self._path = path

    def load(self) -> RebootRecord:
        if not self._path.exists():
            return RebootRecord()
        try:
            return RebootRecord(**json.loads(self._path.read_text()))
        except (ValueError, TypeError) as exc:
            log.warning("reboot.history_unreadable", file=str(self._path), reason=str(exc))
            return RebootRecord()

    def save(self, record: RebootRecord) -> None:
        write_atomically(self._path, json.dumps(asdict(record)).encode())


@dataclass
class _Pending:
    method: pb.RebootMethod
    reason: str
    when_ns: int
    task: asyncio.Task[None]


class RebootScheduler:
    def __init__(self, history: RebootHistory, reboot: Callable[[], Awaitable[None]]) -> None:
        self._history = history
        self._reboot = reboot
        self._pending: _Pending | None = None

    def schedule(self, request: pb.RebootRequest) -> None:
        if request.method == pb.UNKNOWN:
            raise errors.InvalidArgument("set the reboot method; this device supports COLD")
        if request.method != pb.COLD:
            raise errors.InvalidArgument(
                f"reboot method {pb.RebootMethod.Name(request.method)} is not supported; use COLD"
            )
        if self._pending is not None:
            raise errors.FailedPrecondition(
                f"a reboot is already pending ({self._pending.reason!r}); CancelReboot it first"
            )
        when_ns = time.time_ns() + request.delay
        task = asyncio.create_task(self._run(request.delay / 1e9))
        self._pending = _Pending(request.method, request.message, when_ns, task)
        log.info("reboot.scheduled", method="COLD", delay_ns=request.delay, reason=request.message)

    async def _run(self, delay_seconds: float) -> None:
        await asyncio.sleep(max(delay_seconds, _REPLY_GRACE_SECONDS))
        pending = self._pending
        assert pending is not None
        previous = self._history.load()
        self._history.save(RebootRecord(previous.count + 1, pending.reason, pending.method, time.time_ns()))
        log.info("reboot.now", reason=pending.reason)
        await self._reboot()

    def cancel(self, message: str) -> None:
        """Cancel the pending reboot; with none pending this is not an error."""
        if self._pending is not None and not self._pending.task.done():
            self._pending.task.cancel()
            log.info("reboot.cancelled", reason=self._pending.reason, message=message)
        self._pending = None

    def status(self) -> pb.RebootStatusResponse:
        pending = self._pending
        if pending is not None:
            return pb.RebootStatusResponse(
                active=True,
                wait=max(pending.when_ns - time.time_ns(), 0),
                when=pending.when_ns,
                reason=pending.reason,
                count=self._history.load().count,
                method=pending.method,
            )
        last = self._history.load()
        status = pb.RebootStatus(status=pb.RebootStatus.STATUS_SUCCESS) if last.count else pb.RebootStatus()
        return pb.RebootStatusResponse(
            active=False, when=last.when_ns, reason=last.reason, count=last.count, method=last.method, status=status
        )
