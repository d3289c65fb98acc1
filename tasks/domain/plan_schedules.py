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
    "once_rrule_text",
    "rrule_text",
    "run_count",
    "schedule_text",
    "stage_runs",
    "zone_label",
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


def _frequency(every: timedelta) -> str:
    """FREQ and INTERVAL in the largest whole unit: «FREQ=HOURLY;INTERVAL=6» reads better in
    the UI than 360 minutes."""
    minutes = max(1, int(every.total_seconds() // 60))
    for unit, size in (("DAILY", 1440), ("HOURLY", 60)):
        if minutes % size == 0:
            return f"FREQ={unit};INTERVAL={minutes // size}"
    return f"FREQ=MINUTELY;INTERVAL={minutes}"


def run_count(run: StageRun) -> int:
    """How many runs fit in the window: from `start`, every `every`, strictly before `until`.
    (The regions' zones have no daylight-saving shifts since 2014, so wall-clock and absolute
    steps agree.)"""
    if run.until <= run.start:
        return 0
    return (run.until - run.start - timedelta(microseconds=1)) // run.every + 1


def rrule_text(run: StageRun) -> str:
    """The recurrence as Prefect's RRule schedule takes it and its UI shows it: DTSTART in local
    time with its zone named (TZID), a COUNT of runs rather than an UNTIL (RFC 5545 wants a UTC
    UNTIL with a zoned DTSTART, and Prefect relabels a UTC UNTIL as local time, which ended
    every window hours early east of Greenwich)."""
    local = run.start.astimezone(ZoneInfo(run.zone))
    return (
        f"DTSTART;TZID={run.zone}:{local:%Y%m%dT%H%M%S}\n"
        f"RRULE:{_frequency(run.every)};COUNT={run_count(run)}"
    )


def once_rrule_text(moment: datetime, zone: str) -> str:
    """A one-off schedule: `moment` in `zone`, once, never again (the topics' 09:45)."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"DTSTART;TZID={zone}:{local:%Y%m%dT%H%M%S}\nRRULE:FREQ=DAILY;COUNT=1"


def _every_ru(every: timedelta) -> str:
    hours = every.total_seconds() / 3600
    if hours == 1:
        return "каждый час"
    if hours == 24:
        return "раз в сутки"
    if hours.is_integer():
        return f"каждые {int(hours)} ч"
    return f"каждые {int(every.total_seconds() // 60)} мин"


def zone_label(moment: datetime, zone: str) -> str:
    """«Asia/Novokuznetsk, UTC+07:00» for the offset the zone has at `moment`."""
    offset = moment.astimezone(ZoneInfo(zone)).strftime("%z")
    return f"{zone}, UTC{offset[:3]}:{offset[3:]}"


def schedule_text(run: StageRun) -> str:
    """The runs in Russian, local time with the zone: «с 06.12.2017 10:00 до 12.12.2017 24:00
    каждый час, 158 запусков (Asia/Novokuznetsk, UTC+07:00)»."""
    zone = ZoneInfo(run.zone)
    start = run.start.astimezone(zone)
    until = run.until.astimezone(zone)
    end = (
        f"{until - timedelta(days=1):%d.%m.%Y} 24:00"
        if (until.hour, until.minute) == (0, 0)
        else f"{until:%d.%m.%Y %H:%M}"
    )
    return (
        f"с {start:%d.%m.%Y %H:%M} до {end} {_every_ru(run.every)}, запусков: {run_count(run)} "
        f"({zone_label(run.start, run.zone)})"
    )
