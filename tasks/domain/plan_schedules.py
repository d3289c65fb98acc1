"""When each automated stage of a plan runs by itself: from the resolved plan of a session to
RFC 5545 recurrence rules in the stage's own zone (`rcoi serve --plan`).

A stage runs at the start of its plan window and then again at its cadence until the window
ends: every stage is idempotent, so a run that finds nothing new does nothing, and a run that
finds new input (a late МОУО file, a school's protocol) takes it. The exact instant of the
topics is the publish flow's own schedule (flows/publish.py), not this one's. Stages that the
plan has no row for follow the nearest one: verification runs in the scan's window (it waits
for the operators), the upload from the scan window's end for `UPLOAD_WITHOUT_ROW` (the
federal centre's turnaround; the receipt is due at its end)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tasks.domain.plan import ResolvedStage, StageKind

__all__ = [
    "CADENCE",
    "SCHEDULED_STAGES",
    "UPLOAD_WITHOUT_ROW",
    "StageRun",
    "rrule_text",
    "stage_runs",
]

# How often a stage runs again inside its window (the watchdog has its own 15 minutes).
CADENCE: Mapping[str, timedelta] = {
    "collect": timedelta(hours=1),
    "reconcile": timedelta(hours=6),
    "print": timedelta(hours=6),
    "copy": timedelta(hours=1),
    "grade": timedelta(hours=1),
    "scan": timedelta(hours=1),
    "verify": timedelta(hours=24),
    "upload": timedelta(hours=6),
    "inform": timedelta(hours=2),
}
SCHEDULED_STAGES = tuple(CADENCE)
# A deadline without a start («не позднее …»): runs begin this long before it.
LEAD_WITHOUT_START = timedelta(days=7)
# A plan without an upload row (seed 001's): the upload runs, and the federal receipt is due,
# within this long after the scan window ends.
UPLOAD_WITHOUT_ROW = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class StageRun:
    """Runs of one stage of one session: from `start` every `every` until `until` (exclusive),
    in `zone`. `slug` names the schedule in the UI."""

    stage: str
    plan_id: str
    session_id: str
    zone: str
    start: datetime
    until: datetime
    every: timedelta

    @property
    def slug(self) -> str:
        return f"{self.stage}-{self.plan_id}-{self.session_id}"


def _window(stage: ResolvedStage) -> tuple[datetime, datetime] | None:
    end = stage.end
    if end is None:
        return None
    return (stage.start or end - LEAD_WITHOUT_START), end


def stage_runs(plan_id: str, session_id: str, resolved: Sequence[ResolvedStage]) -> list[StageRun]:
    """Every scheduled stage's runs of one session (publish excluded, see the module doc)."""
    windows: dict[str, tuple[datetime, datetime, str]] = {}
    for stage in resolved:
        if stage.stage is None or stage.stage is StageKind.PUBLISH:
            continue
        window = _window(stage)
        if window is None:
            continue
        key = str(stage.stage)
        if key in windows:  # two rows of one stage (e.g. issue and inform): their union
            start, end, _ = windows[key]
            window = (min(start, window[0]), max(end, window[1]))
        windows[key] = (*window, stage.zone)
    scan = windows.get("scan")
    if scan is not None:
        windows.setdefault("verify", scan)
        windows.setdefault("upload", (scan[1], scan[1] + UPLOAD_WITHOUT_ROW, scan[2]))
    return [
        StageRun(key, plan_id, session_id, zone, start, end, CADENCE[key])
        for key, (start, end, zone) in sorted(windows.items(), key=lambda item: item[1][0])
        if key in CADENCE and end > start
    ]


def rrule_text(run: StageRun) -> str:
    """The recurrence as Prefect's RRule schedule takes it: DTSTART and UNTIL as floating
    local times, the schedule's `timezone` naming the zone, the cadence in minutes. (Prefect
    3.8 relabels a UTC UNTIL as local time without converting it, which would end the runs
    hours early east of Greenwich.)"""
    zone = ZoneInfo(run.zone)
    local = run.start.astimezone(zone)
    last = (run.until - timedelta(seconds=1)).astimezone(zone)  # the end is exclusive
    minutes = max(1, int(run.every.total_seconds() // 60))
    return (
        f"DTSTART:{local:%Y%m%dT%H%M%S}\n"
        f"RRULE:FREQ=MINUTELY;INTERVAL={minutes};UNTIL={last:%Y%m%dT%H%M%S}"
    )
