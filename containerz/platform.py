"""The device as gNMI reports it and gNOI System acts on it: its control processors and system.

The model holds facts (roles, readiness, times); :meth:`Platform.leaves` turns them into the
OpenConfig leaves that ``/components`` and ``/system/state`` publish. Changes are announced to
subscribers through :meth:`Platform.changed`, which gNMI STREAM subscriptions wait on.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from containerz import __version__

# An identity from openconfig-platform-types, module-qualified as JSON_IETF wants it.
_PLATFORM_TYPES = "openconfig-platform-types:"

Leaf = tuple[tuple[tuple[str, tuple[tuple[str, str], ...]], ...], object]
"""(path, value): the path a tuple of (element name, sorted key pairs), the value a str, int or bool."""


class Role(enum.Enum):
    PRIMARY = "PRIMARY"
    SECONDARY = "SECONDARY"


class SwitchoverTrigger(enum.Enum):
    USER_INITIATED = "USER_INITIATED"
    SYSTEM_INITIATED = "SYSTEM_INITIATED"


@dataclass
class ControlProcessor:
    name: str
    role: Role
    switchover_ready: bool = False
    boot_time_ns: int = field(default_factory=time.time_ns)
    last_switchover_time_ns: int = 0
    last_switchover_trigger: SwitchoverTrigger | None = None
    up: bool = True


@dataclass
class Platform:
    processors: list[ControlProcessor]
    software_version: str = __version__
    boot_time_ns: int = field(default_factory=time.time_ns)
    clock: Callable[[], int] = time.time_ns
    _changed: asyncio.Condition | None = field(default=None, repr=False)

    @classmethod
    def standalone(cls, name: str) -> Platform:
        """One control processor, always the primary; never switchover-ready (there is no standby)."""
        return cls(processors=[ControlProcessor(name, Role.PRIMARY)])

    def processor(self, name: str) -> ControlProcessor | None:
        return next((cp for cp in self.processors if cp.name == name), None)

    def active(self) -> ControlProcessor:
        return next(cp for cp in self.processors if cp.role is Role.PRIMARY)

    # ------------------------------------------------------------------ change notification

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def announce(self) -> None:
        """Wake the subscribers: some fact has changed."""
        async with self._condition():
            self._condition().notify_all()

    async def changed(self, within_seconds: float) -> None:
        """Wait until :meth:`announce` or ``within_seconds``, whichever comes first."""
        async with self._condition():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._condition().wait(), within_seconds)

    # ------------------------------------------------------------------ leaves

    def leaves(self) -> list[Leaf]:
        now = self.clock()
        system = (("system", ()), ("state", ()))
        out: list[Leaf] = [
            ((*system, ("current-datetime", ())), _rfc3339(now)),
            ((*system, ("boot-time", ())), self.boot_time_ns),
            ((*system, ("up-time", ())), max(now - self.boot_time_ns, 0)),
            ((*system, ("software-version", ())), self.software_version),
        ]
        for cp in self.processors:
            state = (("components", ()), ("component", (("name", cp.name),)), ("state", ()))
            values: list[tuple[str, object]] = [
                ("name", cp.name),
                ("type", f"{_PLATFORM_TYPES}CONTROLLER_CARD"),
                ("redundant-role", cp.role.value),
                ("switchover-ready", cp.switchover_ready),
                ("oper-status", f"{_PLATFORM_TYPES}{'ACTIVE' if cp.up else 'INACTIVE'}"),
                ("software-version", self.software_version),
                ("boot-time", cp.boot_time_ns),
            ]
            if cp.last_switchover_time_ns:
                values.append(("last-switchover-time", cp.last_switchover_time_ns))
            out.extend(((*state, (leaf, ())), value) for leaf, value in values)
            if cp.last_switchover_trigger is not None:
                reason = (*state, ("last-switchover-reason", ()), ("trigger", ()))
                out.append((reason, f"{_PLATFORM_TYPES}{cp.last_switchover_trigger.value}"))
        return out


def _rfc3339(ns: int) -> str:
    moment = datetime.datetime.fromtimestamp(ns / 1e9, tz=datetime.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
