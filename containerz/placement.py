"""Where a container runs on a device with two control processors (StartContainer's ``location``).

L_PRIMARY runs on the active control processor, L_BACKUP on the standby, L_ALL on both. With
no standby in service (a single card, or the standby down or out of sync), everything runs on
the active one, and the container's labels say why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from containerz.model import LOCATION_ACTUAL_LABEL, LOCATION_INTENDED_LABEL, LOCATION_REASON_LABEL, Location


@dataclass(frozen=True)
class Placement:
    runs_here: bool
    actual: Location  # where it runs: the role of the control processor it is on
    reason: str = ""

    def labels(self, intended: Location) -> dict[str, str]:
        return {
            LOCATION_INTENDED_LABEL: intended.value,
            LOCATION_ACTUAL_LABEL: self.actual.value,
            LOCATION_REASON_LABEL: self.reason,
        }


Placer = Callable[[Location], Placement]


def single_card(location: Location) -> Placement:
    reason = "" if location is Location.PRIMARY else "single control processor: running on the active one"
    return Placement(True, Location.PRIMARY, reason)


def on_active(standby_in_service: bool) -> Placer:
    def place(location: Location) -> Placement:
        if location is Location.BACKUP and standby_in_service:
            return Placement(False, Location.BACKUP)
        if location is Location.BACKUP:
            return Placement(True, Location.PRIMARY, "no standby in service: running on the active one")
        return Placement(True, Location.PRIMARY)

    return place


def on_standby(location: Location) -> Placement:
    return Placement(location is not Location.PRIMARY, Location.BACKUP)
